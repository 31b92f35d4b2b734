"""Exactly-once on at-least-once delivery, quota waiting, and a large run, on the real services."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import ChannelSnapshot, Job, JobStatus, Run
from pipeline import maintenance, stages
from pipeline.completion import RunCompletion
from pipeline.runs import get_run_status, start_run
from tests.factories import inputs_of_every_kind, new_run_id
from tests.integration.pipeline_harness import (
    KEYS,
    drain_events,
    make_pipeline_ctx,
    running_worker,
    truncate,
    wait_until,
)
from tests.integration.test_pipeline_e2e import finished

pytestmark = pytest.mark.services


def test_every_message_delivered_twice_changes_nothing(rabbit_broker, pipeline_ctx, emulator, mocker):
    """Given a broker that delivers every message twice, when a run goes through, then counts, snapshots and events stay exact."""
    original = rabbit_broker.enqueue

    def twice(message: Any, *, delay: int | None = None) -> Any:
        original(message, delay=delay)
        return original(message, delay=delay)

    mocker.patch.object(rabbit_broker, "enqueue", twice)
    catalogue = emulator.catalogue.sample(400)
    lines = list(inputs_of_every_kind(catalogue).values()) + [c["id"] for c in catalogue[100:220]]
    with running_worker(rabbit_broker, pipeline_ctx):
        run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=send_all)
        status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=90)
        wait_until(lambda: _event_sent(pipeline_ctx, run_id))
        events = [json.loads(b) for b in drain_events()]

    counts = status["summary"]["counts_by_status"]
    assert sum(counts.values()) == status["total_jobs"]
    with pipeline_ctx.session() as s:
        by_status = dict(s.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())
        snapshots = s.execute(
            sa.select(ChannelSnapshot.channel_id, sa.func.count()).group_by(ChannelSnapshot.channel_id)
        ).all()
    assert by_status == counts
    assert all(n == 1 for _cid, n in snapshots), "a channel got two snapshots from one run"
    assert [e["run_id"] for e in events] == [run_id]
    live = RunCompletion(pipeline_ctx.redis).live(run_id)
    assert live is not None and live.remaining == 0 and sum(live.counts.values()) == status["total_jobs"]


def _event_sent(ctx: Any, run_id: str) -> bool:
    with ctx.session() as s:
        return s.get(Run, run_id).finished_event_sent_at is not None


def test_concurrent_finalize_finishes_once_and_publishes_once(worker, pipeline_ctx, emulator):
    """Given a run whose jobs are all done, when 16 finalize calls race, then one wins and one event is sent."""
    run_id = start_run(
        "a", "o", [c["id"] for c in emulator.catalogue.sample(60)], ctx=pipeline_ctx, send=send_all
    )
    wait_until(lambda: finished(pipeline_ctx, run_id))
    wait_until(lambda: _event_sent(pipeline_ctx, run_id))
    drain_events()
    with pipeline_ctx.session() as s:  # rewind the run to just before its finalize
        s.execute(
            sa.update(Run).where(Run.id == run_id).values(status="RUNNING", finished_event_sent_at=None)
        )

    barrier = threading.Barrier(16)

    def race() -> None:
        barrier.wait()
        stages.finalize_run(pipeline_ctx, run_id)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(drain_events()) == 1
    assert get_run_status(run_id, ctx=pipeline_ctx)["run_status"] == "FINISHED"


def test_many_jobs_marked_at_once_reach_zero_exactly_once(pipeline_ctx):
    """Given 2,000 jobs marked by 20 racing callers with overlaps, then exactly one caller sees the run reach zero."""
    completion = RunCompletion(pipeline_ctx.redis)
    run_id = new_run_id()
    completion.register(run_id, total_jobs=2_000, unresolved_jobs=0)
    winners: list[int] = []
    lock = threading.Lock()

    def mark(offset: int) -> None:
        for start in range(0, 2_000, 100):
            ids = {j: "DONE" for j in range(start, start + 100) if (j + offset) % 3 != 0 or offset % 2}
            if completion.mark_terminal(run_id, ids).reached_zero():
                with lock:
                    winners.append(offset)

    threads = [threading.Thread(target=mark, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    live = completion.live(run_id)
    assert len(winners) == 1
    assert live is not None and live.remaining == 0 and live.counts == {"DONE": 2_000}


def test_all_keys_spent_mid_run_wait_for_the_quota_day_then_finish(pg_engine, rabbit_broker, clock):
    """Given keys with 4 units each, when a run of 12 handles spends them, then jobs wait and finish after the day turns."""
    from emulator import EmulatorConfig, EmulatorServer

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=500, keys=KEYS, quota_per_key=4), host="127.0.0.1", port=0
    ) as small:
        ctx = make_pipeline_ctx(small, clock)
        try:
            handles = [
                c["handle"] for c in small.catalogue.sample(200) if not c["terminated"] and c["handle"]
            ][:12]
            with running_worker(rabbit_broker, ctx):
                run_id = start_run("a", "o", [f"@{h}" for h in handles], ctx=ctx, send=send_all)
                waiting = wait_until(lambda: _waiting(ctx, run_id), timeout=60)
                assert waiting["waiting_quota_until"] is not None
                assert waiting["status_counts"].get("WAITING_QUOTA") == 4
                assert waiting["status_counts"].get("DONE") == 8

                small.advance_clock(timedelta(days=1))
                clock.advance(timedelta(days=1))
                report = maintenance.reconcile(ctx)
                send_all(report.sends)
                assert report.resumed_from_quota == 4
                status = wait_until(lambda: finished(ctx, run_id), timeout=60)
            assert status["summary"]["counts_by_status"] == {"DONE": 12}
            assert status["waiting_quota_until"] is None
        finally:
            ctx.close()


def test_keys_dry_mid_resolution_keep_the_barrier_closed_and_metadata_in_one_full_batch(
    pg_engine, rabbit_broker, clock
):
    """Given 2 keys of 1 unit and a run of 50 video links (50 channels) resolved 20 per videos.list, when the
    third lookup finds the keys dry, then no metadata is fetched while its jobs wait; after the quota day turns
    the run finishes with one channels.list?id= call for its 50 channels (ceil(50 / 50)), not one per side of
    the wait."""
    from emulator import EmulatorConfig, EmulatorServer

    truncate(pg_engine)
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=500, keys=KEYS, quota_per_key=1), host="127.0.0.1", port=0
    ) as small:
        ctx = make_pipeline_ctx(small, clock, resolve_batch_size=20)
        try:
            live = [c for c in small.catalogue.sample(300) if not c["terminated"] and c["video_ids"]][:50]
            assert len(live) == 50
            with running_worker(rabbit_broker, ctx):
                run_id = start_run(
                    "a", "o", [f"https://youtu.be/{c['video_ids'][0]}" for c in live], ctx=ctx, send=send_all
                )
                wait_until(lambda: _count_jobs(ctx, run_id, JobStatus.WAITING_QUOTA) > 0, timeout=60)
                wait_until(
                    lambda: (
                        _count_jobs(ctx, run_id, JobStatus.FETCHING)
                        == 50 - _count_jobs(ctx, run_id, JobStatus.WAITING_QUOTA)
                    )
                )
                for _tick in range(3):  # reconcile ticking through the wait must not open the barrier
                    send_all(maintenance.reconcile(ctx, stuck_after_seconds=0).sends)
                time.sleep(2)  # room for what they sent to run
                with ctx.session() as s:
                    assert s.get(Run, run_id).metadata_dispatched_at is None
                assert "channels.list" not in small.usage()["by_method"]

                small.advance_clock(timedelta(days=1))
                clock.advance(timedelta(days=1))
                send_all(maintenance.reconcile(ctx).sends)
                status = wait_until(lambda: finished(ctx, run_id), timeout=60)
            assert status["summary"]["counts_by_status"] == {"DONE": 50}
            by_method = small.usage()["by_method"]
            assert by_method["channels.list"]["requests"] == 1  # ceil(50 channels / 50)
            assert by_method["videos.list"]["requests"] >= 3
            assert status["quota_units"]["by_method"]["channels.list"] == 1
        finally:
            ctx.close()


def _count_jobs(ctx: Any, run_id: str, status: str) -> int:
    with ctx.session() as s:
        return int(
            s.execute(
                sa.select(sa.func.count()).select_from(Job).where(Job.run_id == run_id, Job.status == status)
            ).scalar_one()
        )


def _waiting(ctx: Any, run_id: str) -> dict[str, Any] | None:
    status = get_run_status(run_id, ctx=ctx)
    counts = status["status_counts"]
    return status if counts.get("WAITING_QUOTA", 0) + counts.get("DONE", 0) == 12 else None


def test_a_ten_thousand_input_run_finishes_and_status_comes_from_redis(worker, pipeline_ctx, emulator):
    """Given 10,000 mixed inputs, when the run goes, then it finishes exactly and live status never reads the jobs table."""
    catalogue = emulator.catalogue.sample(3_000)
    live = [c for c in catalogue if not c["terminated"]]
    lines: list[str] = []
    for i, c in enumerate(live):
        lines.append(c["id"] if i % 2 else f"https://www.youtube.com/channel/{c['id']}/videos")
        if c["handle"] and i % 5 == 0:
            lines.append(f"@{c['handle']}")
    while len(lines) < 10_000:
        lines.append(lines[len(lines) % 3_000])  # duplicates
    lines[::997] = ["not a channel!"] * len(lines[::997])
    lines = lines[:10_000]

    statements: list[str] = []
    me = threading.get_ident()

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:  # the worker threads share the engine: only our own queries
            statements.append(statement)

    run_id = start_run("big", "o", lines, ctx=pipeline_ctx, send=send_all)
    wait_until(lambda: get_run_status(run_id, ctx=pipeline_ctx)["run_status"] != "PENDING", timeout=60)
    sa.event.listen(pipeline_ctx.engine, "before_cursor_execute", capture)
    try:
        status = get_run_status(run_id, ctx=pipeline_ctx)
    finally:
        sa.event.remove(pipeline_ctx.engine, "before_cursor_execute", capture)
    assert status["run_status"] == "RUNNING", "the run finished before its live status could be read"
    assert status["counts_source"] == "redis"
    assert statements and not [s for s in statements if re.search(r"\b(FROM|JOIN)\s+jobs\b", s)], statements

    final = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=240, interval=0.5)
    assert final["total_inputs"] == 10_000
    assert sum(final["summary"]["counts_by_status"].values()) == final["total_jobs"]
    with pipeline_ctx.session() as s:
        open_jobs = s.execute(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.run_id == run_id, Job.status.notin_([JobStatus.DONE, JobStatus.FAILED]))
        ).scalar_one()
    assert open_jobs == 0
