"""Every database query of discovery: keyword-only functions that take a session.

Kept beside the discovery stages rather than in ``pipeline/store.py`` so that the run pipeline's
queries and these stay readable on their own; the rules are the same: guarded updates and upserts
(every stage may run twice), bound parameters only, budgets counted in the database (durable, so a
Redis flush cannot hand out a day's searches twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import (
    OPEN_CYCLE_STATUSES,
    CycleStatus,
    Discovery,
    DiscoveryBudgetDay,
    DiscoveryCycle,
    DiscoverySearch,
    SearchStatus,
    Watchlist,
)
from pipeline.store import _insert, _inserted, _rowcount, _table

# --- watchlists -----------------------------------------------------------------------------------


def insert_watchlist(session: Session, *, watchlist: Watchlist) -> bool:
    """Create a watchlist; False when the owner already has one of that name."""
    values = {c.name: getattr(watchlist, c.name) for c in _table(Watchlist).columns}
    table = _table(Watchlist)
    stmt = (
        _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=["owner_id", "name"])
    )
    return _inserted(session, stmt, table.c.id)


def find_watchlist(session: Session, *, owner_id: str, ref: str, lock: bool = False) -> Watchlist | None:
    """The owner's watchlist by name, or by id; another owner's is never found."""
    for column in (Watchlist.name, Watchlist.id):
        query = select(Watchlist).where(Watchlist.owner_id == owner_id, column == ref)
        if lock:
            query = query.with_for_update()
        found = session.exec(query).first()
        if found is not None:
            return found
    return None


def get_watchlist(session: Session, *, watchlist_id: str, lock: bool = False) -> Watchlist | None:
    query = select(Watchlist).where(Watchlist.id == watchlist_id)
    return session.exec(query.with_for_update() if lock else query).first()


def owner_watchlists(session: Session, *, owner_id: str) -> list[Watchlist]:
    return list(
        session.exec(select(Watchlist).where(Watchlist.owner_id == owner_id).order_by(col(Watchlist.name)))
    )


def name_taken(session: Session, *, owner_id: str, name: str, other_than: str) -> bool:
    query = select(Watchlist.id).where(
        Watchlist.owner_id == owner_id, Watchlist.name == name, Watchlist.id != other_than
    )
    return session.exec(query).first() is not None


def delete_watchlist(session: Session, *, watchlist_id: str) -> None:
    """The watchlist and its stored discoveries; its cycles stay as history."""
    session.execute(sa.delete(Discovery).where(col(Discovery.watchlist_id) == watchlist_id))
    session.execute(sa.delete(Watchlist).where(col(Watchlist.id) == watchlist_id))


def due_watchlists(session: Session, *, now: datetime, limit: int) -> list[Watchlist]:
    query = (
        select(Watchlist)
        .where(col(Watchlist.next_due_at).is_not(None), col(Watchlist.next_due_at) <= now)
        .order_by(col(Watchlist.next_due_at))
        .limit(limit)
    )
    return list(session.exec(query))


def claim_due(
    session: Session, *, watchlist_id: str, due_at: datetime, next_due_at: datetime, keyword_cursor: int
) -> bool:
    """Move a due watchlist's next slot on: True for exactly one caller per slot (a duplicate tick loses)."""
    stmt = (
        sa.update(Watchlist)
        .where(col(Watchlist.id) == watchlist_id, col(Watchlist.next_due_at) == due_at)
        .values(next_due_at=next_due_at, keyword_cursor=keyword_cursor)
    )
    return _rowcount(session, stmt) == 1


# --- cycles ---------------------------------------------------------------------------------------


def insert_cycle(session: Session, *, cycle: DiscoveryCycle, keywords: Sequence[str]) -> bool:
    """Record a cycle and its keyword searches once; False when a cycle with that id exists (a resend)."""
    table = _table(DiscoveryCycle)
    values = {c.name: getattr(cycle, c.name) for c in table.columns}
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=["id"])
    if not _inserted(session, stmt, table.c.id):
        return False
    rows = [{"cycle_id": cycle.id, "position": n, "keyword": k} for n, k in enumerate(keywords)]
    if rows:
        session.execute(sa.insert(_table(DiscoverySearch)), rows)
    return True


def get_cycle(session: Session, *, cycle_id: str) -> DiscoveryCycle | None:
    return session.get(DiscoveryCycle, cycle_id)


def start_cycle(session: Session, *, cycle_id: str, now: datetime, lease: timedelta) -> bool:
    """PENDING, RUNNING, or WAITING_QUOTA whose wait is over → RUNNING, with the cycle's lease: False
    when it is not startable now, or another delivery holds the lease (one delivery works a cycle)."""
    stmt = (
        sa.update(DiscoveryCycle)
        .where(
            col(DiscoveryCycle.id) == cycle_id,
            sa.or_(
                col(DiscoveryCycle.status).in_([CycleStatus.PENDING, CycleStatus.RUNNING]),
                sa.and_(
                    col(DiscoveryCycle.status) == CycleStatus.WAITING_QUOTA,
                    col(DiscoveryCycle.waiting_until) <= now,
                ),
            ),
            sa.or_(col(DiscoveryCycle.lease_until).is_(None), col(DiscoveryCycle.lease_until) < now),
        )
        .values(
            status=CycleStatus.RUNNING,
            started_at=sa.func.coalesce(DiscoveryCycle.started_at, now),
            updated_at=now,
            lease_until=now + lease,
            waiting_until=None,
            waiting_reason=None,
        )
    )
    return _rowcount(session, stmt) == 1


def resume_parked(session: Session, *, cycle_id: str, now: datetime) -> bool:
    """A parked cycle whose wait is over → PENDING, for the one caller that moves it (reconcile)."""
    stmt = (
        sa.update(DiscoveryCycle)
        .where(
            col(DiscoveryCycle.id) == cycle_id,
            col(DiscoveryCycle.status) == CycleStatus.WAITING_QUOTA,
            col(DiscoveryCycle.waiting_until) <= now,
        )
        .values(status=CycleStatus.PENDING, waiting_until=None, waiting_reason=None, updated_at=now)
    )
    return _rowcount(session, stmt) == 1


def park_cycle(session: Session, *, cycle_id: str, until: datetime, reason: str, now: datetime) -> bool:
    stmt = (
        sa.update(DiscoveryCycle)
        .where(col(DiscoveryCycle.id) == cycle_id, col(DiscoveryCycle.status) == CycleStatus.RUNNING)
        .values(
            status=CycleStatus.WAITING_QUOTA,
            waiting_until=until,
            waiting_reason=reason[:300],
            updated_at=now,
            lease_until=None,
        )
    )
    return _rowcount(session, stmt) == 1


def touch_cycle(session: Session, *, cycle_id: str, now: datetime, lease: timedelta) -> None:
    """The cycle moved on: reconcile leaves it alone, and its delivery keeps the lease."""
    session.execute(
        sa.update(DiscoveryCycle)
        .where(col(DiscoveryCycle.id) == cycle_id)
        .values(updated_at=now, lease_until=now + lease)
    )


def finish_cycle(
    session: Session,
    *,
    cycle_id: str,
    summary: dict[str, Any],
    now: datetime,
    error: str | None = None,
    run_id: str | None = None,
) -> bool:
    """The guarded transition to FINISHED: True only for the one caller that made it."""
    stmt = (
        sa.update(DiscoveryCycle)
        .where(col(DiscoveryCycle.id) == cycle_id, col(DiscoveryCycle.status).in_(list(OPEN_CYCLE_STATUSES)))
        .values(
            status=CycleStatus.FINISHED,
            finished_at=now,
            updated_at=now,
            summary=summary,
            error=error,
            run_id=run_id,
            waiting_until=None,
            lease_until=None,
        )
    )
    return _rowcount(session, stmt) == 1


def mark_cycle_event_sent(session: Session, *, cycle_id: str, now: datetime) -> None:
    session.execute(
        sa.update(DiscoveryCycle).where(col(DiscoveryCycle.id) == cycle_id).values(finished_event_sent_at=now)
    )


def open_cycles(session: Session, *, watchlist_id: str | None = None) -> list[DiscoveryCycle]:
    query = select(DiscoveryCycle).where(col(DiscoveryCycle.status).in_(list(OPEN_CYCLE_STATUSES)))
    if watchlist_id is not None:
        query = query.where(DiscoveryCycle.watchlist_id == watchlist_id)
    return list(session.exec(query.order_by(col(DiscoveryCycle.created_at))))


def finished_cycles_without_event(session: Session, *, finished_before: datetime) -> list[DiscoveryCycle]:
    query = select(DiscoveryCycle).where(
        DiscoveryCycle.status == CycleStatus.FINISHED,
        col(DiscoveryCycle.finished_event_sent_at).is_(None),
        col(DiscoveryCycle.finished_at) < finished_before,
    )
    return list(session.exec(query))


def count_resend(session: Session, *, cycle_id: str, now: datetime) -> None:
    stmt = (
        sa.update(DiscoveryCycle)
        .where(col(DiscoveryCycle.id) == cycle_id)
        .values(resends=DiscoveryCycle.resends + 1, updated_at=now)
    )
    session.execute(stmt)


def latest_finished_cycle(session: Session, *, watchlist_id: str) -> DiscoveryCycle | None:
    query = (
        select(DiscoveryCycle)
        .where(
            DiscoveryCycle.watchlist_id == watchlist_id,
            DiscoveryCycle.status == CycleStatus.FINISHED,
            col(DiscoveryCycle.error).is_(None),
        )
        .order_by(col(DiscoveryCycle.finished_at).desc())
        .limit(1)
    )
    return session.exec(query).first()


# --- searches and budgets -------------------------------------------------------------------------


def searches_of(session: Session, *, cycle_id: str) -> list[DiscoverySearch]:
    query = (
        select(DiscoverySearch)
        .where(DiscoverySearch.cycle_id == cycle_id)
        .order_by(col(DiscoverySearch.position))
    )
    return list(session.exec(query))


def claim_search(session: Session, *, cycle_id: str, position: int, attempts: int) -> bool:
    """The keyword's row → SEARCHING, for the one delivery that read ``attempts`` (racing ones lose)."""
    stmt = (
        sa.update(DiscoverySearch)
        .where(
            col(DiscoverySearch.cycle_id) == cycle_id,
            col(DiscoverySearch.position) == position,
            col(DiscoverySearch.attempts) == attempts,
            col(DiscoverySearch.status).in_([SearchStatus.PENDING, SearchStatus.SEARCHING]),
        )
        .values(status=SearchStatus.SEARCHING, attempts=attempts + 1)
    )
    return _rowcount(session, stmt) == 1


def take_cycle_search(session: Session, *, cycle_id: str) -> bool:
    """One search call of the cycle's own budget; False when it is spent (or the cycle is no longer running)."""
    stmt = (
        sa.update(DiscoveryCycle)
        .where(
            col(DiscoveryCycle.id) == cycle_id,
            col(DiscoveryCycle.status) == CycleStatus.RUNNING,
            col(DiscoveryCycle.searches_used) < DiscoveryCycle.search_budget,
        )
        .values(searches_used=DiscoveryCycle.searches_used + 1)
    )
    return _rowcount(session, stmt) == 1


def take_daily_search(session: Session, *, day: str, limit: int) -> bool:
    """One search call of the day's discovery budget (all watchlists together); False when spent."""
    session.execute(
        _insert(session, _table(DiscoveryBudgetDay))
        .values(day=day, searches=0)
        .on_conflict_do_nothing(index_elements=["day"])
    )
    stmt = (
        sa.update(DiscoveryBudgetDay)
        .where(col(DiscoveryBudgetDay.day) == day, col(DiscoveryBudgetDay.searches) < limit)
        .values(searches=DiscoveryBudgetDay.searches + 1)
    )
    return _rowcount(session, stmt) == 1


def release_search(session: Session, *, cycle_id: str, position: int, day: str) -> None:
    """Give back a claim whose request never reached the API (no key could pay): both budgets, and the row."""
    session.execute(
        sa.update(DiscoveryCycle)
        .where(col(DiscoveryCycle.id) == cycle_id, col(DiscoveryCycle.searches_used) > 0)
        .values(searches_used=DiscoveryCycle.searches_used - 1)
    )
    session.execute(
        sa.update(DiscoveryBudgetDay)
        .where(col(DiscoveryBudgetDay.day) == day, col(DiscoveryBudgetDay.searches) > 0)
        .values(searches=DiscoveryBudgetDay.searches - 1)
    )
    session.execute(
        sa.update(DiscoverySearch)
        .where(col(DiscoverySearch.cycle_id) == cycle_id, col(DiscoverySearch.position) == position)
        .values(status=SearchStatus.PENDING)
    )


def daily_searches(session: Session, *, day: str) -> int:
    found = session.get(DiscoveryBudgetDay, day)
    return found.searches if found is not None else 0


def settle_search(
    session: Session,
    *,
    cycle_id: str,
    position: int,
    status: SearchStatus,
    now: datetime,
    hits: Mapping[str, Any] | None = None,
    results: int = 0,
    error: str | None = None,
) -> bool:
    """A claimed (or, for SKIPPED, pending) search ends; a redelivery finds it ended and leaves it."""
    stmt = (
        sa.update(DiscoverySearch)
        .where(
            col(DiscoverySearch.cycle_id) == cycle_id,
            col(DiscoverySearch.position) == position,
            col(DiscoverySearch.status).in_([SearchStatus.PENDING, SearchStatus.SEARCHING]),
        )
        .values(
            status=status,
            hits=dict(hits) if hits is not None else None,
            results=results,
            error=error[:300] if error else None,
            searched_at=now,
        )
    )
    return _rowcount(session, stmt) == 1


# --- discoveries ----------------------------------------------------------------------------------


def known_channels(session: Session, *, watchlist_ids: Sequence[str], channel_ids: Iterable[str]) -> set[str]:
    """The channels some earlier cycle of these watchlists already found."""
    ids = list(set(channel_ids))
    if not ids or not watchlist_ids:
        return set()
    stmt = sa.select(col(Discovery.channel_id)).where(
        col(Discovery.watchlist_id).in_(list(watchlist_ids)), col(Discovery.channel_id).in_(ids)
    )
    return set(session.execute(stmt).scalars())


def record_discoveries(
    session: Session, *, watchlist_id: str, cycle_id: str, rows: Sequence[tuple[str, str, int]], now: datetime
) -> None:
    """Upsert (keyword, channel, hits) rows; a row this cycle already counted is left alone."""
    if not rows:
        return
    values = [
        {
            "watchlist_id": watchlist_id,
            "keyword": keyword,
            "channel_id": channel_id,
            "first_seen_at": now,
            "last_seen_at": now,
            "hits": hits,
            "cycles": 1,
            "first_cycle_id": cycle_id,
            "last_cycle_id": cycle_id,
        }
        for keyword, channel_id, hits in sorted(rows)  # a stable order avoids upsert deadlocks
    ]
    table = _table(Discovery)
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["watchlist_id", "keyword", "channel_id"],
        set_={
            "last_seen_at": stmt.excluded.last_seen_at,
            "hits": table.c.hits + stmt.excluded.hits,
            "cycles": table.c.cycles + 1,
            "last_cycle_id": stmt.excluded.last_cycle_id,
        },
        where=table.c.last_cycle_id != stmt.excluded.last_cycle_id,
    )
    session.execute(stmt, values)


def discoveries_of(session: Session, *, watchlist_id: str) -> list[Discovery]:
    query = (
        select(Discovery).where(Discovery.watchlist_id == watchlist_id).order_by(col(Discovery.channel_id))
    )
    return list(session.exec(query))
