"""Periodic upkeep: reconcile runs with the database, refresh stale channels, re-resolve old inputs, purge.

Each function is idempotent and only fans out (it returns messages or starts runs), so the scheduler
firing twice, late, or at start-up does no harm. The actors in ``actors/scheduled.py`` call these on
periodiq's schedule; ``ytcollect maintenance ...`` runs each once by hand.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models import Job, JobStatus, Run, RunKind, RunStatus, VideoTaskStatus
from pipeline import messages, misses, store, videostore
from pipeline.context import Context
from pipeline.discovery import reconcile_cycles
from pipeline.failures import count_failure
from pipeline.inputs import canonical_url
from pipeline.messages import Send
from pipeline.stages import (
    RunRequest,
    dispatch_metadata,
    publish_finished,
    record_run,
    resolve_messages,
    resume_from_database,
    upload_messages,
)
from pipeline.videos import purge_video_data
from pipeline.youtube.quota import DEFAULT, VIDEO_STATS

log = logging.getLogger(__name__)

EVENT_GRACE_SECONDS = 60  # a finalize winner that died before publishing gets this long to finish


@dataclass
class ReconcileReport:
    rebuilt: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    renormalized: list[str] = field(default_factory=list)
    resent_jobs: int = 0
    resumed_from_quota: int = 0
    events_republished: list[str] = field(default_factory=list)
    discovery: dict[str, Any] = field(default_factory=dict)  # what reconcile_cycles did, when anything
    failed: list[str] = field(default_factory=list)  # runs whose reconcile raised (logged, counted)
    sends: list[Send] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "sends"} | {"messages": len(self.sends)}


def reconcile(ctx: Context, *, stuck_after_seconds: int | None = None) -> ReconcileReport:
    """Make Redis agree with the database and unstick every open run. The database is the truth."""
    now = ctx.now()
    stuck_before = now - timedelta(
        seconds=stuck_after_seconds
        if stuck_after_seconds is not None
        else ctx.settings.reconcile_stuck_after_seconds
    )
    report = ReconcileReport()
    with ctx.session() as session:
        runs = store.open_runs(session)
    for run in runs:
        if run.status == RunStatus.PENDING:
            if run.created_at < stuck_before:
                report.renormalized.append(run.id)
                report.sends.append(messages.normalize(run.id))
            continue
        # One run's trouble (options no longer valid, a row the code cannot read) must not stop the
        # rebuild, resends and quota resumes of every other run, tick after tick.
        sends = len(report.sends)
        try:
            _reconcile_running(ctx, run, stuck_before, report)
        except Exception:
            del report.sends[sends:]
            report.failed.append(run.id)
            count_failure(ctx, "reconcile", f"run {run.id}")
    with ctx.session() as session:
        unsent = store.finished_runs_without_event(
            session, finished_before=now - timedelta(seconds=EVENT_GRACE_SECONDS)
        )
    for run in unsent:
        try:
            publish_finished(ctx, run.id)
        except Exception:
            report.failed.append(run.id)
            count_failure(ctx, "reconcile", f"run_finished of run {run.id}")
            continue
        report.events_republished.append(run.id)
    # Discovery cycles the same way: parked ones back after the quota day turns, stuck ones resent,
    # lost discovery_finished events published.
    cycles = reconcile_cycles(ctx, stuck_after_seconds=stuck_after_seconds)
    report.discovery = {k: v for k, v in cycles.as_dict().items() if v}
    report.sends.extend(cycles.sends)
    return report


def resume_runs(ctx: Context, runs: list[Run]) -> ReconcileReport:
    """Carry on runs nobody works on (their process ended): every open job and task is sent again now.

    The embedded mode's messages live in the process that sent them, so a run whose process ended
    (Ctrl-C, a Python script that only started it, a maintenance command) has nothing in flight:
    unlike ``reconcile`` this does not wait for work to look stuck. Redelivery is safe, as ever.
    """
    report = ReconcileReport()
    everything_before = ctx.now() + timedelta(seconds=1)
    for run in runs:
        if run.status == RunStatus.PENDING:
            report.renormalized.append(run.id)
            report.sends.append(messages.normalize(run.id))
        elif run.status == RunStatus.RUNNING:
            _reconcile_running(ctx, run, everything_before, report)
    return report


def _reconcile_running(ctx: Context, run: Run, stuck_before: datetime, report: ReconcileReport) -> None:
    now = ctx.now()
    run_id = run.id
    with ctx.session() as session:
        terminal, open_ids, unresolved, waiting = store.terminal_and_open_jobs(session, run_id=run_id)
    if ctx.completion.live(run_id) is None:
        ctx.completion.rebuild(
            run_id, terminal=terminal, open_job_ids=open_ids, unresolved=unresolved, waiting=waiting
        )
        report.rebuilt.append(run_id)

    # Jobs parked for quota whose Pacific day has turned go back to the stage they were waiting for.
    with ctx.session() as session:
        due = store.waiting_jobs_due(session, run_id=run_id, now=now)
        to_resolve = [j for j in due if j.channel_id is None]
        to_fetch = [j for j in due if j.channel_id is not None]
        # Both groups locked at once, in id order, like every transaction writing several jobs.
        store.lock_jobs(session, job_ids=[j.id for j in due], statuses=[JobStatus.WAITING_QUOTA])
        for status, group in ((JobStatus.PENDING, to_resolve), (JobStatus.FETCHING, to_fetch)):
            store.set_jobs_status(
                session,
                job_ids=[j.id for j in group],
                status=status,
                from_statuses=[JobStatus.WAITING_QUOTA],
                now=now,
                waiting_until=None,
                error_code=None,  # the bucket it waited for has refilled
                error_message=None,
            )
        if due and len(due) == len(waiting):
            store.set_run_waiting(session, run_id=run_id, until=None)
    with ctx.session() as session:  # a transaction of its own: its jobs are locked in one id order too
        stuck = store.stuck_jobs(session, run_id=run_id, updated_before=stuck_before)
        store.lock_jobs(session, job_ids=[j.id for j in stuck], statuses={j.status for j in stuck})
        for status in (JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING):
            # Touched, so the next tick does not send them again straight away.
            store.set_jobs_status(
                session,
                job_ids=[j.id for j in stuck if j.status == status],
                status=status,
                from_statuses=[status],
                now=now,
            )
    if due:
        ctx.completion.set_waiting(run_id, [j.id for j in due], False)
        report.resumed_from_quota += len(due)

    to_resend: list[Job] = to_resolve + [j for j in stuck if j.channel_id is None]
    fetch_ids = [j.id for j in to_fetch]
    if run.metadata_dispatched_at is not None or unresolved == 0:
        fetch_ids += [j.id for j in stuck if j.status == JobStatus.FETCHING]
    report.resent_jobs += len(to_resend) + len(fetch_ids)
    report.sends.extend(resolve_messages(ctx, run_id, to_resend))
    if fetch_ids:
        report.sends.extend(dispatch_metadata(ctx, run_id, fetch_ids))
        return
    if _resend_video_tasks(ctx, run, stuck_before, report):
        return
    resumed = resume_from_database(ctx, run)  # finalize a run whose jobs are all done, or open its barrier
    if resumed and not open_ids:
        report.finalized.append(run_id)
    report.sends.extend(resumed)


def _resend_video_tasks(ctx: Context, run: Run, stuck_before: datetime, report: ReconcileReport) -> bool:
    """Upload checks and statistics batches left open too long (or back from a quota wait) go out again."""
    if run.videos_dispatched_at is None:
        return False
    now = ctx.now()
    with ctx.session() as session:
        checks = videostore.stuck_checks(session, run_id=run.id, updated_before=stuck_before, now=now)
        batches = videostore.stuck_batches(session, run_id=run.id, updated_before=stuck_before, now=now)
        for check in checks:
            videostore.settle_check(
                session,
                run_id=run.id,
                channel_id=check.channel_id,
                now=now,
                status=VideoTaskStatus.PENDING,
                waiting_until=None,
                error_code=None,
                error_message=None,
            )
        for batch in batches:
            videostore.settle_batch(
                session,
                run_id=run.id,
                batch_no=batch.batch_no,
                now=now,
                status=VideoTaskStatus.PENDING,
                waiting_until=None,
                error_code=None,
                error_message=None,
            )
    if not checks and not batches:
        return False
    report.resent_jobs += len(checks) + len(batches)
    report.sends.extend(upload_messages(ctx, run.id, [c.channel_id for c in checks]))
    report.sends.extend(messages.fetch_video_stats(run.id, [b.batch_no]) for b in batches)
    return True


# --- video re-poll --------------------------------------------------------------------------------

REPOLL_ANALYSIS = "video-repoll"


def repoll_videos(ctx: Context, *, limit: int | None = None) -> tuple[str | None, list[Send]]:
    """Start a visible *system* run that reads again the statistics of videos due by age.

    Young videos every VIDEO_POLL_YOUNG_EVERY_HOURS, daily until VIDEO_POLL_DAILY_UNTIL_DAYS, weekly
    until VIDEO_POLL_WEEKLY_UNTIL_DAYS, then never (tracked videos: weekly for ever). The pass reads at
    most what the statistics bucket can pay outside the interactive reserve, 50 videos a unit.
    """
    from pipeline.stages.advance import poll_policy

    if _pass_still_open(ctx, REPOLL_ANALYSIS):
        return None, []
    now = ctx.now()
    cap = ctx.settings.video_repoll_max_videos if limit is None else limit
    bucket = VIDEO_STATS if ctx.settings.video_stats_batch_get else DEFAULT
    left = ctx.ledger.units_left(priority="system", bucket=bucket)
    cap = min(cap, left * 50)
    if cap <= 0:
        return None, []
    with ctx.session() as session:
        due = videostore.due_video_ids(session, policy=poll_policy(ctx), now=now, limit=1)
    if not due:
        return None, []
    # One pass per hour at most: a duplicate scheduler tick lands on the same run id.
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:video-repoll:{now:%Y-%m-%dT%H}"))
    with ctx.session() as session:
        created = store.insert_run(
            session,
            run=Run(
                id=run_id,
                analysis_id=REPOLL_ANALYSIS,
                owner_id=REFRESH_OWNER,
                kind=RunKind.SYSTEM,
                options={"video_repoll": True, "recent_videos": 0, "max_videos": cap},
                raw_inputs=[],
                created_at=now,
            ),
        )
    return (run_id, [messages.normalize(run_id)]) if created else (None, [])


# --- refresh ------------------------------------------------------------------------------------


REFRESH_OWNER = "ytcollect"
REFRESH_ANALYSIS = "refresh"
RERESOLVE_ANALYSIS = "re-resolve"


def _pass_still_open(ctx: Context, analysis_id: str) -> bool:
    """Whether the previous scheduled pass of this kind is still working.

    A pass that outlives its schedule interval (a large refresh, a quota wait) has not yet recorded
    what it fetched, so a new pass would pick the same channels or videos and pay for them twice.
    """
    with ctx.session() as session:
        open_pass = store.open_system_run(session, owner_id=REFRESH_OWNER, analysis_id=analysis_id)
    if open_pass is not None:
        log.info("%s pass skipped: run %s is still open", analysis_id, open_pass)
    return open_pass is not None


def refresh(ctx: Context, *, limit: int = 5_000) -> tuple[str | None, list[Send]]:
    """Start a visible *system* run that fetches channels whose data is older than the refresh interval.

    System runs never dip into the quota reserve kept for interactive runs (the ledger enforces it).
    Returns the run id (None when nothing is due) and the messages to send.
    """
    if _pass_still_open(ctx, REFRESH_ANALYSIS):
        return None, []
    now = ctx.now()
    before = now - timedelta(hours=ctx.settings.refresh_interval_hours)
    with ctx.session() as session:
        due = store.channels_due_for_refresh(session, fetched_before=before, limit=limit)
    if not due:
        return None, []
    left = ctx.ledger.units_left(priority="system")
    affordable = left * 50  # one unit buys a batch of 50 ids
    due = due[:affordable]
    if not due:
        log.info("refresh skipped: no units left outside the interactive reserve")
        return None, []
    # A deterministic id per (tick, channel set) makes a duplicate scheduler tick a no-op.
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:refresh:{now:%Y-%m-%dT%H}:{due[0]}:{len(due)}"))
    request = RunRequest(run_id, REFRESH_ANALYSIS, REFRESH_OWNER, list(due), {"freshness_hours": 0})
    return run_id, record_run(ctx, request, kind=RunKind.SYSTEM)


# --- re-resolve ---------------------------------------------------------------------------------


def reresolve(ctx: Context, *, limit: int = 1_000) -> tuple[str | None, list[Send]]:
    """Resolve again the inputs whose resolution is older than the cache TTL, as a system run.

    The run bypasses the resolution cache, so a handle that now points at another channel is recorded
    in the resolution history (and shows in that run's summary) while the old mapping is kept.
    """
    if _pass_still_open(ctx, RERESOLVE_ANALYSIS):
        return None, []
    now = ctx.now()
    before = now - timedelta(days=ctx.settings.resolution_cache_days)
    with ctx.session() as session:
        stale = store.stale_resolutions(session, older_than=before, limit=limit)
    if not stale:
        return None, []
    lines = [canonical_url(r.kind, r.value) for r in stale]
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:reresolve:{now:%Y-%m-%d}:{stale[0].dedupe_key}"))
    # About resolutions, not uploads: no video part.
    request = RunRequest(
        run_id, RERESOLVE_ANALYSIS, REFRESH_OWNER, lines, {"use_resolution_cache": False, "recent_videos": 0}
    )
    return run_id, record_run(ctx, request, kind=RunKind.SYSTEM)


# --- purge --------------------------------------------------------------------------------------


def purge(ctx: Context) -> dict[str, int]:
    """Retention: old API-call records and snapshots, channel data past YouTube's 30-day rule, and
    lookup misses past NEGATIVE_CACHE_HOURS (nothing reads them then; without this they pile up)."""
    now = ctx.now()
    s = ctx.settings
    with ctx.session() as session:
        calls = store.delete_api_calls_before(session, before=now - timedelta(days=s.api_call_retention_days))
        snaps = store.delete_snapshots_before(session, before=now - timedelta(days=s.snapshot_retention_days))
        channels = store.delete_channels_not_fetched_since(
            session, before=now - timedelta(days=s.channel_data_max_age_days)
        )
        videos = purge_video_data(
            session,
            stale_before=now - timedelta(days=s.channel_data_max_age_days),
            snapshots_before=now - timedelta(days=s.snapshot_retention_days),
        )
        lookups = misses.delete_expired(session, now=now, hours=s.negative_cache_hours)
    return {"api_calls": calls, "snapshots": snaps, "channels": channels, **videos, "lookup_misses": lookups}
