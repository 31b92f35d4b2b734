"""Fixtures for end-to-end pipeline tests: real PostgreSQL, Redis and RabbitMQ, the emulator over HTTP,
and a real Dramatiq worker consuming from RabbitMQ in this process. Imported by the pipeline test modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
import redis as redis_lib
import sqlalchemy as sa

from tests.conftest import AMQP_URL, PG_URL, redis_url
from tests.factories import TestClock, make_settings

PIPELINE_REDIS_URL = redis_url(2)  # its own database: pipeline tests flush it
RUN_FINISHED_QUEUE = "ytc_test_run_finished"
KEYS = ["AIzaFakeKey-DISTINCTIVE-pipeline-0001", "AIzaFakeKey-DISTINCTIVE-pipeline-0002"]
QUEUES = [
    "runs",
    "normalize",
    "resolve",
    "metadata",
    "uploads",
    "video_stats",
    "finalize",
    "discover",
    "discovery",
    "scheduled",
]


def reset_database(url: str) -> sa.Engine:
    from pipeline import db

    engine = db.make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    db.upgrade(engine)
    return engine


def truncate(engine: sa.Engine) -> None:
    """Empty every table the models define, so no state (a remembered miss, a token) leaks between tests."""
    import models

    tables = ", ".join(table.name for table in models.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def purge_queues(url: str = AMQP_URL) -> None:
    """Empty every stage queue, delay queue and dead-letter queue of the vhost, and the events queue."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in [*QUEUES, *(f"{q}.DQ" for q in QUEUES), *(f"{q}.XQ" for q in QUEUES), RUN_FINISHED_QUEUE]:
            try:
                channel.queue_purge(name)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()  # the queue does not exist yet: nothing to purge
    finally:
        connection.close()


def redeclare_stage_queues(url: str, settings: Any) -> None:
    """A vhost left by a run of an older version holds queues declared without priorities: declaring
    them again as this version does would fail, so they are replaced (they are empty between tests)."""
    from actors.broker import redeclare_queues

    purge_queues(url)
    redeclare_queues(url, QUEUES, settings.broker_max_priority)


def drain_events(queue: str = RUN_FINISHED_QUEUE) -> list[bytes]:
    """Every message waiting on ``queue`` (consumed)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    bodies = []
    try:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            bodies.append(body)
    finally:
        connection.close()
    return bodies


def snapshot_integrity(ctx: Any, run_id: str) -> tuple[list[Any], int, int]:
    """What exactly-once asks of a run's snapshots: the channels with two from it (none), and its
    snapshot count beside its distinct DONE channels (equal)."""
    from models import ChannelSnapshot, Job, JobStatus

    with ctx.session() as s:
        twice = list(
            s.execute(
                sa.select(ChannelSnapshot.channel_id)
                .where(ChannelSnapshot.run_id == run_id)
                .group_by(ChannelSnapshot.channel_id)
                .having(sa.func.count() > 1)
            ).all()
        )
        snapshots = s.execute(
            sa.select(sa.func.count()).select_from(ChannelSnapshot).where(ChannelSnapshot.run_id == run_id)
        ).scalar_one()
        channels_done = s.execute(
            sa.select(sa.func.count(sa.distinct(Job.channel_id))).where(
                Job.run_id == run_id, Job.status == JobStatus.DONE
            )
        ).scalar_one()
    return twice, snapshots, channels_done


def wait_until(predicate: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until truthy or fail after ``timeout`` seconds (never wait forever)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def pg_engine(services: None) -> Iterator[sa.Engine]:
    engine = reset_database(PG_URL)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    from emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(seed=11, channels=3_000, keys=KEYS), host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture(scope="session")
def rabbit_broker(services: None) -> Iterator[Any]:
    """The actors moved onto a real RabbitMQ broker (with confirms), as a worker process would have them."""
    import dramatiq

    import actors  # noqa: F401
    from actors.broker import rabbitmq_broker, rebind

    settings = make_settings()
    redeclare_stage_queues(AMQP_URL, settings)
    original = dramatiq.get_broker()
    broker = rebind(rabbitmq_broker(AMQP_URL, settings))
    for name in broker.get_declared_actors():  # fast retries for tests; production reads Settings
        broker.get_actor(name).options.update(min_backoff=100, max_backoff=500, max_retries=3)
    yield broker
    broker.close()
    rebind(original)


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


def make_pipeline_ctx(emulator: Any, clock: TestClock, **overrides: Any) -> Any:
    """A Context on the real services and ``emulator``, with clean Redis; close it when done."""
    from pipeline.context import build_context
    from pipeline.events import AmqpEventPublisher

    redis = redis_lib.Redis.from_url(PIPELINE_REDIS_URL, decode_responses=True)
    redis.flushdb()
    settings = make_settings(
        database_url=PG_URL,
        redis_url=PIPELINE_REDIS_URL,
        broker_url=AMQP_URL,
        yt_api_keys=KEYS,
        youtube_api_url=emulator.base_url,
        run_finished_queue=RUN_FINISHED_QUEUE,
        **overrides,
    )
    ctx = build_context(
        settings, clock=clock, redis=redis, events=AmqpEventPublisher(AMQP_URL, RUN_FINISHED_QUEUE)
    )
    ctx._closers.append(redis.close)
    return ctx


@pytest.fixture
def pipeline_ctx(pg_engine: sa.Engine, emulator: Any, clock: TestClock) -> Iterator[Any]:
    """A Context on the real services with a movable clock; clean tables, Redis and emulator usage."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(emulator, clock)
    yield ctx
    ctx.close()


@contextmanager
def running_worker(broker: Any, ctx: Any, *, threads: int = 4) -> Iterator[Any]:
    """A real Dramatiq worker consuming every stage queue from RabbitMQ in this process, using ``ctx``."""
    import dramatiq

    from actors.runtime import set_context

    purge_queues()
    drain_events()
    set_context(ctx)
    w = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    w.start()
    try:
        yield w
    finally:
        w.stop()
        # Each Worker adds its own middleware to the broker and never removes it; keep the broker clean.
        broker.middleware[:] = [m for m in broker.middleware if type(m).__name__ != "_WorkerMiddleware"]
        set_context(None)
        purge_queues()


@pytest.fixture
def worker(rabbit_broker: Any, pipeline_ctx: Any) -> Iterator[Any]:
    with running_worker(rabbit_broker, pipeline_ctx) as w:
        yield w
