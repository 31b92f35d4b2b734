"""``finalize``: the run's summary and its one ``run_finished`` event; ``cancel`` ends a run the same way.

Ending a run is a guarded transition (``UPDATE … WHERE status IN ('PENDING','RUNNING')``): whatever
number of callers race, one wins, and only the winner publishes ``run_finished``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from models import OPEN_STATUSES, JobStatus, Run, RunStatus
from pipeline import progress as live_progress
from pipeline import store, videostore
from pipeline.context import Context
from pipeline.messages import Send
from pipeline.stages.advance import Progress, advance, video_work_done
from pipeline.summary import build_summary

log = logging.getLogger(__name__)


def finalize_run(ctx: Context, run_id: str) -> list[Send]:
    """Move the run to FINISHED once all its jobs are terminal; only the winner publishes run_finished."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        open_jobs = store.count_open_jobs(session, run_id=run_id)
    if open_jobs:
        # Redis and the database disagree (a lost key, a rebuilt counter): the database wins and
        # reconcile will finalize the run when its jobs are really done.
        log.warning("finalize %s skipped: %d jobs still open", run_id, open_jobs)
        return []
    if not video_work_done(ctx, run):
        log.warning("finalize %s skipped: its video part is not done", run_id)
        return []
    end_run(ctx, run_id, RunStatus.FINISHED)
    return []


def cancel_open_jobs(ctx: Context, run_id: str) -> bool:
    """Cancel a run: its open jobs become CANCELLED (in-flight ones end at their next guarded write) and
    the run moves to CANCELLED once, publishing run_finished. False when it had already ended."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            return False
        open_ids = [j.id for j in store.job_refs(session, run_id=run_id, statuses=OPEN_STATUSES)]
        store.set_jobs_status(
            session,
            job_ids=open_ids,
            status=JobStatus.CANCELLED,
            from_statuses=OPEN_STATUSES,
            now=ctx.now(),
            error_code="cancelled",
            error_message="the run was cancelled",
        )
        videostore.cancel_open_video_tasks(session, run_id=run_id, now=ctx.now())
    # Counted like any other ending, so Redis agrees; the finalize it may ask for finds the run ended.
    advance(ctx, run_id, Progress(terminal=dict.fromkeys(open_ids, JobStatus.CANCELLED)))
    return end_run(ctx, run_id, RunStatus.CANCELLED)


def end_run(ctx: Context, run_id: str, status: RunStatus) -> bool:
    """The guarded transition to FINISHED or CANCELLED with the summary; True for the one caller that won."""
    now = ctx.now()
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None:
            return False
        summary = build_summary(session, run, now=now, recent_default=ctx.settings.recent_videos)
        won = store.end_run(session, run_id=run_id, status=status, summary=summary, now=now)
    if won:
        publish_finished(ctx, run_id)
    return won


def publish_finished(ctx: Context, run_id: str) -> None:
    """Publish the run's ``run_finished`` event and record that it went out (reconcile resends it if not)."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
    if run is None:
        return
    ctx.events.publish(finished_event(run))
    with ctx.session() as session:
        store.mark_event_sent(session, run_id=run_id, now=ctx.now())
    live_progress.publish_finished(ctx, run_id)  # the live stream's last event (the HTTP API relays it)


def finished_event(run: Run) -> dict[str, Any]:
    """The ``run_finished`` message body (documented in the README)."""
    summary = run.summary or {}
    return {
        "event": "run_finished",
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:run_finished:{run.id}")),
        "run_id": run.id,
        "analysis_id": run.sent_id("analysis_id"),
        "owner_id": run.sent_id("owner_id"),
        "status": run.status,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "total_inputs": run.total_inputs,
        "total_jobs": run.total_jobs,
        "counts_by_status": summary.get("counts_by_status", {}),
        "errors_by_code": summary.get("errors_by_code", {}),
        "quota_units": summary.get("quota_units", {}),
        # Per-channel figures, recent videos included (derived ones labelled as computed by ytcollect).
        "channels_total": summary.get("channels_total", 0),
        "channels": summary.get("channels", []),
        "videos": summary.get("videos"),
        "error": run.error,
    }
