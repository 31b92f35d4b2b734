"""normalize at scale: jobs created and counted without ORM objects, a big fan-out sent in parts, and a
normalize delivered twice (once killed half-way through its fan-out) still at the minimum of
``channels.list`` calls, on the real services."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import Job, JobStatus, RunInput
from pipeline import messages, stages, store
from pipeline.runs import start_run
from pipeline.stages import normalize as normalize_stage
from tests.integration.pipeline_harness import running_worker, wait_until
from tests.integration.test_pipeline_e2e import finished

pytestmark = pytest.mark.services


def _lines(emulator: Any, *, videos: int, channel_ids: int) -> tuple[list[str], set[str]]:
    """Video links (owners all distinct) and channel ids of other channels, some of them terminated, with
    repeats and bad lines; and the channels whose metadata the run must fetch (every one of them)."""
    entries = emulator.catalogue.sample(1_500)
    with_videos = [c for c in entries if c["video_ids"] and not c["terminated"]][:videos]
    owners = {c["id"] for c in with_videos}
    others = [c for c in entries if c["id"] not in owners][:channel_ids]
    lines = [f"https://youtu.be/{c['video_ids'][0]}" for c in with_videos]
    lines += [c["id"] for c in others]
    lines += [*lines[:25], "javascript:alert(1)", "not a channel at all"]
    return lines, owners | {c["id"] for c in others}


def test_normalize_counts_and_fans_out_without_job_objects(pipeline_ctx, emulator, monkeypatch):
    """Given 230 lines, when normalize runs with parts of 100, then no Job object is loaded, every line
    points at its job, the counters are right, and every open job is in one part of its own kind."""
    monkeypatch.setattr(normalize_stage, "FAN_OUT_JOBS", 100)
    lines, _ = _lines(emulator, videos=160, channel_ids=40)
    held: list[messages.Send] = []
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=held.extend)
    loaded: list[Any] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target)

    sa.event.listen(Job, "load", on_load)
    try:
        sends = stages.normalize_run(pipeline_ctx, run_id)
    finally:
        sa.event.remove(Job, "load", on_load)
    assert loaded == []

    with pipeline_ctx.session() as s:
        jobs = {j.id: j for j in s.exec(sa.select(Job).where(Job.run_id == run_id)).scalars()}
        inputs = list(s.exec(sa.select(RunInput).where(RunInput.run_id == run_id)).scalars())
    assert len(inputs) == len(lines)
    for line in inputs:  # a line and its repeats share the job of its own value
        assert jobs[line.job_id].value in line.text or jobs[line.job_id].kind == "invalid"
    statuses = Counter(j.status for j in jobs.values())
    assert statuses == {JobStatus.PENDING: 160, JobStatus.FETCHING: 40, JobStatus.FAILED: 2}
    live = pipeline_ctx.completion.live(run_id)
    assert live is not None and live.remaining == 200 and live.unresolved == 160

    parts = [s for s in sends if s.actor == "normalize"]
    assert [len(p.kwargs["job_ids"]) for p in parts] == [100, 60]  # whole 50-id batches per part
    assert {p.kwargs["kind"] for p in parts} == {"video"}
    resolves = [r for p in parts for r in stages.fan_out_part(pipeline_ctx, run_id, **_part(p))]
    assert [len(r.kwargs["job_ids"]) for r in resolves] == [50, 50, 50, 10]
    sent = [job_id for r in resolves for job_id in r.kwargs["job_ids"]]
    assert sorted(sent) == sorted(j.id for j in jobs.values() if j.status == JobStatus.PENDING)


def _part(send: messages.Send) -> dict[str, Any]:
    return {"kind": send.kwargs["kind"], "job_ids": send.kwargs["job_ids"]}


def test_a_normalize_killed_mid_fan_out_and_delivered_again_spends_the_minimum(
    rabbit_broker, pipeline_ctx, emulator, monkeypatch, mocker
):
    """Given a big run whose normalize sent half its fan-out and died, when normalize is delivered twice
    more, then the run finishes and asks channels.list by id exactly ceil(channels / 50) times."""
    monkeypatch.setattr(normalize_stage, "FAN_OUT_JOBS", 100)
    lines, needing = _lines(emulator, videos=400, channel_ids=230)
    calls = mocker.spy(pipeline_ctx.youtube, "channels_by_ids")
    held: list[messages.Send] = []
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=held.extend)
    assert [s.actor for s in held] == ["normalize"]
    with running_worker(rabbit_broker, pipeline_ctx):
        first = stages.normalize_run(pipeline_ctx, run_id)  # this delivery dies half-way through sending
        assert len(first) == 4
        send_all(first[:2])
        send_all([messages.normalize(run_id), messages.normalize(run_id)])  # redelivered, twice at once
        status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=120)

    assert status["summary"]["counts_by_status"]["DONE"] > 0
    asked = [cid for call in calls.call_args_list for cid in call.args[0]]
    assert Counter(asked).most_common(1)[0][1] == 1, "a channel was asked for twice"
    assert set(asked) == needing
    assert calls.call_count == math.ceil(len(needing) / 50)


def test_resolve_messages_delivered_twice_at_once_fetch_each_channel_once(
    rabbit_broker, pipeline_ctx, emulator, mocker
):
    """Given every resolve message delivered twice (the copies run side by side, as a retried normalize's
    resends can), when the run goes through, then channels.list by id is asked ceil(channels / 50)
    times, each channel once: a copy whose twin moved its jobs does not send them to metadata again."""
    original = rabbit_broker.enqueue

    def twice(message: Any, *, delay: int | None = None) -> Any:
        if message.actor_name == "resolve":
            original(message, delay=delay)
        return original(message, delay=delay)

    mocker.patch.object(rabbit_broker, "enqueue", twice)
    lines, needing = _lines(emulator, videos=600, channel_ids=20)
    calls = mocker.spy(pipeline_ctx.youtube, "channels_by_ids")
    with running_worker(rabbit_broker, pipeline_ctx, threads=8):
        run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=send_all)
        wait_until(lambda: finished(pipeline_ctx, run_id), timeout=120)

    asked = [cid for call in calls.call_args_list for cid in call.args[0]]
    assert Counter(asked).most_common(1)[0][1] == 1, "a channel was asked for twice"
    assert set(asked) == needing
    assert calls.call_count == math.ceil(len(needing) / 50)


def test_the_barrier_dispatch_reads_tuples_and_takes_more_ids_than_postgresql_parameters(
    pipeline_ctx, emulator
):
    """Given a normalized run of channel ids, when its metadata is dispatched, then no Job object is
    loaded and every job is in one 50-channel batch; and a freshness check of 70,000 ids goes in chunks."""
    lines, needing = _lines(emulator, videos=0, channel_ids=120)
    run_id = start_run("a", "o", lines, ctx=pipeline_ctx, send=lambda _sends: None)
    stages.normalize_run(pipeline_ctx, run_id)
    loaded: list[Any] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target)

    sa.event.listen(Job, "load", on_load)
    try:
        sends = stages.dispatch_metadata(pipeline_ctx, run_id)
    finally:
        sa.event.remove(Job, "load", on_load)
    assert loaded == []
    assert [len(s.kwargs["job_ids"]) for s in sends] == [50, 50, 20]
    with pipeline_ctx.session() as s:
        job_ids = set(
            s.execute(sa.select(Job.id).where(Job.run_id == run_id, Job.status == "FETCHING")).scalars()
        )
        ids = [f"UC{n:022d}" for n in range(70_000)]
        assert store.fresh_channel_ids(s, channel_ids=ids, fresh_since=pipeline_ctx.now()) == set()
    assert {j for send in sends for j in send.kwargs["job_ids"]} == job_ids
    assert len(needing) == 120
