"""The resources a stage is handed: database sessions, Redis, the YouTube client, events and a clock.

``build_context`` wires them from Settings. With nothing configured it builds the embedded mode:
SQLite, an in-process Redis stand-in that runs the same Lua, and the bundled emulator on a free port.
Tests build one pointed at the real services and pass their own clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from redis import Redis
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from pipeline import db, resources, store
from pipeline.completion import RunCompletion
from pipeline.config import REAL_YOUTUBE_API_URL, Settings
from pipeline.events import AmqpEventPublisher, EventPublisher, MemoryEventPublisher
from pipeline.youtube.client import YouTubeClient
from pipeline.youtube.feed import FeedReader
from pipeline.youtube.quota import QuotaLedger
from pipeline.youtube.records import ApiCallRecord
from pipeline.youtube.redact import install_log_redaction
from pipeline.youtube.unavailable import UnavailableMethods

log = logging.getLogger(__name__)

# The emulator's open mode accepts any key; this one only exists inside the embedded process.
EMBEDDED_API_KEY = "embedded-emulator-key"


def utcnow() -> datetime:
    return datetime.now(UTC)


def searches_billed(sessions: sessionmaker[Session], run_id: str) -> int:
    """What a run's search budget has spent, from ``api_calls`` (its Redis counter was lost)."""
    with db.session_scope(sessions) as session:
        return store.searches_billed(session, run_id)


def units_billed(sessions: sessionmaker[Session], run_id: str) -> dict[str, int]:
    """A run's units by endpoint from ``api_calls`` (its Redis units were lost)."""
    with db.session_scope(sessions) as session:
        return store.units_by_method(session, run_id=run_id)


class ApiCallRecorder:
    """The client's sink: every call becomes an ``api_calls`` row and counts toward its run's units."""

    def __init__(self, autocommit: sa.Engine, completion: RunCompletion) -> None:
        self.engine = autocommit  # one INSERT, one round trip: no Session, no BEGIN/COMMIT
        self.completion = completion

    def __call__(self, record: ApiCallRecord) -> None:
        try:
            with self.engine.connect() as connection:
                store.insert_api_call(connection, record=record)
            if record.run_id and record.units:
                self.completion.add_units(record.run_id, record.endpoint, record.units)
        except Exception:  # recording must never turn a good API answer into a failed job
            log.exception("could not record an API call to %s", record.endpoint)


@dataclass
class Context:
    settings: Settings
    engine: sa.Engine
    autocommit: sa.Engine  # the same pool, for lone statements: see ``db.autocommit``
    sessions: sessionmaker[Session]
    redis: Redis
    completion: RunCompletion
    ledger: QuotaLedger
    youtube: YouTubeClient
    events: EventPublisher
    feeds: FeedReader
    unavailable: UnavailableMethods
    clock: Callable[[], datetime] = utcnow
    # discovery_finished events (their own queue); build_context always sets it
    discovery_events: EventPublisher = field(default_factory=lambda: MemoryEventPublisher())
    emulator: Any = None  # the embedded mode's EmulatorServer, stopped by close()
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def session(self) -> AbstractContextManager[Session]:
        """``with ctx.session() as s:`` commits on success, rolls back on error."""
        return db.session_scope(self.sessions)

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:  # pragma: no cover - best effort on shutdown
                log.exception("error while closing the context")
        self._closers.clear()


def build_context(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    redis: Redis | None = None,
    events: EventPublisher | None = None,
    discovery_events: EventPublisher | None = None,
    emulator_channels: int = 2_000,
) -> Context:
    """Wire every resource from settings: all services named, or the embedded mode (none named)."""
    settings.require_one_service_mode()
    install_log_redaction()
    clock = clock or utcnow
    closers: list[Callable[[], None]] = []

    engine = resources.open_database(settings)
    closers.append(engine.dispose)
    sessions = db.session_factory(engine)
    autocommit = db.autocommit(engine)
    redis = redis if redis is not None else resources.open_redis(settings)
    completion = RunCompletion(
        redis,
        searches_billed=lambda run_id: searches_billed(sessions, run_id),
        units_billed=lambda run_id: units_billed(sessions, run_id),
        rebuild_grace_seconds=resources.loss_grace_seconds(settings),
    )

    emulator = None
    keys = list(settings.yt_api_keys)
    base_url = settings.youtube_api_url or REAL_YOUTUBE_API_URL
    feed_url = settings.feed_url
    if settings.uses_bundled_emulator:
        from emulator import EmulatorConfig, EmulatorServer

        emulator = EmulatorServer(
            EmulatorConfig(seed=7, channels=emulator_channels), host="127.0.0.1", port=0
        )
        emulator.start()
        closers.append(emulator.stop)
        base_url = emulator.base_url
        feed_url = settings.youtube_feed_url or emulator.base_url
        keys = [EMBEDDED_API_KEY]

    ledger = resources.quota_ledger(settings, redis, keys, clock=clock, engine=engine)
    recorder = ApiCallRecorder(autocommit, completion)
    youtube = YouTubeClient(
        base_url=base_url,
        ledger=ledger,
        sink=recorder,
        timeout=settings.http_timeout_seconds,
        max_attempts=settings.client_max_attempts,
        backoff_base=settings.client_backoff_base_seconds,
        backoff_max=settings.client_backoff_max_seconds,
        clock=clock,
    )
    if events is None:
        events = (
            AmqpEventPublisher(settings.broker_url, settings.run_finished_queue)
            if settings.broker_url
            else MemoryEventPublisher()
        )
    if discovery_events is None:
        discovery_events = (
            AmqpEventPublisher(settings.broker_url, settings.discovery_finished_queue)
            if settings.broker_url
            else MemoryEventPublisher()
        )
    return Context(
        settings=settings,
        engine=engine,
        autocommit=autocommit,
        sessions=sessions,
        redis=redis,
        completion=completion,
        ledger=ledger,
        youtube=youtube,
        events=events,
        feeds=FeedReader(feed_url, timeout=settings.http_timeout_seconds, sink=recorder, clock=clock),
        unavailable=UnavailableMethods(redis, clock=clock),
        clock=clock,
        discovery_events=discovery_events,
        emulator=emulator,
        _closers=closers,
    )
