"""Several single lookups per resolve message, on the real services and the emulator.

A message's lookups are asked concurrently and committed together; each answer is kept in Redis as
it arrives, so a delivery killed before its commit and delivered again pays for none of them (issue
11, finding 8: a RabbitMQ restart mid-run used to repeat lookups on redelivery).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_mock import MockerFixture

from models import ChannelSnapshot, Job, JobStatus
from pipeline.completion import run_key
from pipeline.stages import normalize_run, record_run, resolve_jobs, validate_run_request
from pipeline.stages import resolve as resolve_stage
from pipeline.stages.answers import ANSWERS
from tests.integration.pipeline_harness import make_pipeline_ctx, truncate

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]


class Killed(Exception):
    """A worker dying between its API calls and its commit."""


@pytest.fixture
def ctx(pg_engine: sa.Engine, emulator: Any, clock: Any) -> Any:
    truncate(pg_engine)
    emulator.reset()
    context = make_pipeline_ctx(emulator, clock, resolve_lookups_per_message=10, resolve_lookup_concurrency=4)
    yield context
    context.close()


def live_handles(emulator: Any, n: int) -> list[str]:
    return [f"@{c['handle']}" for c in emulator.catalogue.sample(200) if not c["terminated"] and c["handle"]][
        :n
    ]


def new_run(ctx: Any, lines: list[str]) -> tuple[str, list[list[int]]]:
    """Record a run and normalize it; return its id and the job ids of each resolve message."""
    run_id = str(uuid.uuid4())
    request = validate_run_request(
        ctx, run_id=run_id, analysis_id="a", owner_id="o", channel_inputs=lines, options={}
    )
    record_run(ctx, request)
    return run_id, [s.kwargs["job_ids"] for s in normalize_run(ctx, run_id) if s.actor == "resolve"]


def statuses(ctx: Any, run_id: str) -> dict[str, str]:
    with ctx.session() as session:
        rows = session.execute(sa.select(Job.value, Job.status).where(Job.run_id == run_id)).all()
    return {value: str(status) for value, status in rows}


def lookups_billed(emulator: Any) -> int:
    return int(emulator.usage()["by_method"].get("channels.list", {}).get("requests", 0))


def test_a_message_carries_several_lookups_and_asks_them_at_the_same_time(
    ctx: Any, emulator: Any, mocker: MockerFixture
) -> None:
    """Given 8 handles and 10 lookups per message, when the run is normalized and its one resolve message runs with the API answering in 200 ms, then the 8 lookups go out up to 4 at a time and all 8 jobs end DONE in that one delivery."""
    emulator.set_faults(latency_ms=200)
    lines = live_handles(emulator, 8)
    run_id, messages = new_run(ctx, lines)
    assert [len(m) for m in messages] == [8]

    in_flight, most, lock = [0], [0], threading.Lock()
    original = ctx.youtube.channel_by_handle

    def counted(*args: Any, **kwargs: Any) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    mocker.patch.object(ctx.youtube, "channel_by_handle", side_effect=counted)
    resolve_jobs(ctx, run_id, messages[0])
    assert set(statuses(ctx, run_id).values()) == {"DONE"}
    assert lookups_billed(emulator) == 8
    assert 2 <= most[0] <= 4, f"{most[0]} lookups were in flight at once"


def test_a_delivery_killed_before_its_commit_is_redelivered_without_paying_its_lookups_again(
    ctx: Any, emulator: Any, mocker: MockerFixture
) -> None:
    """Given a message of found handles, a handle nobody has and a custom URL that is a handle, when its first delivery dies after every lookup was answered and before its commit, then the redelivery asks the API nothing, settles each job as the answers said, saves each channel once, and keeps no answer once committed."""
    found = live_handles(emulator, 5)
    custom = found[0].removeprefix("@")
    lines = [*found[1:], "@no-such-handle-anywhere-42", f"https://www.youtube.com/c/{custom}"]
    run_id, messages = new_run(ctx, lines)
    assert len(messages) == 1

    mocker.patch.object(resolve_stage, "apply_outcome", side_effect=Killed("before the commit"))
    with pytest.raises(Killed):
        resolve_jobs(ctx, run_id, messages[0])
    asked = lookups_billed(emulator)
    assert asked == 6  # 4 found + 1 missing + the custom URL's forHandle
    assert set(statuses(ctx, run_id).values()) == {"RESOLVING"}, "the killed delivery committed something"
    mocker.stopall()

    resolve_jobs(ctx, run_id, messages[0])  # RabbitMQ redelivers the unacknowledged message
    assert lookups_billed(emulator) == asked, "the redelivery paid for lookups already answered"
    ended = statuses(ctx, run_id)
    assert ended.pop("no-such-handle-anywhere-42") == "FAILED"
    assert set(ended.values()) == {"DONE"}
    with ctx.session() as session:
        snapshots = session.execute(
            sa.select(sa.func.count()).select_from(ChannelSnapshot).where(ChannelSnapshot.run_id == run_id)
        ).scalar_one()
    assert snapshots == 5  # the custom URL's channel is the first handle's: 4 + 1, each once
    assert ctx.redis.hlen(run_key(run_id, ANSWERS)) == 0, "answers outlived their commit"


def test_without_the_kept_answers_a_redelivery_asks_again(
    ctx: Any, emulator: Any, mocker: MockerFixture
) -> None:
    """Given the same killed delivery, when Redis loses the run's kept answers before the redelivery, then the redelivery asks the API again (the answers were what saved the calls) and still settles every job once."""
    lines = live_handles(emulator, 4)
    run_id, messages = new_run(ctx, lines)
    mocker.patch.object(resolve_stage, "apply_outcome", side_effect=Killed("before the commit"))
    with pytest.raises(Killed):
        resolve_jobs(ctx, run_id, messages[0])
    mocker.stopall()
    ctx.redis.delete(run_key(run_id, ANSWERS))

    resolve_jobs(ctx, run_id, messages[0])
    assert lookups_billed(emulator) == 8
    assert set(statuses(ctx, run_id).values()) == {"DONE"}


def test_a_message_whose_keys_run_dry_midway_parks_only_the_lookups_not_answered(
    pg_engine: sa.Engine, emulator: Any, clock: Any
) -> None:
    """Given a budget of 3 units on each of the 2 keys and a message of 10 handles, when it runs, then 6 lookups are answered and DONE, the other 4 wait for the default bucket, and the emulator billed exactly the 6."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(emulator, clock, quota_daily_budget=3, quota_interactive_reserve=0)
    try:
        run_id, messages = new_run(ctx, live_handles(emulator, 10))
        assert [len(m) for m in messages] == [10]
        resolve_jobs(ctx, run_id, messages[0])
        counts: dict[str, int] = {}
        for status in statuses(ctx, run_id).values():
            counts[status] = counts.get(status, 0) + 1
        assert counts == {"DONE": 6, str(JobStatus.WAITING_QUOTA): 4}
        assert lookups_billed(emulator) == 6
    finally:
        ctx.close()
