"""``normalize``: parse and dedupe every input, create the jobs, answer from the cache, fan out.

No network call: invalid inputs fail at once (costing nothing), channel ids and cache hits go straight
to metadata, the rest to ``resolve`` (several single lookups per message, 50 videos or playlists,
which the API answers 50 ids a call).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from models import OPEN_STATUSES, Confidence, JobStatus, ResolutionMethod, Run, RunStatus
from pipeline import messages, store
from pipeline.context import Context
from pipeline.inputs import InputKind, PlannedJob, plan_inputs
from pipeline.messages import Send
from pipeline.stages.advance import RESOLUTION_STATES, Progress, advance, after_jobs

BATCH_KINDS = (InputKind.VIDEO, InputKind.PLAYLIST)  # resolved 50 per call
SINGLE_KINDS = (
    InputKind.HANDLE,
    InputKind.USERNAME,
    InputKind.CUSTOM_URL,
)  # one lookup a call, several a message
# Open jobs per fan-out part: a run with more has its resolve messages sent by parts, in parallel.
FAN_OUT_JOBS = 1_000


def normalize_run(ctx: Context, run_id: str) -> list[Send]:
    """Create the run's jobs once (under a row lock), register its counters, and fan out the open jobs.

    Jobs are never loaded as objects: one streamed pass over ``(id, kind, status)`` rows counts them
    and collects the open ones, so a 100,000-input run stays within a worker's memory.
    """
    now = ctx.now()
    total = 0
    unresolved: list[store.JobRef] = []
    terminal: dict[int, str] = {}
    with ctx.session() as session:
        run = store.lock_run(session, run_id=run_id)
        if run is None or run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            return []
        if run.status == RunStatus.PENDING:
            _create_jobs(ctx, session, run, now)
        dispatched = run.metadata_dispatched_at is not None
        for job in store.job_refs(session, run_id=run_id):
            total += 1
            if job.status in RESOLUTION_STATES:
                unresolved.append(job)
            elif job.status not in OPEN_STATUSES:
                terminal[job.id] = job.status

    ctx.completion.register(run_id, total_jobs=total, unresolved_jobs=len(unresolved))
    # redelivered=True: a normalize delivered again must send again the finalize that a delivery
    # killed after its mark never sent (finalize is guarded, a duplicate is harmless).
    progress = Progress(
        terminal=terminal, left_resolution=[], metadata_dispatched=dispatched, redelivered=True
    )
    # No jobs at all: a video re-poll pass (its work is videos), or a run that finishes at once.
    sends = after_jobs(ctx, run_id) if not total else []
    sends.extend(fan_out(ctx, run_id, unresolved))
    sends.extend(advance(ctx, run_id, progress))
    return sends


def fan_out(ctx: Context, run_id: str, jobs: Sequence[store.JobRef]) -> list[Send]:
    """The open jobs' resolve messages, or, for a big run, messages that each send FAN_OUT_JOBS of them.

    Every publish is confirmed by the broker one at a time: tens of thousands of them from this one
    delivery would take minutes (and its time limit); FAN_OUT_JOBS each spread them over the workers.
    """
    if len(jobs) <= FAN_OUT_JOBS:
        return resolve_messages(ctx, run_id, list(jobs))
    by_kind: dict[str, list[int]] = defaultdict(list)
    for job in jobs:
        by_kind[job.kind].append(job.id)
    sends: list[Send] = []
    for kind, ids in by_kind.items():
        # One kind per part, and a whole number of resolve batches in each: every batch stays full.
        step = jobs_per_resolve_message(ctx, kind)
        part = max(step, FAN_OUT_JOBS // step * step)
        sends.extend(
            messages.fan_out(run_id, kind, ids[start : start + part]) for start in range(0, len(ids), part)
        )
    return sends


def fan_out_part(ctx: Context, run_id: str, kind: str, job_ids: Sequence[int]) -> list[Send]:
    """One part of a big run's fan-out: its jobs' resolve messages (a redelivery sends them again, and
    ``resolve`` skips the jobs an earlier copy settled)."""
    return resolve_messages(
        ctx, run_id, [store.JobRef(job_id, kind, JobStatus.PENDING) for job_id in job_ids]
    )


def jobs_per_resolve_message(ctx: Context, kind: str) -> int:
    """A video or playlist message is one 50-id API call; a single-lookup message, several calls."""
    if kind in BATCH_KINDS:
        return ctx.settings.resolve_batch_size
    return ctx.settings.resolve_lookups_per_message


def resolve_messages(ctx: Context, run_id: str, jobs: list[Any]) -> list[Send]:
    """Videos and playlists by kind in messages of RESOLVE_BATCH_SIZE (one API call each); handles,
    usernames and custom URLs together in messages of RESOLVE_LOOKUPS_PER_MESSAGE."""
    groups: dict[str, list[int]] = defaultdict(list)
    for job in jobs:
        groups[job.kind if job.kind in BATCH_KINDS else "single"].append(job.id)
    sends: list[Send] = []
    for group, ids in groups.items():
        step = jobs_per_resolve_message(ctx, group)
        sends.extend(
            messages.resolve(run_id, ids[start : start + step]) for start in range(0, len(ids), step)
        )
    return sends


# The run option (set by ``pipeline.runs.start_run``, never by a sender) that holds each input's line in
# the file it came from, when blank lines there were skipped: results then number lines as ``plan`` does.
FILE_LINE_NUMBERS = "file_line_numbers"


def _line_numbers(run: Run, count: int) -> list[int]:
    given = run.options.get(FILE_LINE_NUMBERS)
    if isinstance(given, list) and len(given) == count and all(isinstance(n, int) for n in given):
        return given
    return list(range(1, count + 1))


def _create_jobs(ctx: Context, session: Session, run: Run, now: datetime) -> None:
    settings = ctx.settings
    lines = list(run.raw_inputs or [])
    line_numbers = _line_numbers(run, len(lines))
    plan = plan_inputs(lines, max_length=settings.max_input_length)
    use_cache = bool(run.options.get("use_resolution_cache", True))
    keys = [store.dedupe_key(j.kind, j.value) for j in plan.jobs]
    cacheable = [
        k
        for k, j in zip(keys, plan.jobs, strict=True)
        if j.kind not in (InputKind.INVALID, InputKind.CHANNEL_ID)
    ]
    cache_fresh_since = now - timedelta(days=settings.resolution_cache_days)
    cache = (
        store.cached_resolutions(session, keys=cacheable, fresh_since=cache_fresh_since) if use_cache else {}
    )

    def job_row(key: str, planned: PlannedJob) -> dict[str, Any]:
        row: dict[str, Any] = {
            "run_id": run.id,
            "kind": str(planned.kind),
            "value": planned.value,
            "dedupe_key": key,
            "first_line_no": line_numbers[planned.line_indexes[0]],
            "status": JobStatus.PENDING,
            "note": (planned.reason or None) if planned.kind != InputKind.INVALID else None,
            "created_at": now,
            "updated_at": now,
            "channel_id": None,
            "method": None,
            "confidence": None,
            "error_code": None,
            "error_message": None,
        }
        if planned.kind == InputKind.INVALID:
            row.update(
                status=JobStatus.FAILED, error_code="invalid_input", error_message=planned.reason[:1000]
            )
        elif planned.kind == InputKind.CHANNEL_ID:
            row.update(
                status=JobStatus.FETCHING,
                channel_id=planned.value,
                method=ResolutionMethod.CHANNEL_ID,
                confidence=Confidence.CERTAIN,
            )
        elif key in cache:
            hit = cache[key]
            row.update(
                status=JobStatus.FETCHING,
                channel_id=hit.channel_id,
                method=f"cache:{hit.method}",
                confidence=hit.confidence,
            )
        return row

    # Rows are built a chunk at a time as the inserts consume them, and the ids come back as a plain
    # array in plan order: nothing per job outlives its chunk but the plan itself.
    store.insert_jobs(
        session, rows=(job_row(key, planned) for key, planned in zip(keys, plan.jobs, strict=True))
    )
    index_of = {key: index for index, key in enumerate(keys)}
    ids = array("q", bytes(8 * len(keys)))
    for key, job_id in store.job_ids_by_key(session, run_id=run.id):
        ids[index_of[key]] = job_id
    del index_of
    line_rows = (
        {
            "run_id": run.id,
            "line_no": line_numbers[line.index],
            "text": line.text[: settings.max_input_length + 1],
            "job_id": ids[line.job_index],
        }
        for line in plan.lines
    )
    store.insert_run_inputs(session, rows=line_rows)
    store.start_run_normalized(
        session, run_id=run.id, total_inputs=len(lines), total_jobs=len(plan.jobs), now=now
    )
