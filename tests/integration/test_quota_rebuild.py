"""Budgets survive Redis losing them: the ledger and a run's search counter are rebuilt from ``api_calls``.

On the real Redis (flushed with FLUSHDB), PostgreSQL, RabbitMQ and the emulator over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa

from actors.dispatch import send_all
from models import ApiCall
from pipeline import db, maintenance, resources, store
from pipeline.runs import start_run
from pipeline.youtube.errors import QuotaExhausted
from pipeline.youtube.quota import BUCKETS, METHODS, QuotaLedger, bucket_of
from pipeline.youtube.records import ApiCallRecord
from tests.conftest import PG_URL
from tests.factories import make_settings
from tests.integration.pipeline_harness import (
    KEYS,
    PIPELINE_REDIS_URL,
    make_pipeline_ctx,
    running_worker,
    truncate,
    wait_until,
)
from tests.integration.test_pipeline_e2e import finished
from tests.integration.test_pipeline_search_quota import _custom_urls_needing_search

pytestmark = pytest.mark.services

METHOD_OF = {bucket: next(m for m, (b, _) in METHODS.items() if b == bucket) for bucket in BUCKETS}


@pytest.fixture
def flushable_redis():
    """The pipeline tests' own Redis database: these tests FLUSHDB it."""
    client = redis_lib.Redis.from_url(PIPELINE_REDIS_URL, decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _ledger(pg_engine: Any, redis: Any, clock: Any, **overrides: Any) -> QuotaLedger:
    settings = make_settings(
        database_url=PG_URL, redis_url=PIPELINE_REDIS_URL, yt_api_keys=KEYS[:1], **overrides
    )
    return resources.quota_ledger(settings, redis, clock=clock, engine=pg_engine)


def _spend(ledger: QuotaLedger, sessions: Any, clock: Any, bucket: str) -> None:
    """What the client does for one billed call: reserve its cost, then record the call."""
    lease = ledger.reserve(1, bucket=bucket)
    record = ApiCallRecord(METHOD_OF[bucket], lease.fingerprint, 1, "ok", 200, 1.0, clock())
    with db.session_scope(sessions) as session:
        store.insert_api_call(session, record=record)


def _used(ledger: QuotaLedger) -> dict[str, int]:
    return {bucket: s.used for bucket, s in ledger.status()[0].buckets.items()}


def test_a_flushed_ledger_is_rebuilt_from_api_calls_and_still_refuses_past_the_cap(
    pg_engine, flushable_redis, clock
):
    """Given 7 default units, 3 searches and 2 stats units spent on a key under QUOTA_DAILY_BUDGET=10, when
    Redis is flushed, then the ledger reports the same units per bucket, a lease granted before the flush
    and given back after changes nothing, and 8 racing workers get exactly the 3 default units left."""
    truncate(pg_engine)
    sessions = db.session_factory(pg_engine)
    ledger = _ledger(pg_engine, flushable_redis, clock, quota_daily_budget=10, quota_interactive_reserve=0)
    for bucket, n in (("default", 7), ("search", 3), ("video_stats", 2)):
        for _ in range(n):
            _spend(ledger, sessions, clock, bucket)
    before = _used(ledger)
    assert before == {"default": 7, "search": 3, "video_stats": 2}
    unsent = ledger.reserve(1)  # in flight at the flush, then never sent

    flushable_redis.flushdb()
    ledger.release(unsent)
    assert _used(ledger) == before

    granted: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                granted.append(ledger.reserve(1).fingerprint)
        except QuotaExhausted:
            return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads)
    assert len(granted) == 3
    assert ledger.status()[0].buckets["default"].state == "spent"
    assert _used(ledger)["search"] == 3


def test_an_unseeded_day_reserves_nothing_while_the_database_is_unreachable(flushable_redis, clock, caplog):
    """Given a flushed ledger whose database cannot be reached, when a call asks for quota, then nothing is
    reserved, and the status still answers (from Redis, with a warning that names no URL)."""
    settings = make_settings(
        database_url="postgresql://nobody:secret-pw@127.0.0.1:1/none",
        redis_url=PIPELINE_REDIS_URL,
        yt_api_keys=KEYS[:1],
    )
    ledger = resources.quota_ledger(settings, flushable_redis, clock=clock)
    with pytest.raises(sa.exc.OperationalError):
        ledger.reserve(1)
    assert _used(ledger) == {"default": 0, "search": 0, "video_stats": 0}
    assert "could not rebuild" in caplog.text and "secret-pw" not in caplog.text
    assert not flushable_redis.keys("*used*")


def test_a_flush_mid_run_lets_the_run_search_no_more_than_its_budget(
    pg_engine, rabbit_broker, emulator, clock
):
    """Given a run with allow_search and search_budget 3 over 6 custom URLs that each need a search, when Redis
    is flushed once the first search is on record, then the run still finishes (reconcile rebuilds its
    counters) and the emulator billed at most 3 search.list calls."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(emulator, clock, http_timeout_seconds=1.0, resolve_batch_size=1)
    try:
        customs = _custom_urls_needing_search(emulator.catalogue, 6)
        with running_worker(rabbit_broker, ctx):
            run_id = start_run(
                "a", "o", customs, {"allow_search": True, "search_budget": 3}, ctx=ctx, send=send_all
            )
            wait_until(lambda: _billed(ctx, run_id, "search.list") >= 1, timeout=60)
            ctx.redis.flushdb()
            status = _reconcile_until(ctx, lambda: finished(ctx, run_id))
        searches = emulator.usage()["buckets"]["search"]["units_total"]
        assert 1 <= searches <= 3
        counts = status["summary"]["counts_by_status"]
        assert sum(counts.values()) == 6 and counts.get("NEEDS_SEARCH", 0) >= 3
    finally:
        ctx.close()


def test_a_flush_mid_run_keeps_each_key_within_the_daily_budget(pg_engine, rabbit_broker, emulator, clock):
    """Given QUOTA_DAILY_BUDGET=12 on 2 keys and a run of 40 handles (a call each), when Redis is flushed once
    10 default units are on record, then the keys spend their 24 units and the emulator billed no key more
    than 12 (the rest of the run waits for the next day)."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(
        emulator, clock, http_timeout_seconds=1.0, quota_daily_budget=12, quota_interactive_reserve=0
    )
    try:
        entries = [e for e in emulator.catalogue.sample(600) if not e["terminated"] and e["handle"]]
        handles = [f"@{e['handle']}" for e in entries if e["handle"].isascii()][:40]
        assert len(handles) == 40
        with running_worker(rabbit_broker, ctx):
            run_id = start_run("a", "o", handles, ctx=ctx, send=send_all)
            wait_until(lambda: _billed(ctx, run_id, None) >= 10, timeout=60)
            ctx.redis.flushdb()
            _reconcile_until(ctx, lambda: _billed(ctx, run_id, None) >= 24)
            settled = time.monotonic() + 3.0  # room for an overspend to show
            _reconcile_until(ctx, lambda: time.monotonic() > settled)
        by_key = _billed_by_key(ctx)
        assert sum(by_key.values()) == 24  # the keys did spend past the flush...
        assert all(units <= 12 for units in by_key.values()), by_key  # ...never past the budget
        assert emulator.usage()["buckets"]["default"]["units_total"] == sum(by_key.values())
    finally:
        ctx.close()


def _billed(ctx: Any, run_id: str, endpoint: str | None) -> int:
    with ctx.session() as session:
        calls = session.query(ApiCall).filter(ApiCall.run_id == run_id, ApiCall.units > 0).all()
    return sum(c.units for c in calls if endpoint is None or c.endpoint == endpoint)


def _billed_by_key(ctx: Any) -> dict[str, int]:
    by_key: dict[str, int] = {}
    with ctx.session() as session:
        for call in session.query(ApiCall).filter(ApiCall.units > 0).all():
            if bucket_of(call.endpoint) == "default":
                by_key[call.key_fingerprint] = by_key.get(call.key_fingerprint, 0) + call.units
    return by_key


def _reconcile_until(ctx: Any, reached: Callable[[], Any], timeout: float = 90) -> Any:
    """Tick reconcile (as the periodic maintenance does) until ``reached()`` answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = reached()
        if answer:
            return answer
        send_all(maintenance.reconcile(ctx, stuck_after_seconds=0).sends)
        time.sleep(1.0)
    raise AssertionError(f"not reached within {timeout}s of the flush")


def test_a_flush_mid_run_leaves_the_reported_units_equal_to_the_billing(pg_engine, rabbit_broker, clock):
    """Given 2 keys of 4 units and a run of 12 handles that spends them and waits for the quota day, when Redis
    is flushed and reconcile rebuilds the run, then its live status (from Redis) reports the 8 units api_calls
    and the emulator billed; after the reset and the finish the summary does too (12 each)."""
    from datetime import timedelta

    from emulator import EmulatorConfig, EmulatorServer
    from pipeline.runs import get_run_status

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=500, keys=KEYS, quota_per_key=4), host="127.0.0.1", port=0
    ) as small:
        ctx = make_pipeline_ctx(small, clock)
        try:
            handles = [
                c["handle"] for c in small.catalogue.sample(200) if not c["terminated"] and c["handle"]
            ]
            with running_worker(rabbit_broker, ctx):
                run_id = start_run("a", "o", [f"@{h}" for h in handles[:12]], ctx=ctx, send=send_all)
                wait_until(lambda: _waiting_jobs(ctx, run_id) == 4, timeout=60)
                ctx.redis.flushdb()
                send_all(maintenance.reconcile(ctx).sends)
                live = get_run_status(run_id, ctx=ctx)
                assert live["counts_source"] == "redis" and live["status_counts"]["WAITING_QUOTA"] == 4
                assert live["quota_units"]["total"] == _billed(ctx, run_id, None) == 8
                assert small.usage()["units_total"] == 8
                assert _cli_status(ctx, run_id)["quota_units"]["total"] == 8  # `ytcollect status` says so too

                small.advance_clock(timedelta(days=1))
                clock.advance(timedelta(days=1))
                send_all(maintenance.reconcile(ctx).sends)
                status = wait_until(lambda: finished(ctx, run_id), timeout=60)
            assert status["summary"]["counts_by_status"] == {"DONE": 12}
            assert status["quota_units"]["total"] == _billed(ctx, run_id, None) == 12
            assert small.usage()["units_total"] == 12
        finally:
            ctx.close()


def _cli_status(ctx: Any, run_id: str) -> dict[str, Any]:
    """``ytcollect status RUN --json`` in a process of its own, on the same services."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    s = ctx.settings
    env = {
        **os.environ,
        "DATABASE_URL": s.database_url,
        "REDIS_URL": s.redis_url,
        "BROKER_URL": s.broker_url,
        "YT_API_KEYS": ",".join(s.yt_api_keys),
        "YOUTUBE_API_URL": s.youtube_api_url,
    }
    ytcollect = Path(sys.executable).with_name("ytcollect")
    done = subprocess.run(
        [str(ytcollect), "status", run_id, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _waiting_jobs(ctx: Any, run_id: str) -> int:
    from models import Job, JobStatus

    with ctx.session() as session:
        return session.query(Job).filter(Job.run_id == run_id, Job.status == JobStatus.WAITING_QUOTA).count()
