"""Periodic jobs and run control on the real services, with a movable clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import (
    ApiCall,
    Channel,
    ChannelSnapshot,
    Job,
    LookupMiss,
    Resolution,
    ResolutionChange,
    Run,
    Video,
    VideoSnapshot,
)
from pipeline import maintenance, misses
from pipeline.errors import InvalidRequest, RunNotFound
from pipeline.runs import cancel_run, delete_run, get_run_results, get_run_status, retry_run, start_run
from tests.conftest import AMQP_URL, PG_URL
from tests.integration.pipeline_harness import (
    KEYS,
    PIPELINE_REDIS_URL,
    RUN_FINISHED_QUEUE,
    drain_events,
    make_pipeline_ctx,
    running_worker,
    truncate,
    wait_until,
)
from tests.integration.test_pipeline_e2e import finished

pytestmark = pytest.mark.services


def _count(ctx: Any, model: Any, *where: Any) -> int:
    with ctx.session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def _run_ids(emulator: Any, n: int) -> list[str]:
    return [c["id"] for c in emulator.catalogue.sample(n * 2) if not c["terminated"]][:n]


def test_refresh_refetches_only_stale_channels_as_a_system_run(worker, pipeline_ctx, emulator, clock):
    """Given channels fetched 25 h and 1 h ago, when refresh runs, then only the stale ones are fetched again, in a system run."""
    old = _run_ids(emulator, 30)
    first = start_run("a", "o", old, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first))
    clock.advance(timedelta(hours=25))
    fresh = [c for c in _run_ids(emulator, 60) if c not in old][:10]
    second = start_run("a", "o", fresh, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, second))
    before = emulator.usage()["by_method"]["channels.list"]["units"]

    run_id, sends = maintenance.refresh(pipeline_ctx)
    send_all(sends)
    status = wait_until(lambda: finished(pipeline_ctx, run_id))

    assert status["kind"] == "system" and status["total_jobs"] == 30
    assert emulator.usage()["by_method"]["channels.list"]["units"] - before == 1  # 30 ids, one batch
    assert _count(pipeline_ctx, ChannelSnapshot, ChannelSnapshot.run_id == run_id) == 30
    assert _count(pipeline_ctx, ChannelSnapshot, ChannelSnapshot.channel_id.in_(fresh)) == 10  # untouched
    assert maintenance.refresh(pipeline_ctx) == (None, [])  # nothing is stale any more


def test_a_scheduled_pass_never_starts_while_the_previous_one_is_still_open(
    worker, pipeline_ctx, emulator, clock
):
    """Given a refresh pass not yet worked through when the next hour's tick comes, then that tick starts nothing (it would fetch the same channels again), and once the first pass finishes, the next tick runs."""
    old = _run_ids(emulator, 30)
    first = start_run("a", "o", old, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first))
    clock.advance(timedelta(hours=25))

    run_id, held = maintenance.refresh(pipeline_ctx)  # recorded, its messages not sent yet
    assert run_id is not None and held
    clock.advance(timedelta(hours=1))
    assert maintenance.refresh(pipeline_ctx) == (None, [])
    before = emulator.usage()["by_method"]["channels.list"]["units"]

    send_all(held)
    wait_until(lambda: finished(pipeline_ctx, run_id))
    assert emulator.usage()["by_method"]["channels.list"]["units"] - before == 1  # paid once
    clock.advance(timedelta(hours=25))
    assert maintenance.refresh(pipeline_ctx)[0] not in (None, run_id)


def test_refresh_never_eats_into_the_interactive_reserve(pg_engine, emulator, clock):
    """Given keys whose units outside the reserve are spent, when refresh is due, then it starts nothing."""
    truncate(pg_engine)
    ctx = make_pipeline_ctx(emulator, clock, quota_daily_units_per_key=1_000, quota_interactive_reserve=1_000)
    try:
        with ctx.session() as s:
            s.add(Channel(id="UC" + "a" * 21 + "A", fetched_at=clock() - timedelta(days=3)))
        assert maintenance.refresh(ctx) == (None, [])
    finally:
        ctx.close()


def test_reresolve_detects_a_handle_that_moved_and_keeps_the_old_mapping(
    worker, pipeline_ctx, emulator, clock
):
    """Given a handle recorded against another channel, when re-resolve runs after the TTL, then the move is recorded and shown."""
    entry = next(c for c in emulator.catalogue.sample(50) if not c["terminated"] and c["handle"])
    run_id = start_run("a", "o", [f"@{entry['handle']}"], ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, run_id))
    elsewhere = "UC" + "z" * 21 + "w"
    with pipeline_ctx.session() as s:  # as if the handle used to belong to another channel
        s.execute(sa.update(Resolution).values(channel_id=elsewhere))
    clock.advance(timedelta(days=8))

    again, sends = maintenance.reresolve(pipeline_ctx)
    send_all(sends)
    status = wait_until(lambda: finished(pipeline_ctx, again))

    with pipeline_ctx.session() as s:
        change = s.exec(sa.select(ResolutionChange)).scalars().one()  # type: ignore[attr-defined]
        current = s.execute(sa.select(Resolution.channel_id)).scalar_one()
    assert (change.old_channel_id, change.new_channel_id) == (elsewhere, entry["id"])
    assert current == entry["id"]
    assert status["summary"]["resolution_changes"][0]["old_channel_id"] == elsewhere


def test_purge_removes_what_the_policy_says_and_nothing_else(pipeline_ctx, clock):
    """Given old and recent API calls, snapshots, channels and videos, when purge runs, then only what retention and the 30-day rule name goes."""
    now = clock()
    recent_channel, stale_channel = "UC" + "r" * 21 + "A", "UC" + "s" * 21 + "A"
    with pipeline_ctx.session() as s:
        for days in (1, 100):
            s.add(ApiCall(at=now - timedelta(days=days), endpoint="channels.list", units=1, outcome="ok"))
        s.add(Channel(id=recent_channel, fetched_at=now - timedelta(days=2)))
        s.add(Channel(id=stale_channel, fetched_at=now - timedelta(days=31)))
        s.add(ChannelSnapshot(channel_id=recent_channel, run_id="r1", fetched_at=now - timedelta(days=2)))
        s.add(ChannelSnapshot(channel_id=recent_channel, run_id="r0", fetched_at=now - timedelta(days=400)))
        s.add(ChannelSnapshot(channel_id=stale_channel, run_id="r1", fetched_at=now - timedelta(days=31)))
        # Video data follows the same 30-day rule: read 2 days ago stays, 31 days ago goes, and so do the
        # videos of a channel that was deleted (a tracked video of a channel never fetched stays).
        videos = {
            "fresh000000": (recent_channel, 2, False),
            "stale000000": (recent_channel, 31, False),
            "orphan00000": (stale_channel, 2, False),
            "tracked0000": ("UC" + "t" * 21 + "A", 2, True),
        }
        for video_id, (channel_id, age, tracked) in videos.items():
            read = now - timedelta(days=age)
            s.add(
                Video(id=video_id, channel_id=channel_id, stats_at=read, last_seen_at=read, tracked=tracked)
            )
            s.add(VideoSnapshot(video_id=video_id, run_id="r1", fetched_at=read, view_count=10))

    removed = maintenance.purge(pipeline_ctx)

    assert removed == {
        "api_calls": 1,
        "snapshots": 1,
        "channels": 1,
        "videos": 2,
        "video_snapshots": 2,
        "lookup_misses": 0,
    }
    with pipeline_ctx.session() as s:
        assert [c.id for c in s.exec(sa.select(Channel)).scalars()] == [recent_channel]  # type: ignore[attr-defined]
        snaps = s.execute(sa.select(ChannelSnapshot.run_id)).scalars().all()
        kept = set(s.execute(sa.select(Video.id)).scalars())
        kept_snaps = set(s.execute(sa.select(VideoSnapshot.video_id)).scalars())
    assert snaps == ["r1"]
    assert kept == kept_snaps == {"fresh000000", "tracked0000"}
    assert _count(pipeline_ctx, ApiCall) == 1


def test_purge_deletes_lookup_misses_past_the_negative_cache_and_keeps_the_fresh(pipeline_ctx, clock):
    """Given misses remembered 1 h, 23 h, 25 h and 30 days ago under NEGATIVE_CACHE_HOURS=24, when purge runs twice,
    then the two past 24 h are deleted once and the two a run still answers from stay."""
    now = clock()
    ages = {"handle:fresh": 1, "handle:edge": 23, "handle:expired": 25, "video:ancient": 30 * 24}
    with pipeline_ctx.session() as s:
        for key, hours in ages.items():
            kind, value = key.split(":")
            s.add(
                LookupMiss(
                    dedupe_key=key,
                    kind=kind,
                    value=value,
                    error_code="not_found",
                    reason="no channel has that handle",
                    missed_at=now - timedelta(hours=hours),
                )
            )

    assert maintenance.purge(pipeline_ctx)["lookup_misses"] == 2
    assert maintenance.purge(pipeline_ctx)["lookup_misses"] == 0
    with pipeline_ctx.session() as s:
        kept = set(s.execute(sa.select(LookupMiss.dedupe_key)).scalars())
        still_answered = misses.fresh(s, ages, now=now, hours=pipeline_ctx.settings.negative_cache_hours)
    assert kept == set(still_answered) == {"handle:fresh", "handle:edge"}


def test_cancel_ends_the_run_once_and_counts_every_job(rabbit_broker, pg_engine, clock):
    """Given a slow run in flight, when it is cancelled twice, then it ends CANCELLED once with one event and no open job."""
    from emulator import EmulatorConfig, EmulatorServer

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=3, channels=300, keys=KEYS, latency_ms=200), host="127.0.0.1", port=0
    ) as slow:
        ctx = make_pipeline_ctx(slow, clock)
        try:
            handles = [f"@{c['handle']}" for c in slow.catalogue.sample(100) if c["handle"]][:40]
            with running_worker(rabbit_broker, ctx, threads=2):
                run_id = start_run("a", "o", handles, ctx=ctx, send=send_all)
                wait_until(lambda: get_run_status(run_id, ctx=ctx)["run_status"] == "RUNNING")
                assert cancel_run(run_id, ctx=ctx) is True
                assert cancel_run(run_id, ctx=ctx) is False
                wait_until(lambda: _count(ctx, Run, Run.id == run_id, Run.finished_event_sent_at.isnot(None)))
                events = [json.loads(b) for b in drain_events()]
            status = get_run_status(run_id, ctx=ctx)
            assert status["run_status"] == "CANCELLED"
            assert [e["status"] for e in events] == ["CANCELLED"]
            assert (
                _count(ctx, Job, Job.run_id == run_id, Job.status.notin_(["DONE", "FAILED", "CANCELLED"]))
                == 0
            )
            assert status["summary"]["counts_by_status"].get("CANCELLED", 0) > 0
        finally:
            ctx.close()


def test_retry_reruns_needs_search_inputs_with_search_allowed(worker, pipeline_ctx, emulator):
    """Given a custom URL that matched no handle or username, when the run is retried with search, then the new run resolves it."""
    entry = next(
        c
        for c in emulator.catalogue.sample(3_000)
        if not c["terminated"]
        and c["custom_name"]
        and c["custom_name"] != c["handle"]
        and c["custom_name"] != (c.get("username") or "").lower()
    )
    first = start_run(
        "a",
        "o",
        [f"https://www.youtube.com/c/{entry['custom_name']}", "bad input!"],
        ctx=pipeline_ctx,
        send=send_all,
    )
    status = wait_until(lambda: finished(pipeline_ctx, first))
    assert status["summary"]["counts_by_status"] == {"NEEDS_SEARCH": 1, "FAILED": 1}

    second = retry_run(first, allow_search=True, ctx=pipeline_ctx, send=send_all)
    retried = wait_until(lambda: finished(pipeline_ctx, second))

    assert (
        retried["parent_run_id"] == first and retried["total_inputs"] == 1
    )  # the invalid line is not retried
    row = get_run_results(second, ctx=pipeline_ctx)[0]
    assert (row["method"], row["confidence"]) == ("search", "probable")
    assert emulator.usage()["by_method"]["search.list"]["units"] == 1  # one call in the search bucket


def test_delete_removes_the_run_but_keeps_shared_channels(worker, pipeline_ctx, emulator):
    """Given two runs sharing a channel, when one is deleted, then its rows go and the shared channel stays."""
    shared = _run_ids(emulator, 1)
    first = start_run("a", "o", shared, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, first))
    second = start_run("a", "o", shared, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, second))
    with pytest.raises(RunNotFound):
        delete_run(first, "someone-else", ctx=pipeline_ctx)

    delete_run(first, ctx=pipeline_ctx)

    with pytest.raises(RunNotFound):
        get_run_status(first, ctx=pipeline_ctx)
    assert _count(pipeline_ctx, Job, Job.run_id == first) == 0
    assert _count(pipeline_ctx, Channel, Channel.id == shared[0]) == 1
    assert get_run_status(second, ctx=pipeline_ctx)["run_status"] == "FINISHED"


def test_a_running_run_cannot_be_deleted(pipeline_ctx):
    """Given a run that has not finished, when deletion is asked, then a clear error says to cancel it first."""
    run_id = start_run("a", "o", ["@someone"], ctx=pipeline_ctx, send=lambda sends: None)
    with pytest.raises(InvalidRequest, match="cancel it"):
        delete_run(run_id, ctx=pipeline_ctx)


def test_a_real_periodiq_scheduler_fires_reconcile_end_to_end(worker, pipeline_ctx, emulator, tmp_path):
    """Given a run whose finalize was lost, when a real periodiq process starts, then its reconcile tick finishes the run."""
    run_id = start_run("a", "o", _run_ids(emulator, 5), ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: finished(pipeline_ctx, run_id))
    with pipeline_ctx.session() as s:  # as if finalize never ran
        s.execute(
            sa.update(Run).where(Run.id == run_id).values(status="RUNNING", finished_at=None, summary=None)
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER", "REDIS", "DATABASE", "YT_"))}
    env.update(
        BROKER_URL=AMQP_URL,
        REDIS_URL=PIPELINE_REDIS_URL,
        DATABASE_URL=PG_URL,
        YT_API_KEYS=",".join(KEYS),
        YOUTUBE_API_URL=emulator.base_url,
        RECONCILE_CRON="* * * * *",
        RUN_FINISHED_QUEUE=RUN_FINISHED_QUEUE,
    )
    log = (tmp_path / "periodiq.log").open("w")
    periodiq = str(Path(sys.executable).parent / "periodiq")  # the console script operators run
    scheduler = subprocess.Popen(
        [periodiq, "actors"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log_path = tmp_path / "periodiq.log"
    try:
        wait_until(lambda: "Scheduling Actor(reconcile)" in log_path.read_text(), timeout=75)
        status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=30)
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)
        try:
            scheduler.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait(10)
        log.close()
    assert status["summary"]["counts_by_status"] == {"DONE": 5}


def test_one_poisoned_run_does_not_stop_reconcile_for_the_others(pipeline_ctx, emulator, caplog):
    """Given a run whose options overflow the date arithmetic and a healthy stuck run, both without Redis keys, when reconcile runs, then the healthy one is rebuilt and resent, the poisoned one logged and counted."""
    from prometheus_client import generate_latest

    from actors.metrics import YtcollectCollector, build_registry
    from pipeline import stages
    from pipeline.failures import failure_counts

    held: list[Any] = []
    poisoned = start_run("a", "o", _run_ids(emulator, 6), ctx=pipeline_ctx, send=held.extend)
    healthy = start_run("a", "o", _run_ids(emulator, 6)[::-1], ctx=pipeline_ctx, send=held.extend)
    for run_id in (poisoned, healthy):
        stages.normalize_run(pipeline_ctx, run_id)  # jobs created, their messages never sent: stuck
    with pipeline_ctx.session() as s:  # planted past validation, as a run recorded before it was bounded
        s.execute(sa.update(Run).where(Run.id == poisoned).values(options={"freshness_hours": 1e9}))
    pipeline_ctx.redis.flushdb()

    report = maintenance.reconcile(pipeline_ctx, stuck_after_seconds=0)

    assert report.failed == [poisoned]
    assert set(report.rebuilt) >= {healthy}
    resent = {send.kwargs.get("run_id") for send in report.sends}
    assert healthy in resent and poisoned not in resent
    assert failure_counts(pipeline_ctx.redis) == {"reconcile": 1}
    assert any(f"reconcile: run {poisoned} failed" in r.getMessage() for r in caplog.records)
    exposition = generate_latest(
        build_registry(YtcollectCollector(ledger=None, sessions=None, redis=pipeline_ctx.redis))
    ).decode()
    assert 'ytcollect_periodic_failures{job="reconcile"} 1.0' in exposition

    again = maintenance.reconcile(pipeline_ctx, stuck_after_seconds=0)  # every tick, the same isolation
    assert again.failed == [poisoned] and failure_counts(pipeline_ctx.redis) == {"reconcile": 2}


def test_a_periodic_tick_that_raises_is_logged_and_counted(pipeline_ctx, mocker, caplog):
    """Given a refresh whose database query fails, when its periodic actor fires, then the tick is logged and counted and does not raise."""
    from actors import scheduled
    from actors.runtime import set_context
    from pipeline.failures import failure_counts

    mocker.patch.object(maintenance, "refresh", side_effect=RuntimeError("the database went away"))
    set_context(pipeline_ctx)
    try:
        scheduled.refresh.fn()
        scheduled.refresh.fn()
    finally:
        set_context(None)
    assert failure_counts(pipeline_ctx.redis) == {"refresh": 2}
    assert any("refresh: the tick failed" in r.getMessage() for r in caplog.records)
