"""The negative cache: lookups that found nothing, remembered for NEGATIVE_CACHE_HOURS.

Nothing else remembers "not found": a repeat of a 20,000-line run spent 1,052 units asking again
for handles, usernames, custom names, videos and playlists that had failed minutes before. A job
whose key missed recently fails the same way, with the same reason, for no unit. ``reresolve`` (it
turns the resolution cache off) and the run option ``recheck_misses`` ask the API again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import LookupMiss, Run

# What a miss remembers: an input the API says does not exist, and a custom name no cheap route found.
REMEMBERED_CODES = ("not_found", "needs_search")


@dataclass(frozen=True, slots=True)
class Miss:
    key: str  # the job's dedupe key (kind and normalized value)
    kind: str
    value: str
    code: str
    reason: str


def applies(run: Run, hours: float) -> bool:
    """Whether this run answers from the negative cache (not for reresolve, recheck_misses or a TTL of 0)."""
    options = run.options or {}
    return hours > 0 and options.get("use_resolution_cache", True) and not options.get("recheck_misses")


def fresh(session: Session, keys: Iterable[str], *, now: datetime, hours: float) -> dict[str, LookupMiss]:
    """Dedupe key → its miss, for the keys that missed less than ``hours`` ago."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    since = now - timedelta(hours=hours)
    query = select(LookupMiss).where(
        col(LookupMiss.dedupe_key).in_(wanted), col(LookupMiss.missed_at) >= since
    )
    return {miss.dedupe_key: miss for miss in session.exec(query)}


def remember(session: Session, found_nothing: Iterable[Miss], *, now: datetime) -> None:
    """Record (or renew) each miss."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for miss in found_nothing:
        values = {
            "dedupe_key": miss.key,
            "kind": miss.kind,
            "value": miss.value,
            "error_code": miss.code,
            "reason": miss.reason[:1000],
            "missed_at": now,
        }
        stmt = insert(LookupMiss.__table__).values(**values)  # type: ignore[attr-defined]
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["dedupe_key"],
                set_={k: v for k, v in values.items() if k != "dedupe_key"},
            )
        )


def delete_expired(session: Session, *, now: datetime, hours: float) -> int:
    """Drop the misses older than ``hours``: no run answers from them any more (purge)."""
    stmt = sa.delete(LookupMiss).where(col(LookupMiss.missed_at) < now - timedelta(hours=hours))
    result: sa.CursorResult[object] = session.execute(stmt)  # type: ignore[assignment]
    return int(result.rowcount or 0)


def said_again(miss: LookupMiss) -> str:
    """What a job answered by the cache says: the first answer, and that no unit was spent on it."""
    return (
        f"{miss.reason} (remembered from {miss.missed_at:%Y-%m-%d %H:%M} UTC, no unit spent; "
        "the run option recheck_misses asks again)"
    )
