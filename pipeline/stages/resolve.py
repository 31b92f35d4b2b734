"""``resolve``: handles, usernames, custom URLs, videos and playlists to channel ids, cheapest call first.

Handles and usernames come back with the channel's metadata (the lookup asks for the same parts
``fetch_metadata`` would), so those jobs are done here; videos, playlists and search hits only name
their channel, whose metadata waits for the run's barrier so it shares 50-id batches.

A message carries several single lookups (``RESOLVE_LOOKUPS_PER_MESSAGE``), asked concurrently
(``RESOLVE_LOOKUP_CONCURRENCY``): the load, the commit, the Redis marks and the message are paid once
for all of them, and a thread waiting on the API's latency waits for several answers at once. Every
answer is kept in Redis as it arrives (``answers``), so a redelivery pays none of them again.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from models import Confidence, Job, JobStatus, LookupMiss, ResolutionMethod, Run, RunStatus
from pipeline import misses, store
from pipeline.context import Context
from pipeline.inputs import InputKind
from pipeline.messages import Send
from pipeline.stages import answers
from pipeline.stages.advance import RESOLUTION_STATES, Progress, advance
from pipeline.stages.outcome import Failure, Outcome, Resolved, apply_outcome, priority
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.quota import SEARCH

BATCH_LOOKUPS = {
    InputKind.VIDEO: (ResolutionMethod.VIDEOS_LIST, "video"),
    InputKind.PLAYLIST: (ResolutionMethod.PLAYLISTS_LIST, "playlist"),
}
# Every state a resolve delivery may move a job out of (WAITING_QUOTA and FETCHING: a redelivery
# racing reconcile's resend must still settle the job once).
_FROM = [JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING, JobStatus.WAITING_QUOTA]


def resolve_jobs(ctx: Context, run_id: str, job_ids: Sequence[int]) -> list[Send]:
    """Resolve the message's open jobs, commit what was settled, and let the run advance."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        loaded = store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids)
        jobs = [j for j in loaded if j.status in RESOLUTION_STATES]
        store.set_jobs_status(
            session,
            job_ids=[j.id for j in jobs],
            status=JobStatus.RESOLVING,
            from_statuses=[JobStatus.PENDING],
            now=ctx.now(),
        )
        dispatched = run.metadata_dispatched_at is not None
        hours = ctx.settings.negative_cache_hours
        by_key = (
            misses.fresh(session, [j.dedupe_key for j in jobs], now=ctx.now(), hours=hours)
            if misses.applies(run, hours)
            else {}
        )
        remembered = {j.id: by_key[j.dedupe_key] for j in jobs if j.dedupe_key in by_key}
    outcome = Outcome()
    # Answered by an earlier delivery of this message that did not live to commit: not asked again.
    recalled = answers.recall(ctx.redis, run_id, [j.id for j in jobs], outcome)
    searching = bool((run.options or {}).get("allow_search"))
    for job in jobs:
        miss = remembered.get(job.id)
        if (
            job.id not in recalled
            and miss is not None
            and not (searching and miss.error_code == "needs_search")
        ):
            outcome.failed[job.id] = _remembered_failure(miss)
    try:
        _resolve_into(ctx, run, [j for j in jobs if j.id not in outcome.settled_ids()], outcome)
    finally:
        # Whatever was settled before an error (a transient one is re-raised for a retry) is kept.
        moved = apply_outcome(ctx, run, outcome, from_statuses=_FROM, resolving=jobs)
        answers.drop(ctx.redis, run_id, outcome.settled())
        _remember_misses(ctx, [j for j in jobs if j.id not in remembered], outcome)
    # A delivery killed after its commit left jobs settled in the database but not in Redis: this
    # redelivery marks them again (both marks are idempotent), or the run would wait for reconcile.
    settled_before = {j.id: j.status for j in loaded if j.status not in RESOLUTION_STATES}
    terminal = {
        j: s for j, s in settled_before.items() if s not in (JobStatus.FETCHING, JobStatus.WAITING_QUOTA)
    }
    progress = Progress(
        terminal={**terminal, **outcome.terminal()},
        waiting=outcome.waiting,
        left_resolution=[*settled_before, *outcome.settled()],
        fetching=[j for j in outcome.fetching if j in moved],  # not those a twin delivery moved
        metadata_dispatched=dispatched,
        redelivered=bool(terminal),
    )
    return advance(ctx, run_id, progress)


def _remembered_failure(miss: LookupMiss) -> Failure:
    """A job answered by the negative cache fails as its key did, saying so (and how to ask again)."""
    said = misses.said_again(miss)
    status = JobStatus.NEEDS_SEARCH if miss.error_code == "needs_search" else JobStatus.FAILED
    return Failure(miss.error_code, said, status)


def _remember_misses(ctx: Context, asked: list[Job], outcome: Outcome) -> None:
    """Keep every lookup this delivery asked and found nothing for, so a repeat does not ask again."""
    found_nothing = [
        misses.Miss(job.dedupe_key, str(job.kind), job.value, failure.code, failure.message)
        for job in asked
        if (failure := outcome.failed.get(job.id)) is not None and failure.code in misses.REMEMBERED_CODES
    ]
    if found_nothing and ctx.settings.negative_cache_hours > 0:
        with ctx.session() as session:
            misses.remember(session, found_nothing, now=ctx.now())


def _resolve_into(ctx: Context, run: Run, jobs: list[Job], outcome: Outcome) -> None:
    """Settle each job into ``outcome``; on spent quota or no keys, the jobs not yet asked wait or fail."""
    pending = {job.id: job for job in jobs}
    try:
        for kind, (method, noun) in BATCH_LOOKUPS.items():
            batch = [j for j in jobs if j.kind == kind]
            if batch:
                _resolve_batch(ctx, run, batch, method, noun, outcome)
                answers.remember(ctx.redis, run.id, outcome, [j.id for j in batch])
                for job in batch:
                    pending.pop(job.id)
        singles = [j for j in jobs if j.kind not in BATCH_LOOKUPS]
        _resolve_singles(ctx, run, singles, outcome, pending)
    except QuotaExhausted as exc:  # the default bucket: every job not yet asked needs it
        outcome.wait(pending, exc)
    except NoApiKeys as exc:
        outcome.fail(pending, "no_api_keys", str(exc))


def _resolve_singles(
    ctx: Context, run: Run, jobs: list[Job], outcome: Outcome, pending: dict[int, Job]
) -> None:
    """Ask the single lookups concurrently, each into its own ``Outcome``, merged here in job order.

    The first spent quota or missing key stops the lookups not yet started (they stay in ``pending``
    for the caller to park or fail); any other error is raised once every started lookup has ended,
    so what they settled is committed before the retry.
    """
    stop = threading.Event()
    customs = [j.id for j in jobs if j.kind == InputKind.CUSTOM_URL]
    probed = answers.probed(ctx.redis, run.id, customs) if customs else set()

    def one(job: Job) -> Outcome | BaseException | None:
        if stop.is_set():
            return None  # not asked
        part = Outcome()
        try:
            _resolve_single(ctx, run, job, part, probed)
        except PermanentYouTubeError as exc:
            part.fail([job.id], exc.error_code, str(exc))
        except (QuotaExhausted, NoApiKeys) as exc:
            stop.set()
            return exc
        except Exception as exc:  # transient: retried with the message, after the others are kept
            return exc
        answers.remember(ctx.redis, run.id, part, [job.id])
        return part

    workers = min(len(jobs), ctx.settings.resolve_lookup_concurrency)
    if workers <= 1:
        results = [one(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lookup") as pool:
            # Each lookup in a copy of this thread's context: its log lines name the run and message.
            results = list(pool.map(lambda job: contextvars.copy_context().run(one, job), jobs))
    raised: BaseException | None = None
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, Outcome):
            outcome.merge(result)
            pending.pop(job.id)
        elif isinstance(result, (QuotaExhausted, NoApiKeys)):
            raised = result if not isinstance(raised, (QuotaExhausted, NoApiKeys)) else raised
        elif result is not None and raised is None:
            raised = result
    if raised is not None:
        raise raised


def _resolve_batch(
    ctx: Context, run: Run, batch: list[Job], method: ResolutionMethod, noun: str, outcome: Outcome
) -> None:
    lookup = (
        ctx.youtube.video_channels
        if method == ResolutionMethod.VIDEOS_LIST
        else ctx.youtube.playlist_channels
    )
    try:
        owners = lookup([j.value for j in batch], run_id=run.id, priority=priority(run))
    except PermanentYouTubeError as exc:
        outcome.fail([j.id for j in batch], exc.error_code, str(exc))
        return
    for job in batch:
        channel_id = owners.get(job.value)
        if channel_id:
            outcome.fetching[job.id] = Resolved(channel_id, method, Confidence.CERTAIN)
        else:
            outcome.fail([job.id], "not_found", f"no public {noun} has the id {job.value}")


def _resolve_single(ctx: Context, run: Run, job: Job, outcome: Outcome, probed: set[int]) -> None:
    yt = ctx.youtube
    kw = {"run_id": run.id, "priority": priority(run)}
    if job.kind == InputKind.HANDLE:
        record = yt.channel_by_handle(job.value, **kw)
        if record is None:
            outcome.fail([job.id], "not_found", f"no channel has the handle @{job.value}")
        else:
            outcome.found(job.id, record, ResolutionMethod.FOR_HANDLE, Confidence.CERTAIN)
        return
    if job.kind == InputKind.USERNAME:
        record = yt.channel_by_username(job.value, **kw)
        if record is None:
            outcome.fail([job.id], "not_found", f"no channel has the legacy username {job.value}")
        else:
            outcome.found(job.id, record, ResolutionMethod.FOR_USERNAME, Confidence.CERTAIN)
        return
    if job.kind != InputKind.CUSTOM_URL:  # kinds that never reach resolve (defensive: never leave a job open)
        outcome.fail([job.id], "unexpected_kind", f"cannot resolve a {job.kind}")
        return
    # A custom URL has no API filter: the cheap probable routes first, search last. A job back from
    # waiting for the search bucket already had both probes answered "none" in this run: not paid twice.
    probes = (
        (ResolutionMethod.FOR_HANDLE, yt.channel_by_handle),
        (ResolutionMethod.FOR_USERNAME, yt.channel_by_username),
    )
    for found_by, lookup in probes if job.id not in probed else ():
        record = lookup(job.value, **kw)
        if record is not None:
            outcome.found(job.id, record, found_by, Confidence.PROBABLE)
            return
    options = run.options or {}
    allowed = bool(options.get("allow_search"))
    budget = int(options.get("search_budget", ctx.settings.default_search_budget)) if allowed else 0
    if allowed and ctx.completion.take_search(run.id, budget):
        try:
            hits = yt.search_channels(job.value, max_results=1, **kw)
        except QuotaExhausted as exc:
            if exc.bucket != SEARCH:
                raise
            # No key has a search left today: this job alone waits for the search bucket to refill;
            # the run's other jobs (handles, ids, usernames) go on. Nothing was sent, so the run's
            # search budget gets its claim back.
            ctx.completion.give_back_search(run.id)
            answers.remember_probed(ctx.redis, run.id, [job.id])
            outcome.wait([job.id], exc)
            return
        if hits:
            outcome.fetching[job.id] = Resolved(
                hits[0].channel_id, ResolutionMethod.SEARCH, Confidence.PROBABLE
            )
        else:
            outcome.fail([job.id], "not_found", f"search found no channel for /c/{job.value}")
        return
    reason = (
        "search.list is not allowed by this run's options"
        if not allowed
        else "the run's search budget is spent"
    )
    outcome.failed[job.id] = Failure(
        "needs_search",
        f"custom URL name '{job.value}' matched no handle or username; {reason}",
        JobStatus.NEEDS_SEARCH,
    )
