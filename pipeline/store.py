"""Every database query of the pipeline: keyword-only functions that take a session.

Writes are idempotent by construction (guarded ``UPDATE ... WHERE status IN (...)`` and upserts on
unique keys), because every stage may run twice. All SQL goes through bound parameters.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from models import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    ApiCall,
    Channel,
    ChannelSnapshot,
    Confidence,
    Job,
    JobStatus,
    Resolution,
    ResolutionChange,
    ResolutionMethod,
    Run,
    RunInput,
    RunKind,
    RunStatus,
    RunVideoBatch,
    RunVideoChannel,
)
from pipeline.inputs import InputKind
from pipeline.youtube.quota import DEFAULT, bucket_of, quota_wait_code
from pipeline.youtube.records import ApiCallRecord, ChannelRecord

_CHUNK = 5_000  # rows per bulk statement: keeps parameter lists well inside driver limits


def dedupe_key(kind: str, value: str) -> str:
    """The hashed ``(kind, value)`` that makes a job unique within a run and keys the resolution cache."""
    return hashlib.sha256(f"{kind}\x00{value}".encode("utf-8", "surrogatepass")).hexdigest()


def _insert(session: Session, table: Any) -> Any:
    """A dialect-specific INSERT so ``on_conflict_do_nothing/do_update`` work on PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _table(model: type[SQLModel]) -> sa.Table:
    """The Core table behind a SQLModel class (SQLModel sets ``__table__`` without declaring it)."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def _rowcount(session: Session, stmt: sa.Executable) -> int:
    """Rows an UPDATE or DELETE touched (its CursorResult's rowcount; inserts use ``_inserted``)."""
    result: sa.CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
    return result.rowcount


def _inserted(session: Session, stmt: Any, key: Any) -> bool:
    """Whether an ``INSERT … ON CONFLICT DO NOTHING`` inserted its row, told by RETURNING ``key``.

    Not by rowcount: for a Core insert SQLAlchemy 2.1 with psycopg 3 reports -1 whatever happened,
    so every insert_run looked like a resend and a caller that starts work only on a new row never did.
    """
    return session.execute(stmt.returning(key)).first() is not None


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _chunks_of(rows: Iterable[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    """``rows`` (any iterable, a generator included) a list of ``size`` at a time: only one chunk is built."""
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# --- runs ---------------------------------------------------------------------------------------


def insert_run(session: Session, *, run: Run) -> bool:
    """Record a run once; False when a run with that id already exists (a resent ``start_run``)."""
    table = _table(Run)
    values = {c.name: getattr(run, c.name) for c in table.columns}
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=["id"])
    return _inserted(session, stmt, table.c.id)


def get_run(session: Session, *, run_id: str) -> Run | None:
    return session.get(Run, run_id)


# What a status answer shows of a run: every column but the raw inputs (100,000 lines until normalize).
_STATUS_COLUMNS = (
    "id",
    "analysis_id",
    "owner_id",
    "given_ids",
    "status",
    "kind",
    "total_inputs",
    "total_jobs",
    "created_at",
    "started_at",
    "finished_at",
    "waiting_quota_until",
    "parent_run_id",
    "error",
    "summary",
)


def run_status_fields(session: Session | sa.Connection, *, run_id: str) -> sa.Row[Any] | None:
    """The run's fields a status answer needs, as one Core row (no ORM object, no raw inputs)."""
    table = _table(Run)
    stmt = sa.select(*(table.c[name] for name in _STATUS_COLUMNS)).where(table.c.id == run_id)
    return session.execute(stmt).first()


def list_runs(
    session: Session,
    *,
    owner_id: str | None,
    statuses: Sequence[str] | None = None,
    analysis_id: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Run], int]:
    """One owner's runs (everyone's with None), newest first, with how many match in all (for paging)."""
    where: list[sa.ColumnElement[bool]] = []
    if owner_id is not None:
        where.append(col(Run.owner_id) == owner_id)
    if statuses:
        where.append(col(Run.status).in_(list(statuses)))
    if analysis_id is not None:
        where.append(col(Run.analysis_id) == analysis_id)
    total = int(session.execute(sa.select(sa.func.count()).select_from(Run).where(*where)).scalar_one())
    query = (
        select(Run)
        .where(*where)
        .order_by(col(Run.created_at).desc(), col(Run.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query)), total


def run_ids_starting_with(session: Session, *, prefix: str, limit: int) -> list[str]:
    """Run ids that begin with ``prefix`` (a literal: ``%`` and ``_`` match only themselves)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        select(Run.id).where(col(Run.id).like(escaped + "%", escape="\\")).order_by(col(Run.id)).limit(limit)
    )
    return list(session.exec(query))


def lock_run(session: Session, *, run_id: str) -> Run | None:
    """The run row, locked for the rest of the transaction where the database can (PostgreSQL)."""
    return session.exec(select(Run).where(Run.id == run_id).with_for_update()).first()


def start_run_normalized(
    session: Session, *, run_id: str, total_inputs: int, total_jobs: int, now: datetime
) -> bool:
    """PENDING → RUNNING once normalize has created the jobs; drops the raw inputs kept until then."""
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.status) == RunStatus.PENDING)
        .values(
            status=RunStatus.RUNNING,
            started_at=now,
            total_inputs=total_inputs,
            total_jobs=total_jobs,
            raw_inputs=None,
        )
    )
    return _rowcount(session, stmt) == 1


def claim_metadata_dispatch(session: Session, *, run_id: str, now: datetime) -> bool:
    """The resolution barrier: exactly one caller wins the right to fan out the run's metadata batches."""
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.metadata_dispatched_at).is_(None))
        .values(metadata_dispatched_at=now)
    )
    return _rowcount(session, stmt) == 1


def end_run(
    session: Session, *, run_id: str, status: RunStatus, summary: dict[str, Any], now: datetime
) -> bool:
    """The guarded transition to FINISHED or CANCELLED: True only for the one caller that made it."""
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.status).in_([RunStatus.PENDING, RunStatus.RUNNING]))
        .values(status=status, finished_at=now, summary=summary, waiting_quota_until=None)
    )
    return _rowcount(session, stmt) == 1


def mark_event_sent(session: Session, *, run_id: str, now: datetime) -> None:
    session.execute(sa.update(Run).where(col(Run.id) == run_id).values(finished_event_sent_at=now))


def set_run_waiting(session: Session, *, run_id: str, until: datetime | None) -> None:
    session.execute(sa.update(Run).where(col(Run.id) == run_id).values(waiting_quota_until=until))


# --- inputs and jobs ----------------------------------------------------------------------------


class JobRef(NamedTuple):
    """A job's id, kind and status: what normalize's counts and fan-out need, without an ORM object."""

    id: int
    kind: str
    status: str


def insert_jobs(session: Session, *, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk-create jobs a chunk at a time (rows may be a generator); one that exists already (same run
    and key) is left as it is. No RETURNING: psycopg pipelines a plain executemany, where an
    ``INSERT … VALUES`` of thousands of rows costs seconds of client-side query parsing."""
    for chunk in _chunks_of(rows):
        stmt = _insert(session, _table(Job)).on_conflict_do_nothing(index_elements=["run_id", "dedupe_key"])
        session.execute(stmt, chunk)


def job_ids_by_key(session: Session, *, run_id: str) -> Iterator[tuple[str, int]]:
    """The run's ``(dedupe_key, id)`` pairs, streamed."""
    stmt = (
        sa.select(col(Job.dedupe_key), col(Job.id))
        .where(col(Job.run_id) == run_id)
        .execution_options(yield_per=_CHUNK)
    )
    for key, job_id in session.execute(stmt):
        yield str(key), int(job_id)


def job_refs(session: Session, *, run_id: str, statuses: Iterable[str] | None = None) -> Iterator[JobRef]:
    """The run's jobs as ``(id, kind, status)`` in id order, streamed: a 100,000-job run is never a list."""
    stmt = sa.select(col(Job.id), col(Job.kind), col(Job.status)).where(col(Job.run_id) == run_id)
    if statuses is not None:
        stmt = stmt.where(col(Job.status).in_(list(statuses)))
    stmt = stmt.order_by(col(Job.id)).execution_options(yield_per=_CHUNK)
    for job_id, kind, status in session.execute(stmt):
        yield JobRef(job_id, kind, status)


def insert_run_inputs(session: Session, *, rows: Iterable[dict[str, Any]]) -> None:
    for chunk in _chunks_of(rows):
        stmt = _insert(session, _table(RunInput)).on_conflict_do_nothing(index_elements=["run_id", "line_no"])
        session.execute(stmt, chunk)


def fetching_jobs(
    session: Session, *, run_id: str, job_ids: Iterable[int] | None = None
) -> list[tuple[int, str | None]]:
    """``(id, channel_id)`` of the run's FETCHING jobs (of ``job_ids`` only, when given), as tuples: the
    barrier dispatch of a 100,000-input run reads tens of thousands of them."""
    where = [col(Job.run_id) == run_id, col(Job.status) == JobStatus.FETCHING]
    stmt = sa.select(col(Job.id), col(Job.channel_id)).order_by(col(Job.id))
    if job_ids is None:
        return [(job_id, cid) for job_id, cid in session.execute(stmt.where(*where))]
    found: list[tuple[int, str | None]] = []
    for chunk in _chunks(list(job_ids)):
        rows = session.execute(stmt.where(*where, col(Job.id).in_(list(chunk))))
        found.extend((job_id, cid) for job_id, cid in rows)
    return found


def jobs_by_ids(session: Session, *, run_id: str, job_ids: Iterable[int]) -> list[Job]:
    ids = list(job_ids)
    if not ids:
        return []
    return list(
        session.exec(select(Job).where(Job.run_id == run_id, col(Job.id).in_(ids)).order_by(col(Job.id)))
    )


def set_jobs_status(
    session: Session,
    *,
    job_ids: Iterable[int],
    status: str,
    from_statuses: Iterable[str],
    now: datetime,
    **values: Any,
) -> int:
    """Guarded bulk transition: only jobs still in one of ``from_statuses`` move.

    The rows are locked in id order first (see ``lock_jobs``): an UPDATE … IN locks them in whatever
    order its scan meets them, and a cancel doing that deadlocked with resolve deliveries committing
    the same run's jobs. A chunk of ids per statement: cancelling a 100,000-job run would pass
    PostgreSQL's 65,535 parameters.
    """
    allowed = [str(s) for s in from_statuses]
    moved = 0
    for chunk in _chunks(sorted(set(job_ids))):
        locked = sorted(lock_jobs(session, job_ids=chunk, statuses=allowed))
        if not locked:
            continue
        stmt = (
            sa.update(Job)
            .where(col(Job.id).in_(locked), col(Job.status).in_(allowed))
            .values(status=status, updated_at=now, **values)
        )
        moved += _rowcount(session, stmt)
    return moved


def update_job(
    session: Session, *, job_id: int, from_statuses: Iterable[str], now: datetime, **values: Any
) -> bool:
    """Guarded update of one job (its own channel id, method, error...)."""
    stmt = (
        sa.update(Job)
        .where(col(Job.id) == job_id, col(Job.status).in_(list(from_statuses)))
        .values(updated_at=now, **values)
    )
    return _rowcount(session, stmt) == 1


def lock_jobs(session: Session, *, job_ids: Iterable[int], statuses: Iterable[str]) -> dict[int, str]:
    """The status of each of these jobs that is in one of ``statuses``, locked until the transaction ends.

    Always in id order: every transaction that writes several jobs locks them here first, so two of
    them (a resolve delivery's commit, a cancel, a reconcile tick) wait for each other, never deadlock.
    """
    table = _table(Job)
    allowed = sorted({str(s) for s in statuses})
    locked: dict[int, str] = {}
    for chunk in _chunks(sorted(set(job_ids))):  # ascending chunks: the whole lot stays in id order
        query = (
            sa.select(table.c.id, table.c.status)
            .where(table.c.id.in_(list(chunk)), table.c.status.in_(allowed))
            .order_by(table.c.id)
            .with_for_update()
        )
        locked.update((job_id, job_status) for job_id, job_status in session.execute(query))
    return locked


def update_jobs(
    session: Session, *, rows: Sequence[dict[str, Any]], from_statuses: Iterable[str], now: datetime
) -> None:
    """Guarded update of many jobs, each with its own values (``{"id": …, column: value…}``).

    One executemany per set of columns, on the Core table: the ORM's bulk UPDATE re-evaluated its
    criteria against the session for every job, a quarter of a resolve message's CPU.
    """
    if not rows:
        return
    table = _table(Job)
    allowed = [str(s) for s in from_statuses]
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for names, group in shapes.items():
        stmt = (
            table.update()
            # Not ``in_``: an expanding IN cannot take part in an executemany.
            .where(table.c.id == sa.bindparam("job_id_"), sa.or_(*(table.c.status == s for s in allowed)))
            .values(updated_at=now, **{name: sa.bindparam(f"{name}_") for name in names})
        )
        session.execute(stmt, [{"job_id_": r["id"], **{f"{n}_": r[n] for n in names}} for r in group])


def count_jobs_by_status(session: Session, *, run_id: str) -> dict[str, int]:
    rows = session.execute(
        sa.select(col(Job.status), sa.func.count()).where(col(Job.run_id) == run_id).group_by(col(Job.status))
    )
    return {status: int(n) for status, n in rows}


def count_open_jobs(session: Session, *, run_id: str, statuses: Iterable[str] = OPEN_STATUSES) -> int:
    stmt = sa.select(sa.func.count()).where(col(Job.run_id) == run_id, col(Job.status).in_(list(statuses)))
    return int(session.execute(stmt).scalar_one())


# A job parked in resolution for the default bucket is still unresolved for the run's barrier: the
# metadata it would be batched with is paid from that same dry bucket, so holding it costs nothing, and
# opening the barrier early cost an extra, part-empty batch after the reset. A job waiting for the
# search bucket does not hold the barrier (the default bucket can pay the run's metadata meanwhile).
DEFAULT_WAIT_CODE = quota_wait_code(DEFAULT)


def count_unresolved_jobs(session: Session, *, run_id: str) -> int:
    """Jobs that keep the run's resolution barrier closed: resolving, or waiting in resolution for the
    default bucket."""
    stmt = sa.select(sa.func.count()).where(
        col(Job.run_id) == run_id,
        sa.or_(
            col(Job.status).in_([JobStatus.PENDING, JobStatus.RESOLVING]),
            sa.and_(
                col(Job.status) == JobStatus.WAITING_QUOTA,
                col(Job.channel_id).is_(None),
                col(Job.error_code) == DEFAULT_WAIT_CODE,
            ),
        ),
    )
    return int(session.execute(stmt).scalar_one())


def terminal_and_open_jobs(
    session: Session, *, run_id: str
) -> tuple[dict[int, str], list[int], int, list[int]]:
    """What ``RunCompletion.rebuild`` needs: terminal statuses, open ids, unresolved count (as
    ``count_unresolved_jobs`` counts them), waiting ids."""
    terminal: dict[int, str] = {}
    open_ids: list[int] = []
    waiting: list[int] = []
    unresolved = 0
    rows = session.execute(
        sa.select(col(Job.id), col(Job.status), col(Job.channel_id), col(Job.error_code)).where(
            col(Job.run_id) == run_id
        )
    )
    for job_id, status, channel_id, error_code in rows:
        if status in TERMINAL_STATUSES:
            terminal[job_id] = status
            continue
        open_ids.append(job_id)
        if status == JobStatus.WAITING_QUOTA:
            waiting.append(job_id)
            if channel_id is None and error_code == DEFAULT_WAIT_CODE:
                unresolved += 1
        elif channel_id is None:
            unresolved += 1
    return terminal, open_ids, unresolved, waiting


# --- resolutions --------------------------------------------------------------------------------


class CachedResolution(NamedTuple):
    channel_id: str
    method: str
    confidence: str


def cached_resolutions(
    session: Session, *, keys: Sequence[str], fresh_since: datetime
) -> dict[str, CachedResolution]:
    """Resolutions confirmed since ``fresh_since``, keyed by their dedupe key (tuples, not ORM objects)."""
    found: dict[str, CachedResolution] = {}
    for chunk in _chunks(keys):
        query = sa.select(
            col(Resolution.dedupe_key),
            col(Resolution.channel_id),
            col(Resolution.method),
            col(Resolution.confidence),
        ).where(col(Resolution.dedupe_key).in_(list(chunk)), col(Resolution.resolved_at) >= fresh_since)
        found.update({key: CachedResolution(*rest) for key, *rest in session.execute(query)})
    return found


@dataclass(frozen=True, slots=True)
class Found:
    """What one input resolved to, for ``record_resolutions`` (``channel_id=None``: it no longer does)."""

    kind: InputKind
    value: str
    channel_id: str | None
    method: ResolutionMethod
    confidence: Confidence


def record_resolution(
    session: Session,
    *,
    kind: InputKind,
    value: str,
    channel_id: str | None,
    method: ResolutionMethod,
    confidence: Confidence,
    now: datetime,
    run_id: str | None,
) -> str | None:
    """Upsert what one input resolves to; returns the previous channel id when it changed (None otherwise)."""
    changed = record_resolutions(
        session, found=[Found(kind, value, channel_id, method, confidence)], now=now, run_id=run_id
    )
    return changed.get(dedupe_key(kind, value))


def record_resolutions(
    session: Session, *, found: Sequence[Found], now: datetime, run_id: str | None
) -> dict[str, str]:
    """Upsert what inputs resolve to; when one moved to another channel, keep the change as history.

    One locking read and one multi-row insert for the lot (a resolve message settles several inputs).
    Returns, by dedupe key, the previous channel id of each input whose channel changed.
    ``channel_id=None`` records that an input no longer resolves (a handle released), which is a
    change too when it used to resolve.
    """
    by_key = {dedupe_key(f.kind, f.value): f for f in found}
    if not by_key:
        return {}
    keys = sorted(by_key)  # one lock order for every caller: concurrent messages cannot deadlock
    query = (
        select(Resolution).where(col(Resolution.dedupe_key).in_(keys)).order_by(col(Resolution.dedupe_key))
    )
    existing = {r.dedupe_key: r for r in session.exec(query.with_for_update())}
    fresh = [
        {
            "kind": f.kind,
            "value": f.value,
            "dedupe_key": key,
            "channel_id": f.channel_id,
            "method": f.method,
            "confidence": f.confidence,
            "resolved_at": now,
            "first_resolved_at": now,
        }
        for key in keys
        if key not in existing and (f := by_key[key]).channel_id is not None
    ]
    if fresh:
        # Parameters apart from the statement: one compiled form for any number of rows (SQLAlchemy
        # still sends them as one multi-row INSERT), where .values(rows) compiled anew per row count.
        stmt = _insert(session, _table(Resolution)).on_conflict_do_nothing(index_elements=["dedupe_key"])
        session.execute(stmt, fresh)
    changed: dict[str, str] = {}
    for key, row in existing.items():
        f = by_key[key]
        previous = row.channel_id
        if f.channel_id is None or previous != f.channel_id:
            session.add(
                ResolutionChange(
                    kind=f.kind,
                    value=f.value,
                    dedupe_key=key,
                    old_channel_id=previous,
                    new_channel_id=f.channel_id,
                    changed_at=now,
                    run_id=run_id,
                )
            )
            if previous is not None:
                changed[key] = previous
        if f.channel_id is None:
            session.delete(row)
            continue
        row.channel_id = f.channel_id
        row.method = f.method
        row.confidence = f.confidence
        row.resolved_at = now
        session.add(row)
    return changed


def resolution_changes(
    session: Session, *, run_id: str | None = None, since: datetime | None = None, limit: int = 1_000
) -> list[ResolutionChange]:
    query = select(ResolutionChange)
    if run_id is not None:
        query = query.where(ResolutionChange.run_id == run_id)
    if since is not None:
        query = query.where(col(ResolutionChange.changed_at) >= since)
    return list(session.exec(query.order_by(col(ResolutionChange.changed_at).desc()).limit(limit)))


def stale_resolutions(session: Session, *, older_than: datetime, limit: int) -> list[Resolution]:
    query = (
        select(Resolution)
        .where(col(Resolution.resolved_at) < older_than)
        .order_by(col(Resolution.resolved_at))
    )
    return list(session.exec(query.limit(limit)))


# --- channels and snapshots ---------------------------------------------------------------------


def fresh_channel_ids(session: Session, *, channel_ids: Iterable[str], fresh_since: datetime) -> set[str]:
    """Those of ``channel_ids`` fetched since ``fresh_since`` (a chunk per statement: a 100,000-channel
    refresh would pass PostgreSQL's 65,535 parameters)."""
    fresh: set[str] = set()
    for chunk in _chunks(list(set(channel_ids))):
        stmt = sa.select(col(Channel.id)).where(
            col(Channel.id).in_(list(chunk)), col(Channel.fetched_at) >= fresh_since
        )
        fresh.update(session.execute(stmt).scalars())
    return fresh


def channels_by_ids(session: Session, *, channel_ids: Iterable[str]) -> dict[str, Channel]:
    ids = list(set(channel_ids))
    found: dict[str, Channel] = {}
    for chunk in _chunks(ids):
        found.update({c.id: c for c in session.exec(select(Channel).where(col(Channel.id).in_(list(chunk))))})
    return found


def save_channels(
    session: Session, *, records: Iterable[ChannelRecord], run_id: str | None, now: datetime
) -> None:
    """Upsert the latest metadata and append one snapshot per channel for this run (once)."""
    recs = list(records)
    if not recs:
        return
    channel_rows = [
        {
            "id": r.channel_id,
            "title": r.title,
            "description": r.description,
            "handle": r.handle,
            "published_at": r.published_at,
            "country": r.country,
            "thumbnail_url": r.thumbnail_url,
            "uploads_playlist_id": r.uploads_playlist_id,
            "view_count": r.view_count,
            "subscriber_count": r.subscriber_count,
            "hidden_subscriber_count": r.hidden_subscriber_count,
            "video_count": r.video_count,
            "first_seen_at": now,
            "fetched_at": now,
            "last_run_id": run_id,
        }
        for r in sorted(recs, key=lambda r: r.channel_id)  # a stable order avoids upsert deadlocks
    ]
    stmt = _insert(session, _table(Channel))
    updated = {name: stmt.excluded[name] for name in channel_rows[0] if name not in ("id", "first_seen_at")}
    session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updated), channel_rows)
    snapshot_rows = [
        {
            "channel_id": r.channel_id,
            "run_id": run_id,
            "fetched_at": now,
            "view_count": r.view_count,
            "subscriber_count": r.subscriber_count,
            "hidden_subscriber_count": r.hidden_subscriber_count,
            "video_count": r.video_count,
        }
        for r in recs
    ]
    snap = _insert(session, _table(ChannelSnapshot)).on_conflict_do_nothing(
        index_elements=["channel_id", "run_id"]
    )
    session.execute(snap, snapshot_rows)


def snapshots_of(
    session: Session, *, channel_ids: Sequence[str], since: datetime | None = None
) -> list[ChannelSnapshot]:
    query = select(ChannelSnapshot).where(col(ChannelSnapshot.channel_id).in_(list(channel_ids)))
    if since is not None:
        query = query.where(col(ChannelSnapshot.fetched_at) >= since)
    return list(
        session.exec(query.order_by(col(ChannelSnapshot.channel_id), col(ChannelSnapshot.fetched_at)))
    )


def previous_snapshots(
    session: Session, *, channel_ids: Sequence[str], before_run: str, taken_before: datetime | None = None
) -> dict[str, ChannelSnapshot]:
    """For each channel, its latest snapshot made by another run (the baseline for growth).

    ``taken_before`` keeps later runs' snapshots out of an older run's baseline.
    """
    found: dict[str, ChannelSnapshot] = {}
    for chunk in _chunks(list(channel_ids), 1_000):
        ranked = (
            sa.select(
                ChannelSnapshot,
                sa.func.row_number()
                .over(
                    partition_by=ChannelSnapshot.channel_id, order_by=col(ChannelSnapshot.fetched_at).desc()
                )
                .label("rank"),
            )
            .where(
                col(ChannelSnapshot.channel_id).in_(list(chunk)),
                sa.or_(col(ChannelSnapshot.run_id).is_(None), col(ChannelSnapshot.run_id) != before_run),
                *([col(ChannelSnapshot.fetched_at) < taken_before] if taken_before is not None else []),
            )
            .subquery()
        )
        latest = sa.orm.aliased(ChannelSnapshot, ranked)
        for snap in session.exec(select(latest).where(ranked.c.rank == 1)):
            found[snap.channel_id] = snap
    return found


# --- summary and results queries ----------------------------------------------------------------


def errors_by_code(session: Session, *, run_id: str) -> dict[str, int]:
    rows = session.execute(
        sa.select(col(Job.error_code), sa.func.count())
        .where(col(Job.run_id) == run_id, col(Job.error_code).is_not(None))
        .group_by(col(Job.error_code))
    )
    return {code: int(n) for code, n in rows}


def units_by_method(session: Session, *, run_id: str) -> dict[str, int]:
    rows = session.execute(
        sa.select(col(ApiCall.endpoint), sa.func.sum(ApiCall.units))
        .where(col(ApiCall.run_id) == run_id)
        .group_by(col(ApiCall.endpoint))
    )
    return {endpoint: int(units or 0) for endpoint, units in rows}


def run_channel_rows(session: Session, *, run_id: str) -> list[tuple[Channel, list[int]]]:
    """The distinct channels a run's DONE jobs landed on, with the input lines that point at each."""
    rows = session.execute(
        sa.select(Channel, col(RunInput.line_no))
        .join(Job, col(Job.channel_id) == col(Channel.id))
        # On job_id alone (job ids are unique): with run_id too, a new run that the planner's statistics
        # do not know yet got a nested loop over all of the run's inputs per job (quadratic at 100,000).
        .join(RunInput, col(RunInput.job_id) == col(Job.id))
        .where(col(Job.run_id) == run_id, col(Job.status) == JobStatus.DONE)
        .order_by(col(RunInput.line_no))
    )
    by_channel: dict[str, tuple[Channel, list[int]]] = {}
    for channel, line_no in rows:
        by_channel.setdefault(channel.id, (channel, []))[1].append(line_no)
    return list(by_channel.values())


def _run_done_channels(run_id: str) -> sa.Select[Any]:
    """The distinct channels of a run's DONE jobs that have a channel row (what run_channel_rows lists)."""
    return (
        sa.select(col(Job.channel_id))
        .join(Channel, col(Channel.id) == col(Job.channel_id))
        .where(col(Job.run_id) == run_id, col(Job.status) == JobStatus.DONE)
        .distinct()
    )


def count_run_channels(session: Session, *, run_id: str) -> int:
    """How many distinct channels the run's DONE jobs landed on, counted in SQL."""
    stmt = sa.select(sa.func.count()).select_from(_run_done_channels(run_id).subquery())
    return int(session.execute(stmt).scalar_one())


def top_run_channels(session: Session, *, run_id: str, limit: int) -> list[tuple[Channel, list[int]]]:
    """The run's ``limit`` channels with the most (visible) subscribers, then by id, each with its input
    lines: the summary's ranking done in SQL, so a run of 100,000 inputs loads ``limit`` channels."""
    ids = _run_done_channels(run_id).subquery()
    hidden = sa.or_(col(Channel.hidden_subscriber_count), col(Channel.subscriber_count).is_(None))
    visible = sa.case(
        (col(Channel.hidden_subscriber_count), 0), else_=sa.func.coalesce(Channel.subscriber_count, 0)
    )
    by_id: Any = col(Channel.id)
    if session.get_bind().dialect.name == "postgresql":
        by_id = by_id.collate("C")  # code point order, as Python sorts ids (SQLite's default already)
    top = list(
        session.exec(
            select(Channel)
            .where(col(Channel.id).in_(sa.select(ids.c.channel_id)))
            .order_by(sa.case((hidden, 1), else_=0), visible.desc(), by_id)
            .limit(limit)
        )
    )
    lines: dict[str, list[int]] = {c.id: [] for c in top}
    if top:
        rows = session.execute(
            sa.select(col(Job.channel_id), col(RunInput.line_no))
            .join(RunInput, col(RunInput.job_id) == col(Job.id))
            .where(
                col(Job.run_id) == run_id,
                col(Job.status) == JobStatus.DONE,
                col(Job.channel_id).in_(list(lines)),
            )
            .order_by(col(RunInput.line_no))
        )
        for channel_id, line_no in rows:
            lines[channel_id].append(line_no)
    return [(channel, lines[channel.id]) for channel in top]


def jobs_needing_attention(session: Session, *, run_id: str, limit: int) -> list[tuple[Job, str]]:
    """FAILED and NEEDS_SEARCH jobs with the first input line behind each."""
    rows = session.execute(
        sa.select(Job, col(RunInput.text))
        .join(
            RunInput,
            sa.and_(col(RunInput.run_id) == col(Job.run_id), col(RunInput.line_no) == col(Job.first_line_no)),
        )
        .where(col(Job.run_id) == run_id, col(Job.status).in_([JobStatus.FAILED, JobStatus.NEEDS_SEARCH]))
        .order_by(col(Job.first_line_no))
        .limit(limit)
    )
    return [(job, text) for job, text in rows]


def run_results(
    session: Session, *, run_id: str, offset: int = 0, limit: int | None = None
) -> list[tuple[RunInput, Job | None, Channel | None]]:
    """Every original input line in order, with its job and (when resolved) its channel."""
    query = (
        sa.select(RunInput, Job, Channel)
        .outerjoin(Job, col(Job.id) == col(RunInput.job_id))
        .outerjoin(Channel, col(Channel.id) == col(Job.channel_id))
        .where(col(RunInput.run_id) == run_id)
        .order_by(col(RunInput.line_no))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(ri, job, ch) for ri, job, ch in session.execute(query)]


# --- API calls ----------------------------------------------------------------------------------


def insert_api_call(connection: Session | sa.Connection, *, record: ApiCallRecord) -> None:
    """One row per call, as a Core insert (the recorder writes it on a bare connection, no Session)."""
    connection.execute(
        _table(ApiCall).insert(),
        {
            "at": record.at,
            "endpoint": record.endpoint,
            "key_fingerprint": record.key_fingerprint,
            "units": record.units,
            "outcome": record.outcome,
            "http_status": record.http_status,
            "latency_ms": record.latency_ms,
            "attempt": record.attempt,
            "run_id": record.run_id,
        },
    )


def recorded_usage(session: Session, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """Billed units by (key fingerprint, bucket) of the calls made in ``[start, end)``: what the quota
    ledger rebuilds a day from when Redis has lost it."""
    rows = session.execute(
        sa.select(col(ApiCall.key_fingerprint), col(ApiCall.endpoint), sa.func.sum(col(ApiCall.units)))
        .where(
            col(ApiCall.at) >= start,
            col(ApiCall.at) < end,
            col(ApiCall.key_fingerprint).is_not(None),
            col(ApiCall.units) > 0,
        )
        .group_by(col(ApiCall.key_fingerprint), col(ApiCall.endpoint))
    )
    usage: dict[tuple[str, str], int] = {}
    for fingerprint, endpoint, units in rows:
        slot = (str(fingerprint), bucket_of(endpoint))
        usage[slot] = usage.get(slot, 0) + int(units or 0)
    return usage


def searches_billed(session: Session, run_id: str) -> int:
    """The billed ``search.list`` calls a run has made: what its search budget has spent."""
    stmt = sa.select(sa.func.count()).where(
        col(ApiCall.run_id) == run_id, col(ApiCall.endpoint) == "search.list", col(ApiCall.units) > 0
    )
    return int(session.execute(stmt).scalar_one())


# --- reconcile, refresh, purge ------------------------------------------------------------------


def open_runs(session: Session) -> list[Run]:
    return list(session.exec(select(Run).where(col(Run.status).in_([RunStatus.PENDING, RunStatus.RUNNING]))))


def open_system_run(session: Session, *, owner_id: str, analysis_id: str) -> str | None:
    """The id of an unfinished system run of this analysis, if any."""
    query = select(Run.id).where(
        Run.kind == RunKind.SYSTEM,
        Run.owner_id == owner_id,
        Run.analysis_id == analysis_id,
        col(Run.status).in_([RunStatus.PENDING, RunStatus.RUNNING]),
    )
    return session.exec(query.limit(1)).first()


def finished_runs_without_event(session: Session, *, finished_before: datetime) -> list[Run]:
    query = select(Run).where(
        col(Run.status).in_([RunStatus.FINISHED, RunStatus.CANCELLED]),
        col(Run.finished_event_sent_at).is_(None),
        col(Run.finished_at) < finished_before,
    )
    return list(session.exec(query))


def stuck_jobs(session: Session, *, run_id: str, updated_before: datetime) -> list[Job]:
    query = select(Job).where(
        Job.run_id == run_id,
        col(Job.status).in_([JobStatus.PENDING, JobStatus.RESOLVING, JobStatus.FETCHING]),
        col(Job.updated_at) < updated_before,
    )
    return list(session.exec(query.order_by(col(Job.id))))


def waiting_by_code(session: Session, *, run_id: str) -> dict[str, tuple[int, datetime | None]]:
    """The run's jobs and video tasks parked in WAITING_QUOTA, by the code of the bucket they wait for:
    ``{"search_quota": (count, latest waiting_until)}``."""
    found: dict[str, tuple[int, datetime | None]] = {}
    for table in (Job, RunVideoChannel, RunVideoBatch):
        rows = session.execute(
            sa.select(col(table.error_code), sa.func.count(), sa.func.max(table.waiting_until))
            .where(col(table.run_id) == run_id, col(table.status) == JobStatus.WAITING_QUOTA)
            .group_by(col(table.error_code))
        )
        for code, n, until in rows:
            key = str(
                code or quota_wait_code(DEFAULT)
            )  # parked before buckets were recorded: the default one
            count, latest = found.get(key, (0, None))
            found[key] = (count + int(n), max(filter(None, (latest, until)), default=None))
    return found


def waiting_jobs_due(session: Session, *, run_id: str, now: datetime) -> list[Job]:
    query = select(Job).where(
        Job.run_id == run_id,
        Job.status == JobStatus.WAITING_QUOTA,
        sa.or_(col(Job.waiting_until).is_(None), col(Job.waiting_until) <= now),
    )
    return list(session.exec(query.order_by(col(Job.id))))


def channels_due_for_refresh(session: Session, *, fetched_before: datetime, limit: int) -> list[str]:
    stmt = (
        sa.select(col(Channel.id))
        .where(col(Channel.fetched_at) < fetched_before)
        .order_by(col(Channel.fetched_at))
    )
    return list(session.execute(stmt.limit(limit)).scalars())


def delete_api_calls_before(session: Session, *, before: datetime) -> int:
    return _rowcount(session, sa.delete(ApiCall).where(col(ApiCall.at) < before))


def delete_snapshots_before(session: Session, *, before: datetime) -> int:
    return _rowcount(session, sa.delete(ChannelSnapshot).where(col(ChannelSnapshot.fetched_at) < before))


def delete_channels_not_fetched_since(session: Session, *, before: datetime) -> int:
    """YouTube's policy: channel data not refreshed within the window is deleted, with its snapshots."""
    stale = sa.select(col(Channel.id)).where(col(Channel.fetched_at) < before)
    session.execute(sa.delete(ChannelSnapshot).where(col(ChannelSnapshot.channel_id).in_(stale)))
    return _rowcount(session, sa.delete(Channel).where(col(Channel.fetched_at) < before))


def delete_run(session: Session, *, run_id: str) -> bool:
    """The run, its inputs, jobs and snapshots; channels and resolutions stay (other runs share them)."""
    session.execute(sa.delete(ChannelSnapshot).where(col(ChannelSnapshot.run_id) == run_id))
    session.execute(sa.delete(RunInput).where(col(RunInput.run_id) == run_id))
    session.execute(sa.delete(Job).where(col(Job.run_id) == run_id))
    session.execute(sa.delete(ApiCall).where(col(ApiCall.run_id) == run_id))
    return _rowcount(session, sa.delete(Run).where(col(Run.id) == run_id)) == 1


def status_totals(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    runs = dict(session.execute(sa.select(col(Run.status), sa.func.count()).group_by(col(Run.status))).all())
    jobs = dict(session.execute(sa.select(col(Job.status), sa.func.count()).group_by(col(Job.status))).all())
    return {k: int(v) for k, v in runs.items()}, {k: int(v) for k, v in jobs.items()}


def units_by_day(session: Session, *, since: datetime) -> list[tuple[str, int]]:
    day = sa.func.date(ApiCall.at)
    rows = session.execute(
        sa.select(day, sa.func.sum(ApiCall.units)).where(col(ApiCall.at) >= since).group_by(day).order_by(day)
    )
    return [(str(d), int(u or 0)) for d, u in rows]


def mean_run_seconds(session: Session) -> float | None:
    rows = session.execute(
        sa.select(col(Run.started_at), col(Run.finished_at))
        .where(col(Run.status) == RunStatus.FINISHED, col(Run.started_at).is_not(None))
        .order_by(col(Run.finished_at).desc())
        .limit(1_000)
    ).all()
    durations = [(f - s).total_seconds() for s, f in rows if s and f]
    return sum(durations) / len(durations) if durations else None
