"""The one constructor for each resource the project opens: Redis, the database, the quota ledger.

Workers, the CLI, ``doctor`` and the metrics collector all build them here, so a setting means the
same thing everywhere. With nothing configured (the embedded mode) Redis is an in-process stand-in
that runs the same Lua and the database is a SQLite file that migrates itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from redis import Redis

from pipeline import db
from pipeline.config import Settings
from pipeline.youtube.quota import QuotaLedger, utcnow


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
        db.upgrade(engine)
    return engine


def quota_ledger(
    settings: Settings,
    redis: Redis,
    keys: list[str] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> QuotaLedger:
    """The shared quota ledger for ``keys`` (default: YT_API_KEYS), sized by the quota settings."""
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
    )
