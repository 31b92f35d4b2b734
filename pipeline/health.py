"""Is each service this process depends on answering? For ``/readyz`` (quick, no quota spent)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pipeline import db

if TYPE_CHECKING:
    from pipeline.context import Context


@dataclass(frozen=True, slots=True)
class ServiceCheck:
    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name: str, probe: object) -> ServiceCheck:
    start = time.perf_counter()
    try:
        detail = probe()  # type: ignore[operator]
        ok = True
    except Exception as exc:  # the reason is the exception's type: messages may carry hosts and users
        detail, ok = f"not answering ({type(exc).__name__})", False
    return ServiceCheck(name, ok, str(detail), round((time.perf_counter() - start) * 1000, 2))


def readiness(ctx: Context) -> list[ServiceCheck]:
    """One check per service: the database (and its migrations), Redis, the broker when configured."""

    def database() -> str:
        with ctx.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        current, head = db.current_revision(ctx.engine), db.head_revision()
        if current != head:
            raise RuntimeError("migrations behind")
        return f"{ctx.engine.dialect.name} at revision {current}"

    def redis() -> str:
        ctx.redis.ping()
        return "redis" if ctx.settings.redis_url else "in-process stand-in"

    def broker() -> str:
        if not ctx.settings.broker_url:
            return "in-process"
        import pika

        params = pika.URLParameters(ctx.settings.broker_url)
        params.socket_timeout = 3
        params.blocked_connection_timeout = 3
        pika.BlockingConnection(params).close()
        return "rabbitmq"

    checks = [_timed("database", database), _timed("redis", redis), _timed("broker", broker)]
    # The migration check raises RuntimeError on purpose: name it plainly.
    return [
        ServiceCheck(c.name, c.ok, "migrations are behind: run `ytcollect db upgrade`", c.latency_ms)
        if c.detail == "not answering (RuntimeError)"
        else c
        for c in checks
    ]
