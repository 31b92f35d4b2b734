"""Statistics for the HTTP API and the dashboard: runs and jobs by status, quota by day, bucket and method.

Scoped to one owner (a run's jobs and API calls belong to the run's owner) or, for an admin, to
everyone. Keyword-only functions; the queries they need live here, like ``pipeline.history``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import TERMINAL_STATUSES, ApiCall, Job, JobStatus, Run, RunStatus
from pipeline.youtube.quota import BUCKET_UNIT, BUCKETS, PACIFIC, QuotaLedger, by_bucket

if TYPE_CHECKING:
    from pipeline.context import Context


def _scoped(query: Any, owner_id: str | None, run_column: Any) -> Any:
    if owner_id is None:
        return query
    return query.where(run_column.in_(sa.select(col(Run.id)).where(col(Run.owner_id) == owner_id)))


def owner_stats(ctx: Context, *, owner_id: str | None, days: int = 30) -> dict[str, Any]:
    """``run_stats`` in a session of its own."""
    with ctx.session() as session:
        return run_stats(session, owner_id=owner_id, days=days, now=ctx.now())


def quota(ctx: Context) -> dict[str, Any]:
    """``quota_today`` on the context's ledger."""
    with ctx.session() as session:
        return quota_today(ctx.ledger, session, now=ctx.now())


def run_stats(
    session: Session, *, owner_id: str | None, days: int = 30, now: datetime | None = None
) -> dict[str, Any]:
    """Runs and jobs by status, job success rate, mean run time, quota units by UTC day and bucket.

    ``owner_id=None`` counts every owner (the admin view).
    """
    if not 1 <= days <= 366:
        raise ValueError("days must be between 1 and 366")
    now = now or datetime.now(UTC)
    runs_q = sa.select(col(Run.status), sa.func.count()).group_by(Run.status)
    if owner_id is not None:
        runs_q = runs_q.where(col(Run.owner_id) == owner_id)
    runs = {str(s): int(n) for s, n in session.execute(runs_q)}
    jobs_q = _scoped(
        sa.select(col(Job.status), sa.func.count()).group_by(Job.status), owner_id, col(Job.run_id)
    )
    jobs = {str(s): int(n) for s, n in session.execute(jobs_q)}
    terminal = sum(n for s, n in jobs.items() if s in TERMINAL_STATUSES)
    done = jobs.get(JobStatus.DONE, 0)

    durations_q = (
        sa.select(col(Run.started_at), col(Run.finished_at))
        .where(col(Run.status) == RunStatus.FINISHED, col(Run.started_at).is_not(None))
        .order_by(col(Run.finished_at).desc())
        .limit(1_000)
    )
    if owner_id is not None:
        durations_q = durations_q.where(col(Run.owner_id) == owner_id)
    durations = [(f - s).total_seconds() for s, f in session.execute(durations_q) if s and f]

    since = datetime.combine(now.astimezone(UTC).date() - timedelta(days=days - 1), time.min, tzinfo=UTC)
    if session.get_bind().dialect.name == "postgresql":
        # date(at) follows the session's time zone: pin it to UTC.
        session.execute(sa.text("SET LOCAL TIME ZONE 'UTC'"))
    day = sa.func.date(ApiCall.at)
    calls_q = _scoped(
        sa.select(day, col(ApiCall.endpoint), sa.func.sum(ApiCall.units))
        .where(col(ApiCall.at) >= since)
        .group_by(day, ApiCall.endpoint)
        .order_by(day),
        owner_id,
        col(ApiCall.run_id),
    )
    per_day: dict[str, dict[str, int]] = {}
    for d, endpoint, units in session.execute(calls_q):
        per_day.setdefault(str(d), {})[str(endpoint)] = int(units or 0)
    quota_by_day = [
        {
            "day": d,
            "units": sum(methods.values()),
            "by_bucket": {b: v["units"] for b, v in by_bucket(methods).items()},
            "by_method": methods,
        }
        for d, methods in sorted(per_day.items())
    ]
    return {
        "scope": "all owners" if owner_id is None else "owner",
        "owner_id": owner_id,
        "runs_by_status": dict(sorted(runs.items())),
        "runs_total": sum(runs.values()),
        "jobs_by_status": dict(sorted(jobs.items())),
        "jobs_total": sum(jobs.values()),
        "success_rate": round(done / terminal, 4) if terminal else None,
        "mean_run_seconds": round(sum(durations) / len(durations), 3) if durations else None,
        "days": days,
        "since": since.isoformat(),
        "quota_by_day": quota_by_day,
        "quota_units_total": sum(d["units"] for d in quota_by_day),
    }


def quota_today(ledger: QuotaLedger, session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """Every key's standing today in each bucket (by fingerprint), each bucket's room, and today's units by
    bucket and method, all owners. The flat ``cap_per_key``/``units_left_*`` are the default bucket's."""
    now = now or datetime.now(UTC)
    statuses = ledger.status()
    resets_at = ledger.resets_at()
    pacific_midnight = datetime.combine(now.astimezone(PACIFIC).date(), time.min, tzinfo=PACIFIC)
    rows = session.execute(
        sa.select(col(ApiCall.endpoint), sa.func.sum(ApiCall.units), sa.func.count())
        .where(col(ApiCall.at) >= pacific_midnight.astimezone(UTC))
        .group_by(ApiCall.endpoint)
    )
    by_method: dict[str, int] = {}
    calls: dict[str, int] = {}
    for endpoint, units, n in rows:
        by_method[str(endpoint)] = int(units or 0)
        calls[str(endpoint)] = int(n)
    return {
        "day": pacific_midnight.date().isoformat(),
        "resets_at": resets_at.isoformat(),
        "cap_per_key": ledger.cap,
        "interactive_reserve": ledger.interactive_reserve,
        "units_left_interactive": sum(s.left for s in statuses if s.state == "ok"),
        "units_left_system": ledger.units_left(priority="system"),
        "keys": [
            {
                "fingerprint": s.fingerprint,
                "used": s.used,
                "left": s.left,
                "state": s.state,
                "reason": s.reason,
                "buckets": {
                    name: {"used": b.used, "left": b.left, "state": b.state, "reason": b.reason}
                    for name, b in s.buckets.items()
                },
            }
            for s in statuses
        ],
        "buckets": {
            bucket: {
                "unit": BUCKET_UNIT[bucket],
                "cap_per_key": ledger.caps[bucket],
                "interactive_reserve": ledger.reserves[bucket],
                "left_interactive": sum(
                    s.buckets[bucket].left for s in statuses if s.buckets[bucket].state == "ok"
                ),
                "left_system": ledger.units_left(priority="system", bucket=bucket),
            }
            for bucket in BUCKETS
        },
        "by_bucket": by_bucket(by_method),
        "calls_by_method": calls,
    }
