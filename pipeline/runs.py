"""The functions a Python backend calls: start a run, read its status and results, control it.

``start_run`` records the run in the caller's process (so its status is readable at once) and hands
``normalize`` to the caller's ``Sender``; a backend in another language sends the ``start_run``
message instead (README). The domain never imports the actor layer: whoever calls in hands over its
context and its sender (``actors.runtime`` has both for a process configured from Settings).
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol, cast

from sqlmodel import Session

from models import TERMINAL_STATUSES, JobStatus, Run, RunStatus
from pipeline import store
from pipeline.context import Context
from pipeline.errors import AmbiguousRunId, InvalidRequest, RunNotFound
from pipeline.messages import Send
from pipeline.stages import RunRequest, cancel_open_jobs, id_text, record_run, validate_run_request
from pipeline.stages.normalize import FILE_LINE_NUMBERS
from pipeline.youtube.quota import BUCKETS, quota_units, quota_wait_code

LIVE_OPEN_KEY = "IN_PROGRESS"  # PENDING, RESOLVING and FETCHING jobs, as Redis counts them together


class Sender(Protocol):
    """Sends the messages a pipeline function asks for (the actor layer's ``send_all``, a test's list)."""

    def __call__(self, sends: Sequence[Send], /) -> None: ...


def start_run(
    analysis_id: str | int,
    owner_id: str | int,
    channel_inputs: Sequence[str],
    options: dict[str, Any] | None = None,
    *,
    ctx: Context,
    send: Sender,
    run_id: str | None = None,
    line_numbers: Sequence[int] | None = None,
) -> str:
    """Record a run and enqueue it; returns its id. Raises InvalidRequest on bad input, before any write.

    ``line_numbers``: each input's line in the file it was read from (blank lines skipped), so that
    results number lines as the file and ``plan`` do; by default inputs are numbered 1, 2, 3, ….
    ``analysis_id`` and ``owner_id`` may be integers (the seed backend's): status and run_finished give
    them back as integers, and owner 5 is owner "5" for isolation.
    """
    run_id = run_id or str(uuid.uuid4())
    request = validate_run_request(
        ctx,
        run_id=run_id,
        analysis_id=analysis_id,
        owner_id=owner_id,
        channel_inputs=list(channel_inputs),
        options=options,
    )
    if line_numbers is not None:
        numbers = list(line_numbers)
        increasing = all(isinstance(n, int) and n >= 1 for n in numbers) and all(
            a < b for a, b in itertools.pairwise(numbers)
        )
        if len(numbers) != len(request.channel_inputs) or not increasing:
            raise InvalidRequest("line_numbers must give one increasing line number (from 1) per input")
        if numbers != list(range(1, len(numbers) + 1)):
            request = dataclasses.replace(request, options={**request.options, FILE_LINE_NUMBERS: numbers})
    send(record_run(ctx, request))
    return run_id


def get_run_status(run_id: str, owner_id: str | int | None = None, *, ctx: Context) -> dict[str, Any]:
    """The run's state: live counts from Redis (constant time), the database when Redis has none.

    A backend polls this while a run works, so that path is one query for the run's row (autocommit:
    one round trip, no BEGIN and ROLLBACK around it) and one Redis pipeline; no ORM object.
    """
    with ctx.autocommit.connect() as conn:
        run = store.run_status_fields(conn, run_id=run_id)
    if run is None or (owner_id is not None and run.owner_id != id_text(owner_id)):
        raise RunNotFound(run_id)
    live = ctx.completion.live(run_id) if run.status == RunStatus.RUNNING else None
    waiting: dict[str, dict[str, Any]] = {}
    if live is None or run.waiting_quota_until is not None:
        with ctx.session() as session:
            if run.waiting_quota_until is not None:
                waiting = _waiting_by_bucket(session, run_id)
            if live is None:
                counts, remaining, units = _database_counts(session, run)
    if live is not None:
        counts = {k: v for k, v in live.counts.items() if v}
        if live.waiting:
            counts[JobStatus.WAITING_QUOTA] = live.waiting
        if live.remaining - live.waiting > 0:
            counts[LIVE_OPEN_KEY] = live.remaining - live.waiting
        remaining = live.remaining
        units = quota_units(dict(live.units))
    total = run.total_jobs
    if run.status in (RunStatus.FINISHED, RunStatus.CANCELLED):
        progress = 1.0
    else:
        progress = round((total - remaining) / total, 4) if total else 0.0
    answer: dict[str, Any] = {
        "run_id": run.id,
        "analysis_id": _sent_id(run, "analysis_id"),
        "owner_id": _sent_id(run, "owner_id"),
        "run_status": run.status,
        "kind": run.kind,
        "progress": progress,
        "status_counts": counts,
        "total_inputs": run.total_inputs,
        "total_jobs": total,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "quota_units": units,
        "waiting_quota_until": _iso(run.waiting_quota_until),
        "waiting_quota": waiting,
        "parent_run_id": run.parent_run_id,
        "error": run.error,
        "counts_source": "database" if live is None else "redis",
    }
    if run.summary is not None:
        answer["summary"] = run.summary
    return answer


def list_runs(
    owner_id: str | int | None,
    *,
    statuses: Sequence[str] | None = None,
    analysis_id: str | int | None = None,
    offset: int = 0,
    limit: int = 50,
    ctx: Context,
) -> dict[str, Any]:
    """An owner's runs (everyone's with None), newest first, a page at a time: what each is and how far it got."""
    with ctx.session() as session:
        runs, total = store.list_runs(
            session,
            owner_id=None if owner_id is None else id_text(owner_id),
            statuses=statuses,
            analysis_id=None if analysis_id is None else id_text(analysis_id),
            offset=offset,
            limit=limit,
        )
    items = []
    for run in runs:
        if run.status in (RunStatus.FINISHED, RunStatus.CANCELLED):
            progress = 1.0
        else:
            live = ctx.completion.live(run.id) if run.status == RunStatus.RUNNING else None
            done = run.total_jobs - live.remaining if live is not None else 0
            progress = round(done / run.total_jobs, 4) if run.total_jobs and live is not None else 0.0
        items.append(
            {
                "run_id": run.id,
                "analysis_id": run.sent_id("analysis_id"),
                "owner_id": run.sent_id("owner_id"),
                "run_status": run.status,
                "kind": run.kind,
                "progress": progress,
                "total_inputs": run.total_inputs,
                "total_jobs": run.total_jobs,
                "created_at": _iso(run.created_at),
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "parent_run_id": run.parent_run_id,
                "error": run.error,
            }
        )
    next_offset = offset + len(items) if offset + len(items) < total else None
    return {"items": items, "total": total, "offset": offset, "limit": limit, "next_offset": next_offset}


def match_run_id(text: str, owner_id: str | None = None, *, ctx: Context) -> str:
    """The run ``text`` names: its whole id, or a prefix only one run's id starts with.

    Raises RunNotFound when none matches and AmbiguousRunId (with the candidates) when several do.
    """
    with ctx.session() as session:
        if store.get_run(session, run_id=text) is not None:
            return text
        candidates = store.run_ids_starting_with(session, prefix=text, limit=6) if text else []
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RunNotFound(text)
    raise AmbiguousRunId(text, candidates)


def get_run_results(
    run_id: str,
    owner_id: str | int | None = None,
    *,
    ctx: Context,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """One row per original input line, in input order: duplicates and invalid lines included."""
    with ctx.session() as session:
        _owned_run(session, run_id, owner_id)
        rows = store.run_results(session, run_id=run_id, offset=offset, limit=limit)
    results = []
    for line, job, channel in rows:
        results.append(
            {
                "line": line.line_no,
                "input": line.text,
                "job_id": line.job_id,
                "kind": job.kind if job else None,
                "value": job.value if job and job.kind != "invalid" else "",
                "status": job.status if job else None,
                "channel_id": job.channel_id if job else None,
                "method": job.method if job else None,
                "confidence": job.confidence if job else None,
                "note": job.note if job else None,
                "error_code": job.error_code if job else None,
                "error_message": job.error_message if job else None,
                "title": channel.title if channel else None,
                "handle": channel.handle if channel else None,
                "subscribers": channel.subscriber_count
                if channel and not channel.hidden_subscriber_count
                else None,
                "views": channel.view_count if channel else None,
                "videos": channel.video_count if channel else None,
            }
        )
    return results


def _database_counts(session: Session, run: Any) -> tuple[dict[str, int], int, dict[str, Any]]:
    """Status counts, open jobs and units from the tables: a finished run, or one Redis has lost."""
    raw = store.count_jobs_by_status(session, run_id=run.id)
    counts: dict[str, int] = {}
    for job_status, n in raw.items():
        waiting_or_terminal = job_status in TERMINAL_STATUSES or job_status == JobStatus.WAITING_QUOTA
        key = job_status if waiting_or_terminal else LIVE_OPEN_KEY
        counts[key] = counts.get(key, 0) + n
    remaining = sum(n for s, n in raw.items() if s not in TERMINAL_STATUSES)
    by_method = (run.summary or {}).get("quota_units", {}).get("by_method") or store.units_by_method(
        session, run_id=run.id
    )
    return counts, remaining, quota_units(by_method)


def _waiting_by_bucket(session: Session, run_id: str) -> dict[str, dict[str, Any]]:
    """``{"search": {"waiting": 3, "resumes_at": …}}``: what the run's parked work waits for, per bucket."""
    found = store.waiting_by_code(session, run_id=run_id)
    by_bucket: dict[str, dict[str, Any]] = {}
    for bucket in BUCKETS:
        if (entry := found.get(quota_wait_code(bucket))) is not None:
            by_bucket[bucket] = {"waiting": entry[0], "resumes_at": _iso(entry[1])}
    return by_bucket


def _sent_id(run: Any, name: str) -> str | int:
    """``Run.sent_id`` for a status row: the id with the JSON type it came with."""
    return cast("str | int", (run.given_ids or {}).get(name, getattr(run, name)))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _owned_run(session: Session, run_id: str, owner_id: str | int | None) -> Run:
    """The run, or RunNotFound when it does not exist or belongs to another owner (never "forbidden")."""
    run = store.get_run(session, run_id=run_id)
    if run is None or (owner_id is not None and run.owner_id != id_text(owner_id)):
        raise RunNotFound(run_id)
    return run


def cancel_run(run_id: str, owner_id: str | int | None = None, *, ctx: Context) -> bool:
    """Cancel a run: it ends CANCELLED once, publishing run_finished. False when it had already ended."""
    with ctx.session() as session:
        _owned_run(session, run_id, owner_id)
    return cancel_open_jobs(ctx, run_id)


def retry_inputs(
    run_id: str, owner_id: str | int | None = None, *, allow_search: bool = False, ctx: Context
) -> tuple[list[str], int]:
    """The lines a retry would send, and how many it leaves out because they can only fail the same way.

    Without search a NEEDS_SEARCH line can only need a search again, and a line not found within
    NEGATIVE_CACHE_HOURS is answered "not found" by the negative cache: retrying either spends
    nothing and learns nothing. Invalid lines are never retried.
    """
    hours = ctx.settings.negative_cache_hours
    remembered_since = ctx.now() - timedelta(hours=hours)
    with ctx.session() as session:
        run = _owned_run(session, run_id, owner_id)
        if run.status not in (RunStatus.FINISHED, RunStatus.CANCELLED):
            raise InvalidRequest(f"run {run_id} is {run.status}: only a finished run can be retried")
        lines, skipped = [], 0
        for job, text in store.jobs_needing_attention(session, run_id=run_id, limit=1_000_000):
            if job.error_code == "invalid_input":
                continue
            same_again = not allow_search and (
                job.status == JobStatus.NEEDS_SEARCH
                or (job.error_code == "not_found" and hours > 0 and job.updated_at >= remembered_since)
            )
            if same_again:
                skipped += 1
            else:
                lines.append(text)
    return lines, skipped


def retry_run(
    run_id: str,
    owner_id: str | int | None = None,
    *,
    allow_search: bool = False,
    search_budget: int | None = None,
    ctx: Context,
    send: Sender,
) -> str | None:
    """Start a new run, linked to this one, with the inputs :func:`retry_inputs` picks.

    Returns the new run id, or None when there is nothing to retry. ``search_budget`` defaults to
    the DEFAULT_SEARCH_BUDGET setting.
    """
    lines, _skipped = retry_inputs(run_id, owner_id, allow_search=allow_search, ctx=ctx)
    if not lines:
        return None
    with ctx.session() as session:
        run = _owned_run(session, run_id, owner_id)
    budget = ctx.settings.default_search_budget if search_budget is None else search_budget
    # A person who allows a search this time wants the API asked again, not the negative cache.
    options: dict[str, Any] = (
        {"allow_search": True, "search_budget": budget, "recheck_misses": True} if allow_search else {}
    )
    new_id = str(uuid.uuid4())
    request = RunRequest(new_id, run.analysis_id, run.owner_id, lines, options, dict(run.given_ids or {}))
    send(record_run(ctx, request, parent_run_id=run_id))
    return new_id


def delete_run(run_id: str, owner_id: str | int | None = None, *, ctx: Context) -> None:
    """Delete a run with its inputs, jobs, snapshots and API-call records; shared channels stay."""
    with ctx.session() as session:
        run = _owned_run(session, run_id, owner_id)
        if run.status in (RunStatus.PENDING, RunStatus.RUNNING):
            raise InvalidRequest(f"run {run_id} is {run.status}: cancel it before deleting it")
        store.delete_run(session, run_id=run_id)
    ctx.completion.forget(run_id)
