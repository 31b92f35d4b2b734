"""``fetch_metadata``: make sure each job's channel has fresh metadata, snapshot it, finish the jobs.

Sent only after the run's resolution barrier, in batches of ≤ 50 distinct channels: one
``channels.list`` call per batch, none for channels fetched within the freshness window.
"""

from __future__ import annotations

from collections.abc import Sequence

from models import TERMINAL_STATUSES, Confidence, JobStatus, ResolutionMethod, RunStatus
from pipeline import misses, store
from pipeline.context import Context
from pipeline.inputs import InputKind
from pipeline.messages import Send
from pipeline.stages.advance import Progress, advance, fresh_since
from pipeline.stages.outcome import Outcome, Resolved, apply_outcome, priority
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.records import ChannelRecord

IDS_PER_CALL = 50  # channels.list?id= takes at most 50 ids


def _remember_missing_channels(ctx: Context, channel_ids: Sequence[str]) -> None:
    """Channel ids no call returned (terminated, or never were), for the negative cache."""
    if not channel_ids or ctx.settings.negative_cache_hours <= 0:
        return
    found_nothing = [
        misses.Miss(
            store.dedupe_key(InputKind.CHANNEL_ID, cid),
            str(InputKind.CHANNEL_ID),
            cid,
            "not_found",
            f"channel {cid} does not exist or was terminated",
        )
        for cid in channel_ids
    ]
    with ctx.session() as session:
        misses.remember(session, found_nothing, now=ctx.now())


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
        hours = ctx.settings.negative_cache_hours
        keys = {store.dedupe_key(InputKind.CHANNEL_ID, cid): cid for cid in channel_ids if cid not in fresh}
        remembered = (
            misses.fresh(session, keys, now=ctx.now(), hours=hours) if misses.applies(run, hours) else {}
        )
    # A channel id that came back from no call within NEGATIVE_CACHE_HOURS is not asked for again.
    failed: dict[str, tuple[str, str]] = {  # channel -> (error code, message)
        keys[key]: (miss.error_code, misses.said_again(miss)) for key, miss in remembered.items()
    }
    stale = [cid for cid in channel_ids if cid not in fresh and cid not in failed]
    found: dict[str, ChannelRecord] = {}
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
    apply_outcome(ctx, run, outcome, from_statuses=[JobStatus.FETCHING])
    _remember_missing_channels(
        ctx, [cid for cid in stale if cid not in found and cid not in failed and cid not in unasked]
    )
    progress = Progress(
        terminal={**settled, **outcome.terminal()}, waiting=outcome.waiting, redelivered=bool(settled)
    )
    return advance(ctx, run_id, progress)
