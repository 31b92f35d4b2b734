"""The pipeline's stages as plain functions: each loads by id, does its work, commits, counts, and
returns the next messages for the actor to send (DB commit → Redis mark → send, in that order).

Every stage may run twice for the same message (RabbitMQ redelivers when a worker dies), so each one
reads the jobs' state, skips what is done, and writes with guarded updates and upserts.

Quota: a run's channel metadata is fetched only once all its resolutions are known (the *resolution
barrier*), so every distinct channel that still needs metadata shares 50-id batches with every other:
that is what makes the units spent equal the minimum for the inputs given.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from models import OPEN_STATUSES, TERMINAL_STATUSES, Job, JobStatus, Run, RunStatus
from pipeline import messages, store
from pipeline.context import Context
from pipeline.errors import InvalidRequest
from pipeline.inputs import plan_inputs
from pipeline.messages import Send
from pipeline.summary import build_summary
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted
from pipeline.youtube.records import ChannelRecord

log = logging.getLogger(__name__)

BATCH_KINDS = ("video", "playlist")  # resolved 50 per call
SINGLE_KINDS = ("handle", "username", "custom_url")  # one lookup per call

RUN_OPTIONS = {
    "allow_search": bool,  # may custom URLs fall back to search.list (100 units)?
    "search_budget": int,  # how many search.list calls this run may make
    "freshness_hours": (int, float),  # metadata younger than this is not fetched again
    "use_resolution_cache": bool,  # answer inputs from earlier runs' resolutions
}


# --- start_run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRequest:
    run_id: str
    analysis_id: str
    owner_id: str
    channel_inputs: list[str]
    options: dict[str, Any]


def validate_run_request(
    ctx: Context, *, run_id: Any, analysis_id: Any, owner_id: Any, channel_inputs: Any, options: Any
) -> RunRequest:
    """Check a start_run message's shape and bounds; raise InvalidRequest with a sentence a person can act on."""
    if not storable_id(run_id, 64):
        raise InvalidRequest("run_id must be a string of 1 to 64 printable characters (a UUID)")
    for name, value in (("analysis_id", analysis_id), ("owner_id", owner_id)):
        if not storable_id(value, 200):
            raise InvalidRequest(f"{name} must be a string of 1 to 200 characters, without NUL")
    if not isinstance(channel_inputs, list):
        raise InvalidRequest("channel_inputs must be a list of strings")
    limit = ctx.settings.max_inputs_per_run
    if len(channel_inputs) > limit:
        raise InvalidRequest(f"too many channel inputs: {len(channel_inputs)} (the limit is {limit} per run)")
    if not channel_inputs:
        raise InvalidRequest("channel_inputs is empty: give at least one channel input")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise InvalidRequest("options must be an object")
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise InvalidRequest(f"unknown option(s) {unknown}; known options: {sorted(RUN_OPTIONS)}")
    for name, value in options.items():
        expected = RUN_OPTIONS[name]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise InvalidRequest(f"option {name} has the wrong type")
        if name in ("search_budget", "freshness_hours") and value < 0:
            raise InvalidRequest(f"option {name} must not be negative")
    # A non-string line (a foreign backend's null or number) is kept as text and will fail on its own.
    max_len = ctx.settings.max_input_length
    lines = [_input_text(item)[: max_len + 1] for item in channel_inputs]
    return RunRequest(run_id, analysis_id, owner_id, lines, dict(options))


# PostgreSQL text and JSONB cannot hold NUL, nor a lone surrogate (a JSON "\udc80" escape or bytes
# decoded with surrogateescape make one): either failed the run's first insert and every retry of it,
# so the run was lost without a word. Each becomes U+FFFD, one for one, before anything is stored or
# parsed: the parser judges the text that is stored (a NUL inside a handle or an id makes it invalid).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable_id(value: Any, max_length: int) -> bool:
    """An id the database can store as it is: a non-empty string, bounded, without NUL or surrogates."""
    return isinstance(value, str) and 1 <= len(value) <= max_length and not _UNSTORABLE.search(value)


def _input_text(item: Any) -> str:
    text = item if isinstance(item, str) else ("" if item is None else str(item))
    return _UNSTORABLE.sub("\ufffd", text)


def record_run(
    ctx: Context, request: RunRequest, *, kind: str = "interactive", parent_run_id: str | None = None
) -> list[Send]:
    """Record the run and its raw inputs once (idempotent on run_id) and ask for normalize."""
    with ctx.session() as session:
        run = Run(
            id=request.run_id,
            analysis_id=request.analysis_id,
            owner_id=request.owner_id,
            kind=kind,
            options=request.options,
            raw_inputs=request.channel_inputs,
            total_inputs=len(request.channel_inputs),
            parent_run_id=parent_run_id,
            created_at=ctx.now(),
        )
        created = store.insert_run(session, run=run)
        existing = None if created else store.get_run(session, run_id=request.run_id)
    if existing is not None and existing.status not in (RunStatus.PENDING, RunStatus.RUNNING):
        return []
    if existing is not None and (existing.owner_id != request.owner_id):
        log.warning("start_run %s resent with another owner; keeping the first", request.run_id)
    return [messages.normalize(request.run_id)]


def reject_run(ctx: Context, *, run_id: str, analysis_id: Any, owner_id: Any, error: str) -> None:
    """A start_run that cannot be accepted still finishes, once, with the reason, so the backend hears of it."""
    now = ctx.now()
    summary = {"error": error, "counts_by_status": {}, "total_jobs": 0}
    with ctx.session() as session:
        store.insert_run(
            session,
            run=Run(
                id=run_id,
                analysis_id=_input_text(analysis_id)[:200] or "-",
                owner_id=_input_text(owner_id)[:200] or "-",
                error=_input_text(error)[:2000],
                created_at=now,
            ),
        )
        won = store.finish_run(session, run_id=run_id, summary=summary, now=now)
    if won:
        publish_finished(ctx, run_id)


# --- normalize ----------------------------------------------------------------------------------


def normalize_run(ctx: Context, run_id: str) -> list[Send]:
    """Parse and dedupe every input, create the jobs, fail invalid ones, answer from the cache, fan out."""
    now = ctx.now()
    settings = ctx.settings
    with ctx.session() as session:
        run = store.lock_run(session, run_id=run_id)
        if run is None or run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            return []
        if run.status == RunStatus.PENDING:
            _create_jobs(ctx, session, run, now)
        jobs = store.jobs_of_run(session, run_id=run_id)
        dispatched = run.metadata_dispatched_at is not None

    unresolved = [j for j in jobs if j.status in (JobStatus.PENDING, JobStatus.RESOLVING)]
    ctx.completion.register(run_id, total_jobs=len(jobs), unresolved_jobs=len(unresolved))
    sends: list[Send] = []
    terminal = {j.id: j.status for j in jobs if j.status not in OPEN_STATUSES}
    # remaining == 0, not reached_zero(): a redelivered normalize must send again the finalize that a
    # delivery killed after its mark never sent (finalize is guarded, a duplicate is harmless).
    if terminal and ctx.completion.mark_terminal(run_id, terminal).remaining == 0:  # type: ignore[arg-type]
        sends.append(messages.finalize(run_id))
    if not jobs:
        sends.append(messages.finalize(run_id))

    by_kind: dict[str, list[int]] = defaultdict(list)
    for job in unresolved:
        by_kind[job.kind].append(job.id)  # type: ignore[arg-type]
    for kind in SINGLE_KINDS:
        sends.extend(messages.resolve(run_id, [job_id]) for job_id in by_kind.get(kind, []))
    for kind in BATCH_KINDS:
        ids = by_kind.get(kind, [])
        for start in range(0, len(ids), settings.resolve_batch_size):
            sends.append(messages.resolve(run_id, ids[start : start + settings.resolve_batch_size]))
    if not unresolved and not dispatched:
        sends.extend(dispatch_metadata(ctx, run_id) or [])
    return sends


def _create_jobs(ctx: Context, session: Any, run: Run, now: Any) -> None:
    settings = ctx.settings
    lines = list(run.raw_inputs or [])
    plan = plan_inputs(lines, max_length=settings.max_input_length)
    cache_fresh_since = now - timedelta(days=settings.resolution_cache_days)
    use_cache = bool(run.options.get("use_resolution_cache", True))
    keys = [store.dedupe_key(j.kind, j.value) for j in plan.jobs]
    cacheable = [k for k, j in zip(keys, plan.jobs, strict=True) if j.kind not in ("invalid", "channel_id")]
    cache = (
        store.cached_resolutions(session, keys=cacheable, fresh_since=cache_fresh_since) if use_cache else {}
    )

    rows = []
    for key, planned in zip(keys, plan.jobs, strict=True):
        row: dict[str, Any] = {
            "run_id": run.id,
            "kind": str(planned.kind),
            "value": planned.value,
            "dedupe_key": key,
            "first_line_no": planned.line_indexes[0] + 1,
            "status": JobStatus.PENDING,
            "note": (planned.reason or None) if planned.kind != "invalid" else None,
            "created_at": now,
            "updated_at": now,
            "channel_id": None,
            "method": None,
            "confidence": None,
            "error_code": None,
            "error_message": None,
        }
        if planned.kind == "invalid":
            row.update(
                status=JobStatus.FAILED, error_code="invalid_input", error_message=planned.reason[:1000]
            )
        elif planned.kind == "channel_id":
            row.update(
                status=JobStatus.FETCHING, channel_id=planned.value, method="channel_id", confidence="certain"
            )
        elif key in cache:
            hit = cache[key]
            row.update(
                status=JobStatus.FETCHING,
                channel_id=hit.channel_id,
                method=f"cache:{hit.method}",
                confidence=hit.confidence,
            )
        rows.append(row)
    store.insert_jobs(session, rows=rows)
    ids = store.job_ids_by_key(session, run_id=run.id)
    line_rows = [
        {
            "run_id": run.id,
            "line_no": line.index + 1,
            "text": line.text[: settings.max_input_length + 1],
            "job_id": ids[keys[line.job_index]],
        }
        for line in plan.lines
    ]
    store.insert_run_inputs(session, rows=line_rows)
    store.start_run_normalized(session, run_id=run.id, total_inputs=len(lines), total_jobs=len(rows), now=now)


# --- metadata dispatch (the resolution barrier) -------------------------------------------------


def dispatch_metadata(ctx: Context, run_id: str, job_ids: Sequence[int] | None = None) -> list[Send] | None:
    """Fan out fetch_metadata batches of ≤ 50 distinct channels.

    With ``job_ids=None`` this is the run-wide barrier dispatch, done once (guarded in the database;
    None when another caller already did it); otherwise it sends just those jobs (late ones:
    redeliveries, jobs back from a quota wait).
    """
    now = ctx.now()
    with ctx.session() as session:
        if job_ids is None:
            if not store.claim_metadata_dispatch(session, run_id=run_id, now=now):
                return None
            jobs = store.jobs_of_run(session, run_id=run_id, statuses=[JobStatus.FETCHING])
        else:
            jobs = [
                j
                for j in store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids)
                if j.status == JobStatus.FETCHING
            ]
        run = store.get_run(session, run_id=run_id)
        fresh = store.fresh_channel_ids(
            session,
            channel_ids=[j.channel_id for j in jobs if j.channel_id],
            fresh_since=_fresh_since(ctx, run),
        )
    by_channel: dict[str, list[int]] = defaultdict(list)
    for job in jobs:
        by_channel[job.channel_id].append(job.id)  # type: ignore[index,arg-type]
    sends: list[Send] = []
    fresh_jobs = [jid for cid in sorted(fresh) for jid in by_channel.get(cid, [])]
    if fresh_jobs:  # no API call needed: one message settles them all
        for start in range(0, len(fresh_jobs), 1_000):
            sends.append(messages.fetch_metadata(run_id, fresh_jobs[start : start + 1_000]))
    stale = [cid for cid in by_channel if cid not in fresh]
    size = ctx.settings.metadata_batch_size
    for start in range(0, len(stale), size):
        batch = [jid for cid in stale[start : start + size] for jid in by_channel[cid]]
        sends.append(messages.fetch_metadata(run_id, batch))
    return sends


def _fresh_since(ctx: Context, run: Run | None) -> Any:
    hours = ctx.settings.metadata_freshness_hours
    if run is not None and "freshness_hours" in (run.options or {}):
        hours = float(run.options["freshness_hours"])
    return ctx.now() - timedelta(hours=hours)


def _priority(run: Run) -> str:
    return "system" if run.kind == "system" else "interactive"


# --- resolve ------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What happened to each job of a message, applied in one transaction at the end."""

    done: dict[int, tuple[str, str, str]]  # job → (channel_id, method, confidence), metadata saved
    fetching: dict[int, tuple[str, str, str]]  # job → (channel_id, method, confidence), needs metadata
    failed: dict[int, tuple[str, str, JobStatus]]  # job → (error_code, message, FAILED|NEEDS_SEARCH)
    waiting: dict[int, Any]  # job → resets_at
    channels: dict[str, ChannelRecord]

    @classmethod
    def empty(cls) -> _Outcome:
        return cls({}, {}, {}, {}, {})


def resolve_jobs(ctx: Context, run_id: str, job_ids: Sequence[int]) -> list[Send]:
    """Turn handles, usernames, custom URLs, videos and playlists into channel ids (cheapest call first)."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        loaded = store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids)
        jobs = [j for j in loaded if j.status in (JobStatus.PENDING, JobStatus.RESOLVING)]
        store.set_jobs_status(
            session,
            job_ids=[j.id for j in jobs],
            status=JobStatus.RESOLVING,  # type: ignore[misc]
            from_statuses=[JobStatus.PENDING],
            now=ctx.now(),
        )
        already_dispatched = run.metadata_dispatched_at is not None
    outcome = _Outcome.empty()
    try:
        _resolve_into(ctx, run, jobs, outcome)
    finally:
        # Whatever was settled before an error (a transient one is re-raised for a retry) is kept.
        _apply_outcome(ctx, run, outcome)
    # A delivery killed after its commit left jobs settled in the database but not in Redis: this
    # redelivery marks them again (both marks are idempotent), or the run would wait for reconcile.
    settled = {j.id: str(j.status) for j in loaded if j.status in TERMINAL_STATUSES}
    left_before = [j.id for j in loaded if j.status not in (JobStatus.PENDING, JobStatus.RESOLVING)]
    sends = _count_outcome(ctx, run_id, outcome, settled)  # type: ignore[arg-type]
    left_resolution = [*left_before, *outcome.done, *outcome.fetching, *outcome.failed, *outcome.waiting]
    barrier = ctx.completion.mark_resolved(run_id, left_resolution)  # type: ignore[arg-type]
    own_fetching = list(outcome.fetching)
    if barrier.remaining is None:  # Redis lost the run's keys: the database decides
        with ctx.session() as session:
            open_resolution = store.count_open_jobs(
                session, run_id=run_id, statuses=[JobStatus.PENDING, JobStatus.RESOLVING]
            )
        barrier_passed = open_resolution == 0
    else:
        barrier_passed = barrier.remaining <= 0
    if barrier_passed or already_dispatched:
        batches = None if already_dispatched else dispatch_metadata(ctx, run_id)
        if batches is None:  # the run's batches went out already: these jobs are late, send them alone
            batches = dispatch_metadata(ctx, run_id, own_fetching) if own_fetching else []
        sends.extend(batches)
    return sends


def _resolve_into(ctx: Context, run: Run, jobs: list[Job], outcome: _Outcome) -> None:
    yt = ctx.youtube
    kw = {"run_id": run.id, "priority": _priority(run)}
    by_kind: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_kind[job.kind].append(job)
    pending = list(jobs)
    try:
        for kind, lookup_method in (("video", yt.video_channels), ("playlist", yt.playlist_channels)):
            batch = by_kind.get(kind, [])
            if not batch:
                continue
            try:
                owners = lookup_method([j.value for j in batch], **kw)
            except PermanentYouTubeError as exc:
                for job in batch:
                    outcome.failed[job.id] = (exc.error_code, str(exc), JobStatus.FAILED)  # type: ignore[index]
                    pending.remove(job)
                continue
            method = "videos.list" if kind == "video" else "playlists.list"
            for job in batch:
                channel_id = owners.get(job.value)
                if channel_id:
                    outcome.fetching[job.id] = (channel_id, method, "certain")  # type: ignore[index]
                else:
                    what = "video" if kind == "video" else "playlist"
                    outcome.failed[job.id] = (
                        "not_found",
                        f"no public {what} has the id {job.value}",  # type: ignore[index]
                        JobStatus.FAILED,
                    )
                pending.remove(job)
        for job in [j for j in jobs if j.kind in SINGLE_KINDS]:
            try:
                _resolve_single(ctx, run, job, outcome, kw)
            except PermanentYouTubeError as exc:
                outcome.failed[job.id] = (exc.error_code, str(exc), JobStatus.FAILED)  # type: ignore[index]
            pending.remove(job)
        for job in list(pending):  # kinds that never reach resolve (defensive: never leave a job open)
            outcome.failed[job.id] = ("unexpected_kind", f"cannot resolve a {job.kind}", JobStatus.FAILED)  # type: ignore[index]
            pending.remove(job)
    except QuotaExhausted as exc:
        for job in pending:
            outcome.waiting[job.id] = exc.resets_at  # type: ignore[index]
    except NoApiKeys as exc:
        for job in pending:
            outcome.failed[job.id] = ("no_api_keys", str(exc), JobStatus.FAILED)  # type: ignore[index]


def _resolve_single(ctx: Context, run: Run, job: Job, outcome: _Outcome, kw: dict[str, Any]) -> None:
    yt = ctx.youtube
    record: ChannelRecord | None
    if job.kind == "handle":
        record = yt.channel_by_handle(job.value, **kw)
        if record is None:
            outcome.failed[job.id] = (
                "not_found",
                f"no channel has the handle @{job.value}",
                JobStatus.FAILED,
            )  # type: ignore[index]
            return
        _found(outcome, job, record, "forHandle", "certain")
    elif job.kind == "username":
        record = yt.channel_by_username(job.value, **kw)
        if record is None:
            outcome.failed[job.id] = (
                "not_found",
                f"no channel has the legacy username {job.value}",  # type: ignore[index]
                JobStatus.FAILED,
            )
            return
        _found(outcome, job, record, "forUsername", "certain")
    else:  # custom_url: no API filter exists, so the cheap probable routes first, search last
        record = yt.channel_by_handle(job.value, **kw)
        if record is not None:
            _found(outcome, job, record, "forHandle", "probable")
            return
        record = yt.channel_by_username(job.value, **kw)
        if record is not None:
            _found(outcome, job, record, "forUsername", "probable")
            return
        options = run.options or {}
        budget = int(
            options.get(
                "search_budget", ctx.settings.default_search_budget if options.get("allow_search") else 0
            )
        )
        if options.get("allow_search") and ctx.completion.take_search(run.id, budget):
            hits = yt.search_channels(job.value, max_results=1, **kw)
            if hits:
                outcome.fetching[job.id] = (hits[0].channel_id, "search", "probable")  # type: ignore[index]
            else:
                outcome.failed[job.id] = (
                    "not_found",
                    f"search found no channel for /c/{job.value}",  # type: ignore[index]
                    JobStatus.FAILED,
                )
            return
        reason = (
            "search.list (100 units) is not allowed by this run's options"
            if not options.get("allow_search")
            else "the run's search budget is spent"
        )
        outcome.failed[job.id] = (  # type: ignore[index]
            "needs_search",
            f"custom URL name '{job.value}' matched no handle or username; {reason}",
            JobStatus.NEEDS_SEARCH,
        )


def _found(outcome: _Outcome, job: Job, record: ChannelRecord, method: str, confidence: str) -> None:
    outcome.done[job.id] = (record.channel_id, method, confidence)  # type: ignore[index]
    outcome.channels[record.channel_id] = record


def _apply_outcome(ctx: Context, run: Run, outcome: _Outcome) -> None:
    """One transaction: channels and snapshots, resolutions, then the jobs' guarded transitions."""
    now = ctx.now()
    open_states = [JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING, JobStatus.WAITING_QUOTA]
    with ctx.session() as session:
        store.save_channels(session, records=outcome.channels.values(), run_id=run.id, now=now)
        jobs = {
            j.id: j
            for j in store.jobs_by_ids(session, run_id=run.id, job_ids=[*outcome.done, *outcome.fetching])
        }
        for bucket in (outcome.done, outcome.fetching):
            for job_id, (channel_id, method, confidence) in bucket.items():
                job = jobs.get(job_id)
                if job is not None and job.kind != "channel_id" and not method.startswith("cache:"):
                    store.record_resolution(
                        session,
                        kind=job.kind,
                        value=job.value,
                        channel_id=channel_id,
                        method=method,
                        confidence=confidence,
                        now=now,
                        run_id=run.id,
                    )
        for job_id, (channel_id, method, confidence) in outcome.done.items():
            store.update_job(
                session,
                job_id=job_id,
                from_statuses=open_states,
                now=now,
                status=JobStatus.DONE,
                channel_id=channel_id,
                method=method,
                confidence=confidence,
            )
        for job_id, (channel_id, method, confidence) in outcome.fetching.items():
            store.update_job(
                session,
                job_id=job_id,
                from_statuses=open_states,
                now=now,
                status=JobStatus.FETCHING,
                channel_id=channel_id,
                method=method,
                confidence=confidence,
            )
        for job_id, (code, message, status) in outcome.failed.items():
            store.update_job(
                session,
                job_id=job_id,
                from_statuses=open_states,
                now=now,
                status=status,
                error_code=code[:64],
                error_message=message[:1000],
            )
        if outcome.waiting:
            until = max(outcome.waiting.values())
            for job_id, resets_at in outcome.waiting.items():
                store.update_job(
                    session,
                    job_id=job_id,
                    from_statuses=open_states,
                    now=now,
                    status=JobStatus.WAITING_QUOTA,
                    waiting_until=resets_at,
                )
            store.set_run_waiting(session, run_id=run.id, until=until)


def _count_outcome(
    ctx: Context, run_id: str, outcome: _Outcome, settled: dict[int, str] | None = None
) -> list[Send]:
    """Mark terminal jobs in Redis (after the commit); the caller that empties the run sends finalize.

    ``settled``: jobs of the message that an earlier delivery already made terminal, marked again.
    """
    if outcome.waiting:
        ctx.completion.set_waiting(run_id, outcome.waiting, True)
    terminal: dict[int, str] = dict(settled or {})
    terminal.update({job_id: JobStatus.DONE for job_id in outcome.done})
    terminal.update({job_id: str(status) for job_id, (_c, _m, status) in outcome.failed.items()})
    return _mark_terminal(ctx, run_id, terminal, redelivered=bool(settled))


def _mark_terminal(
    ctx: Context, run_id: str, terminal: dict[int, str], *, redelivered: bool = False
) -> list[Send]:
    if not terminal:
        return []
    result = ctx.completion.mark_terminal(run_id, terminal)
    # A redelivery that finds the run at zero may follow the delivery that emptied it and was killed
    # before sending finalize: it sends finalize again (guarded, so a duplicate is harmless).
    if result.reached_zero() or (redelivered and result.remaining == 0):
        return [messages.finalize(run_id)]
    if result.remaining is None:  # Redis lost the run: ask the database whether this was the last job
        with ctx.session() as session:
            if store.count_open_jobs(session, run_id=run_id) == 0:
                return [messages.finalize(run_id)]
    return []


# --- fetch_metadata -----------------------------------------------------------------------------


def fetch_metadata_jobs(ctx: Context, run_id: str, job_ids: Sequence[int]) -> list[Send]:
    """Make sure each job's channel has fresh metadata (≤ 50 ids a call), save it, snapshot it, finish jobs."""
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status != RunStatus.RUNNING:
            return []
        loaded = store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids)
        jobs = [j for j in loaded if j.status == JobStatus.FETCHING and j.channel_id]
        # Marked again in Redis: a delivery killed after its commit did not get to count them.
        settled = {j.id: str(j.status) for j in loaded if j.status in TERMINAL_STATUSES}
        channel_ids = sorted({j.channel_id for j in jobs if j.channel_id})
        fresh = store.fresh_channel_ids(session, channel_ids=channel_ids, fresh_since=_fresh_since(ctx, run))
    outcome = _Outcome.empty()
    stale = [cid for cid in channel_ids if cid not in fresh]
    found: dict[str, ChannelRecord] = {}
    missing: set[str] = set()
    try:
        for start in range(0, len(stale), 50):
            chunk = stale[start : start + 50]
            try:
                got = ctx.youtube.channels_by_ids(chunk, run_id=run_id, priority=_priority(run))
            except PermanentYouTubeError as exc:
                for job in jobs:
                    if job.channel_id in chunk:
                        outcome.failed[job.id] = (exc.error_code, str(exc), JobStatus.FAILED)  # type: ignore[index]
                continue
            found.update(got)
            missing.update(cid for cid in chunk if cid not in got)
    except QuotaExhausted as exc:
        for job in jobs:
            if (
                job.channel_id not in fresh
                and job.channel_id not in found
                and job.channel_id not in missing
                and job.id not in outcome.failed
            ):
                outcome.waiting[job.id] = exc.resets_at  # type: ignore[index]
    except NoApiKeys as exc:
        for job in jobs:
            if job.channel_id not in fresh and job.channel_id not in found and job.id not in outcome.failed:
                outcome.failed[job.id] = ("no_api_keys", str(exc), JobStatus.FAILED)  # type: ignore[index]
    outcome.channels.update(found)
    for job in jobs:
        if job.id in outcome.failed or job.id in outcome.waiting:
            continue
        cid = job.channel_id
        if cid in fresh or cid in found:
            outcome.done[job.id] = (cid, job.method or "channel_id", job.confidence or "certain")  # type: ignore[index,arg-type]
        elif cid in missing:
            outcome.failed[job.id] = (  # type: ignore[index]
                "not_found",
                f"channel {cid} does not exist or was terminated",
                JobStatus.FAILED,
            )
    _apply_metadata(ctx, run, outcome)
    return _count_outcome(ctx, run_id, outcome, settled)  # type: ignore[arg-type]


def _apply_metadata(ctx: Context, run: Run, outcome: _Outcome) -> None:
    now = ctx.now()
    with ctx.session() as session:
        store.save_channels(session, records=outcome.channels.values(), run_id=run.id, now=now)
        store.set_jobs_status(
            session,
            job_ids=list(outcome.done),
            status=JobStatus.DONE,
            from_statuses=[JobStatus.FETCHING],
            now=now,
        )
        for job_id, (code, message, status) in outcome.failed.items():
            store.update_job(
                session,
                job_id=job_id,
                from_statuses=[JobStatus.FETCHING],
                now=now,
                status=status,
                error_code=code[:64],
                error_message=message[:1000],
            )
        if outcome.waiting:
            for job_id, resets_at in outcome.waiting.items():
                store.update_job(
                    session,
                    job_id=job_id,
                    from_statuses=[JobStatus.FETCHING],
                    now=now,
                    status=JobStatus.WAITING_QUOTA,
                    waiting_until=resets_at,
                )
            store.set_run_waiting(session, run_id=run.id, until=max(outcome.waiting.values()))


# --- retries exhausted --------------------------------------------------------------------------


def fail_exhausted(ctx: Context, run_id: str, job_ids: Iterable[int], reason: str) -> list[Send]:
    """A message ran out of retries: its open jobs fail *and are counted*, so the run still finishes."""
    now = ctx.now()
    with ctx.session() as session:
        jobs = [
            j for j in store.jobs_by_ids(session, run_id=run_id, job_ids=job_ids) if j.status in OPEN_STATUSES
        ]
        ids = [j.id for j in jobs]
        # Only jobs still in the resolution phase count toward the resolution barrier.
        resolving = [j.id for j in jobs if j.status in (JobStatus.PENDING, JobStatus.RESOLVING)]
        store.set_jobs_status(
            session,
            job_ids=ids,
            status=JobStatus.FAILED,  # type: ignore[arg-type]
            from_statuses=OPEN_STATUSES,
            now=now,
            error_code="retries_exhausted",
            error_message=reason[:1000],
        )
    outcome = _Outcome.empty()
    for job_id in ids:
        outcome.failed[job_id] = ("retries_exhausted", reason, JobStatus.FAILED)  # type: ignore[index]
    sends = _count_outcome(ctx, run_id, outcome)
    if resolving and ctx.completion.mark_resolved(run_id, resolving).reached_zero():  # type: ignore[arg-type]
        sends.extend(dispatch_metadata(ctx, run_id) or [])
    return sends


# --- finalize -----------------------------------------------------------------------------------


def finalize_run(ctx: Context, run_id: str) -> list[Send]:
    """Compute the summary and move the run to FINISHED once; only that caller publishes run_finished."""
    now = ctx.now()
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
        if run is None or run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            return []
        open_jobs = store.count_open_jobs(session, run_id=run_id)
        if open_jobs or run.status == RunStatus.PENDING:
            # Redis and the database disagree (a lost key, a rebuilt counter): the database wins and
            # reconcile will finalize the run when its jobs are really done.
            log.warning("finalize %s skipped: %d jobs still open", run_id, open_jobs)
            return []
        summary = build_summary(session, run, now=now)
        won = store.finish_run(session, run_id=run_id, summary=summary, now=now)
    if won:
        publish_finished(ctx, run_id)
    return []


def publish_finished(ctx: Context, run_id: str) -> None:
    with ctx.session() as session:
        run = store.get_run(session, run_id=run_id)
    if run is None:
        return
    event = finished_event(run)
    ctx.events.publish(event)
    with ctx.session() as session:
        store.mark_event_sent(session, run_id=run_id, now=ctx.now())


def finished_event(run: Run) -> dict[str, Any]:
    """The ``run_finished`` message body (documented in the README)."""
    summary = run.summary or {}
    return {
        "event": "run_finished",
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ytcollect:run_finished:{run.id}")),
        "run_id": run.id,
        "analysis_id": run.analysis_id,
        "owner_id": run.owner_id,
        "status": run.status,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "total_inputs": run.total_inputs,
        "total_jobs": run.total_jobs,
        "counts_by_status": summary.get("counts_by_status", {}),
        "errors_by_code": summary.get("errors_by_code", {}),
        "quota_units": summary.get("quota_units", {}),
        "error": run.error,
    }
