"""The one place that decides how a run advances once a stage has committed.

Every stage, ``fail_exhausted``, reconcile and cancel report what they settled as a ``Progress`` and
get back the messages to send. The decisions, in order:

1. **Count.** Jobs that reached a terminal state are marked in Redis (idempotently: a job counts once
   whoever marks it, and a redelivery marks again what a killed delivery committed but never marked).
2. **Finalize** when nothing is left: the caller whose mark brought ``remaining`` to 0 sends
   ``finalize`` (so does a redelivery that finds 0, in case the winner died before sending it).
3. **The resolution barrier.** A run's metadata is fetched once every job has left resolution, so all
   its channels share full 50-id batches. The caller that passes the barrier claims the run-wide
   dispatch in the database (exactly one wins); jobs that arrive after it are sent on their own. A job
   parked for the default bucket in resolution has not left it: Redis counts it as settled, so the
   database confirms (``store.count_unresolved_jobs``) before anyone claims the barrier.
4. **Redis lost the run** (a flush, an eviction): the database answers both questions instead.
5. **The video part** (a run with ``recent_videos`` > 0, or a re-poll pass): once every job has
   ended, instead of finalizing, the caller claims the run's upload checks (one per distinct channel
   of its DONE jobs); once every check has ended, one caller claims the statistics barrier and cuts
   the run's new and due videos into full 50-id batches; once every batch has ended, finalize. Each
   claim is a guarded flag on the run committed with the rows it creates, and each "has every task
   ended" is an indexed count in the database after the caller's own commit, so the last one to
   commit always sees zero and exactly one caller wins each step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models import JobStatus, Run, RunStatus, VideoTaskStatus
from pipeline import messages, store, videostore
from pipeline import progress as live_progress
from pipeline.context import Context
from pipeline.messages import Send

# fetch_metadata messages that need no API call (every channel is fresh) settle this many jobs each.
FRESH_JOBS_PER_MESSAGE = 1_000
RESOLUTION_STATES = (JobStatus.PENDING, JobStatus.RESOLVING)


@dataclass(frozen=True, slots=True)
class Progress:
    """What one delivery of a stage settled, after its commit."""

    terminal: Mapping[int, str] = field(default_factory=dict)  # jobs now terminal, with their status
    waiting: Mapping[int, datetime] = field(default_factory=dict)  # jobs parked until their quota resets
    # Jobs that left the resolution phase in this delivery; None for stages after the barrier.
    left_resolution: Sequence[int] | None = None
    fetching: Sequence[int] = ()  # jobs this delivery handed to fetch_metadata
    metadata_dispatched: bool = False  # the run's barrier dispatch was done when the stage loaded it
    redelivered: bool = False  # some of the message's jobs were settled by an earlier delivery
    uploads_checked: bool = False  # a check_uploads delivery committed its channels
    stats_fetched: bool = False  # a fetch_video_stats delivery committed its batches


def advance(ctx: Context, run_id: str, progress: Progress) -> list[Send]:
    """Mark in Redis what the stage committed and return the messages that move the run on."""
    if progress.waiting:
        ctx.completion.set_waiting(run_id, list(progress.waiting), True)
    sends: list[Send] = []
    if progress.terminal and _emptied_run(ctx, run_id, progress):
        sends.extend(after_jobs(ctx, run_id))
    if progress.left_resolution is not None:
        sends.extend(_after_resolution(ctx, run_id, progress))
    if progress.uploads_checked or progress.stats_fetched:
        sends.extend(after_jobs(ctx, run_id))
    return sends


def _emptied_run(ctx: Context, run_id: str, progress: Progress) -> bool:
    result = ctx.completion.mark_terminal(run_id, dict(progress.terminal))
    if result.newly_marked and result.remaining is not None:
        # After the commit and the count: a live snapshot for the HTTP API's subscribers.
        live_progress.publish_settled(
            ctx.redis, run_id, ctx.completion.live(run_id), settled=result.newly_marked
        )
    if result.remaining is None:  # Redis lost the run: was this the last open job?
        with ctx.session() as session:
            return store.count_open_jobs(session, run_id=run_id) == 0
    return result.reached_zero() or (progress.redelivered and result.remaining == 0)


def _after_resolution(ctx: Context, run_id: str, progress: Progress) -> list[Send]:
    barrier = ctx.completion.mark_resolved(run_id, list(progress.left_resolution or ()))
    if progress.metadata_dispatched:
        return dispatch_metadata(ctx, run_id, progress.fetching) if progress.fetching else []
    # Redis says when the last job left (None: it lost the run); the database, whether one only waits.
    if barrier.remaining is not None and barrier.remaining > 0:
        return []
    if has_unresolved_jobs(ctx, run_id):
        return []
    if claim_barrier(ctx, run_id):
        return dispatch_metadata(ctx, run_id)
    # Another caller claimed the barrier after this delivery loaded its jobs. It found no job left in
    # resolution in the database first, so this delivery's commit came before its dispatch read: its
    # jobs are in that dispatch. Sent again, their channels would be fetched twice, in a batch of their own.
    return []


def has_unresolved_jobs(ctx: Context, run_id: str) -> bool:
    """Whether a job still keeps the barrier closed (resolving, or parked there for the default bucket)."""
    with ctx.session() as session:
        return store.count_unresolved_jobs(session, run_id=run_id) > 0


def claim_barrier(ctx: Context, run_id: str) -> bool:
    """The guarded database flag: True for exactly one caller per run."""
    with ctx.session() as session:
        return store.claim_metadata_dispatch(session, run_id=run_id, now=ctx.now())


def resume_from_database(ctx: Context, run: Run) -> list[Send]:
    """For reconcile: what the database says should happen next when no stage is moving the run."""
    with ctx.session() as session:
        open_jobs = store.count_open_jobs(session, run_id=run.id)
    if open_jobs == 0:
        return after_jobs(ctx, run.id)
    if (
        run.metadata_dispatched_at is None
        and not has_unresolved_jobs(ctx, run.id)
        and claim_barrier(ctx, run.id)
    ):
        return dispatch_metadata(ctx, run.id)
    return []


def dispatch_metadata(ctx: Context, run_id: str, job_ids: Sequence[int] | None = None) -> list[Send]:
    """fetch_metadata batches of ≤ 50 distinct channels that need a call, plus one message for the fresh.

    ``job_ids=None`` means every FETCHING job of the run (the barrier dispatch, whose claim the caller
    has won); otherwise only those jobs (late ones: redeliveries, jobs back from a quota wait).
    """
    with ctx.session() as session:
        jobs = store.fetching_jobs(session, run_id=run_id, job_ids=job_ids)  # tuples, not Job objects
        run = store.get_run(session, run_id=run_id)
        fresh = store.fresh_channel_ids(
            session, channel_ids=[cid for _, cid in jobs if cid], fresh_since=fresh_since(ctx, run)
        )
    by_channel: dict[str, list[int]] = defaultdict(list)
    for job_id, channel_id in jobs:
        if channel_id:
            by_channel[channel_id].append(job_id)
    sends: list[Send] = []
    fresh_jobs = [job_id for cid in sorted(fresh) for job_id in by_channel.get(cid, [])]
    for start in range(0, len(fresh_jobs), FRESH_JOBS_PER_MESSAGE):  # no API call needed for these
        sends.append(messages.fetch_metadata(run_id, fresh_jobs[start : start + FRESH_JOBS_PER_MESSAGE]))
    stale = [cid for cid in by_channel if cid not in fresh]
    size = ctx.settings.metadata_batch_size
    for start in range(0, len(stale), size):
        sends.append(
            messages.fetch_metadata(
                run_id, [j for cid in stale[start : start + size] for j in by_channel[cid]]
            )
        )
    return sends


def fresh_since(ctx: Context, run: Run | None) -> datetime:
    """Metadata fetched after this instant is fresh enough for the run (its option, else the setting)."""
    hours = ctx.settings.metadata_freshness_hours
    if run is not None and "freshness_hours" in (run.options or {}):
        hours = float(run.options["freshness_hours"])
    return ctx.now() - timedelta(hours=hours)


# --- the video part ---------------------------------------------------------------------------------


def recent_videos(ctx: Context, run: Run) -> int:
    """How many of each channel's newest uploads the run follows (its option, else RECENT_VIDEOS)."""
    return int((run.options or {}).get("recent_videos", ctx.settings.recent_videos))


def wants_videos(ctx: Context, run: Run) -> bool:
    return bool((run.options or {}).get("video_repoll")) or recent_videos(ctx, run) > 0


def video_work_done(ctx: Context, run: Run) -> bool:
    """True when the run has no video part, or its statistics batches are formed and all ended."""
    if not wants_videos(ctx, run):
        return True
    if run.video_stats_dispatched_at is None:
        return False
    with ctx.session() as session:
        return videostore.count_open_checks(session, run_id=run.id) == 0 and (
            videostore.count_open_batches(session, run_id=run.id) == 0
        )


def after_jobs(ctx: Context, run_id: str) -> list[Send]:
    """Every job has ended (or a video task has): the run's next step, decided from the database.

    Idempotent, so any caller (a stage, its redelivery, reconcile) may ask: it claims what is
    unclaimed, waits while tasks are open, and finalizes once nothing is left.
    """
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
    if run is None or run.status != RunStatus.RUNNING or not wants_videos(ctx, run):
        return [messages.finalize(run_id)]
    if run.videos_dispatched_at is None:
        return _dispatch_uploads(ctx, run)
    with ctx.session() as session:
        if videostore.count_open_checks(session, run_id=run_id):
            return []
    if run.video_stats_dispatched_at is None:
        return _dispatch_stats(ctx, run)
    with ctx.session() as session:
        if videostore.count_open_batches(session, run_id=run_id):
            return []
    return [messages.finalize(run_id)]


def _dispatch_uploads(ctx: Context, run: Run) -> list[Send]:
    now = ctx.now()
    with ctx.session() as session:
        if not videostore.claim_videos_dispatch(session, run_id=run.id, now=now):
            return []  # another caller won: it sends the checks (reconcile resends them if it died)
        channel_ids = (
            [] if run.options.get("video_repoll") else videostore.done_channel_ids(session, run_id=run.id)
        )
        videostore.create_upload_checks(session, run_id=run.id, channel_ids=channel_ids, now=now)
    if not channel_ids:
        run.videos_dispatched_at = now
        return _dispatch_stats(ctx, run)
    return upload_messages(ctx, run.id, channel_ids)


def upload_messages(ctx: Context, run_id: str, channel_ids: Sequence[str]) -> list[Send]:
    size = ctx.settings.uploads_batch_size
    ids = list(channel_ids)
    return [messages.check_uploads(run_id, ids[start : start + size]) for start in range(0, len(ids), size)]


def _dispatch_stats(ctx: Context, run: Run) -> list[Send]:
    """The statistics barrier: the run's new and due videos in full 50-id batches, new ones first."""
    now = ctx.now()
    policy = poll_policy(ctx)
    with ctx.session() as session:
        if not videostore.claim_stats_dispatch(session, run_id=run.id, now=now):
            return []
        if run.options.get("video_repoll"):
            ids = videostore.due_video_ids(
                session, policy=policy, now=now, limit=int(run.options.get("max_videos", 0)) or None
            )
        else:
            channel_ids = [
                c.channel_id
                for c in videostore.upload_checks(
                    session, run_id=run.id, statuses=[VideoTaskStatus.DONE, VideoTaskStatus.NO_VIDEOS]
                )
            ]
            ids = videostore.due_video_ids(
                session,
                policy=policy,
                now=now,
                channel_ids=channel_ids,
                newest_per_channel=recent_videos(ctx, run),
            )
        count = videostore.insert_batches(session, run_id=run.id, video_ids=ids, now=now)
    if count == 0:
        return [messages.finalize(run.id)]
    return [messages.fetch_video_stats(run.id, [n]) for n in range(count)]


def poll_policy(ctx: Context) -> videostore.PollPolicy:
    s = ctx.settings
    return videostore.PollPolicy(
        young=timedelta(hours=s.video_poll_young_hours),
        young_every=timedelta(hours=s.video_poll_young_every_hours),
        daily_until=timedelta(days=s.video_poll_daily_until_days),
        weekly_until=timedelta(days=s.video_poll_weekly_until_days),
    )
