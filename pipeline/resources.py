"""The one constructor for each resource the project opens: Redis, the database, the quota ledger.

Workers, the CLI, ``doctor`` and the metrics collector all build them here, so a setting means the
same thing everywhere. With nothing configured (the embedded mode) Redis is an in-process stand-in
that runs the same Lua and the database is a SQLite file that migrates itself.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from redis import Redis

from pipeline import db, store
from pipeline.config import Settings
from pipeline.youtube.quota import QuotaLedger, RecordedUsage, utcnow


def open_redis(settings: Settings, *, timeout: float | None = None) -> Redis:
    """Redis at REDIS_URL; in the embedded mode, an in-process stand-in (fakeredis, Lua included)."""
    if settings.redis_url is None:
        import fakeredis  # only the embedded mode needs it

        return fakeredis.FakeRedis(decode_responses=True)
    return Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=timeout, socket_timeout=timeout
    )


def open_database(settings: Settings, *, pool_size: int = 10) -> sa.Engine:
    """The engine for DATABASE_URL; the embedded SQLite file is created and migrated on first use."""
    engine = db.make_engine(settings.sqlalchemy_url, pool_size=pool_size)
    if settings.database_url is None:
        # Two first commands at once in a new directory would both create the schema ("table
        # api_calls already exists"): one migrates while the other waits, then finds it done.
        lock_path = settings.embedded_path / "migrate.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                db.upgrade(engine)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return engine


def quota_ledger(
    settings: Settings,
    redis: Redis,
    keys: list[str] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    engine: sa.Engine | None = None,
) -> QuotaLedger:
    """The shared quota ledger for ``keys`` (default: YT_API_KEYS), sized by the quota settings.

    It rebuilds a day Redis lost from ``api_calls`` in ``engine`` (default: DATABASE_URL, opened
    only then), after :func:`loss_grace_seconds`.
    """
    return QuotaLedger(
        redis,
        settings.yt_api_keys if keys is None else keys,
        daily_units_per_key=settings.quota_daily_units_per_key,
        daily_budget=settings.quota_daily_budget,
        interactive_reserve=settings.quota_interactive_reserve,
        search_calls_per_key=settings.quota_search_calls_per_key,
        search_interactive_reserve=settings.quota_search_interactive_reserve,
        stats_units_per_key=settings.quota_stats_units_per_key,
        stats_interactive_reserve=settings.quota_stats_interactive_reserve,
        clock=clock or utcnow,
        recorded_usage=usage_reader(settings, engine),
        seed_grace_seconds=loss_grace_seconds(settings),
    )


def loss_grace_seconds(settings: Settings) -> float:
    """How long a rebuild from ``api_calls`` waits after Redis lost its state: one HTTP timeout, so the
    calls in flight at the loss are on record (the embedded mode's in-process Redis dies with them)."""
    return 0.0 if settings.redis_url is None else settings.http_timeout_seconds + 1.0


def usage_reader(settings: Settings, engine: sa.Engine | None = None) -> RecordedUsage:
    """``recorded_usage(start, end)`` over ``engine``, or over DATABASE_URL opened on first use."""
    sessions = [db.session_factory(engine)] if engine is not None else []

    def recorded_usage(start: datetime, end: datetime) -> dict[tuple[str, str], int]:
        if not sessions:
            sessions.append(db.session_factory(open_database(settings, pool_size=1)))
        with db.session_scope(sessions[0]) as session:
            return store.recorded_usage(session, start, end)

    return recorded_usage
