"""A stage message ran out of retries: its open jobs fail *and are counted*, so the run still finishes."""

from __future__ import annotations

from collections.abc import Iterable

from models import OPEN_STATUSES, JobStatus, VideoTaskStatus
from pipeline import store, videostore
from pipeline.context import Context
from pipeline.messages import Send
from pipeline.stages.advance import RESOLUTION_STATES, Progress, advance


def fail_exhausted(ctx: Context, run_id: str, job_ids: Iterable[int], reason: str) -> list[Send]:
    """Fail the message's open jobs with ``retries_exhausted`` and let the run advance past them."""
    with ctx.session() as session:
        jobs = [
            j for j in store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids) if j.status in OPEN_STATUSES
        ]
        # Read before the update, which also rewrites these loaded rows' status to FAILED: a resolve
        # that gave up must still open the resolution barrier, or the run's other jobs wait for ever.
        resolving = [j.id for j in jobs if j.status in RESOLUTION_STATES]
        store.set_jobs_status(
            session,
            job_ids=[j.id for j in jobs],
            status=JobStatus.FAILED,
            from_statuses=OPEN_STATUSES,
            now=ctx.now(),
            error_code="retries_exhausted",
            error_message=reason[:1000],
        )
    # Only jobs still in the resolution phase count toward the resolution barrier.
    progress = Progress(
        terminal=dict.fromkeys((j.id for j in jobs), JobStatus.FAILED), left_resolution=resolving or None
    )
    return advance(ctx, run_id, progress)


def fail_exhausted_videos(
    ctx: Context,
    run_id: str,
    *,
    channel_ids: Iterable[str] = (),
    batch_nos: Iterable[int] = (),
    reason: str,
) -> list[Send]:
    """A video message ran out of retries: its open checks or batches fail, and the run moves on."""
    now = ctx.now()
    values = {
        "status": VideoTaskStatus.FAILED,
        "error_code": "retries_exhausted",
        "error_message": reason[:1000],
    }
    with ctx.session() as session:
        for channel_id in channel_ids:
            videostore.settle_check(session, run_id=run_id, channel_id=channel_id, now=now, **values)
        for batch_no in batch_nos:
            videostore.settle_batch(session, run_id=run_id, batch_no=batch_no, now=now, **values)
    return advance(ctx, run_id, Progress(uploads_checked=True))
