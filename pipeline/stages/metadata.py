"""``fetch_metadata``: make sure each job's channel has fresh metadata, snapshot it, finish the jobs.

Sent only after the run's resolution barrier, in batches of ≤ 50 distinct channels: one
``channels.list`` call per batch, none for channels fetched within the freshness window.
"""

from __future__ import annotations

from collections.abc import Sequence

from models import TERMINAL_STATUSES, Confidence, JobStatus, ResolutionMethod, RunStatus
from pipeline import store
from pipeline.context import Context
from pipeline.messages import Send
from pipeline.stages.advance import Progress, advance, fresh_since
from pipeline.stages.outcome import Outcome, Resolved, apply_outcome, priority
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.records import ChannelRecord

IDS_PER_CALL = 50  # channels.list?id= takes at most 50 ids


def fetch_metadata_jobs(ctx: Context, run_id: str, job_ids: Sequence[int]) -> list[Send]:
    """Fetch what is stale (≤ 50 ids a call), save channels and snapshots, end the jobs, advance the run."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        loaded = store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids)
        jobs = [j for j in loaded if j.status == JobStatus.FETCHING and j.channel_id]
        # Marked again in Redis: a delivery killed after its commit did not get to count them.
        settled = {j.id: j.status for j in loaded if j.status in TERMINAL_STATUSES}
        channel_ids = sorted({j.channel_id for j in jobs if j.channel_id})
        fresh = store.fresh_channel_ids(session, channel_ids=channel_ids, fresh_since=fresh_since(ctx, run))
    stale = [cid for cid in channel_ids if cid not in fresh]
    found: dict[str, ChannelRecord] = {}
    failed: dict[str, tuple[str, str]] = {}  # channel -> (error code, message)
    unasked = set(stale)
    outcome = Outcome()
    try:
        for start in range(0, len(stale), IDS_PER_CALL):
            chunk = stale[start : start + IDS_PER_CALL]
            try:
                found.update(ctx.youtube.channels_by_ids(chunk, run_id=run_id, priority=priority(run)))
            except PermanentYouTubeError as exc:
                failed.update({cid: (exc.error_code, str(exc)) for cid in chunk})
            unasked.difference_update(chunk)
    except QuotaExhausted as exc:
        outcome.wait([j.id for j in jobs if j.channel_id in unasked], exc)
    except NoApiKeys as exc:
        outcome.fail([j.id for j in jobs if j.channel_id in unasked], "no_api_keys", str(exc))
    outcome.channels.update(found)
    for job in jobs:
        cid = job.channel_id or ""
        if job.id in outcome.waits or job.id in outcome.failed:
            continue
        if cid in failed:
            outcome.fail([job.id], *failed[cid])
        elif cid in fresh or cid in found:
            method = job.method or ResolutionMethod.CHANNEL_ID
            outcome.done[job.id] = Resolved(cid, method, Confidence(job.confidence or Confidence.CERTAIN))
        else:
            outcome.fail([job.id], "not_found", f"channel {cid} does not exist or was terminated")
    apply_outcome(ctx, run, outcome, from_statuses=[JobStatus.FETCHING], record_resolutions=False)
    progress = Progress(
        terminal={**settled, **outcome.terminal()}, waiting=outcome.waiting, redelivered=bool(settled)
    )
    return advance(ctx, run_id, progress)
