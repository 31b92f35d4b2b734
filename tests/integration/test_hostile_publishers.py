"""Hostile or careless publishers on the real RabbitMQ with a real worker (issue "Hostile publishers").

Every message here is published with plain pika, as a foreign backend would: no message may end,
fail or delay another's run, and every malformed one that names a run still answers with one
``run_finished``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from models import Job, Run
from tests.conftest import AMQP_URL
from tests.integration.pipeline_harness import drain_events, wait_until
from tests.integration.test_pipeline_e2e import finished

pytestmark = pytest.mark.services


def envelope(kwargs: Any, *, actor: str = "start_run", queue: str = "runs", **fields: Any) -> dict[str, Any]:
    """A Dramatiq-format message as the README documents it; ``fields`` override any part of it."""
    body = {
        "queue_name": queue,
        "actor_name": actor,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }
    body.update(fields)
    return body


def publish(*bodies: dict[str, Any], queue: str = "runs") -> None:
    """Publish raw envelopes with plain pika, with confirms and ``mandatory`` (README)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, passive=True)
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                "",
                queue,
                json.dumps(body).encode(),
                mandatory=True,
                properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            )
    finally:
        connection.close()


def queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def start_kwargs(run_id: str, lines: list[str], **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "run_id": run_id,
        "analysis_id": "an-1",
        "owner_id": "alice",
        "channel_inputs": lines,
        "options": {},
    }
    kwargs.update(overrides)
    return kwargs


def assert_exact(ctx: Any, run_id: str, status: dict[str, Any]) -> None:
    """The run's summary agrees with its jobs table, and none of its jobs is left open."""
    counts = status["summary"]["counts_by_status"]
    with ctx.session() as s:
        by_status = dict(
            s.execute(
                sa.select(Job.status, sa.func.count()).where(Job.run_id == run_id).group_by(Job.status)
            ).all()
        )
    assert counts == by_status and sum(counts.values()) == status["total_jobs"] > 0
    assert set(counts) <= {"DONE", "FAILED", "NEEDS_SEARCH"}, counts


def events_by_run(ctx: Any, run_ids: list[str], *, timeout: float = 30) -> dict[str, list[dict[str, Any]]]:
    """Every run_finished on the test queue once each of ``run_ids`` has marked its event sent."""

    def all_sent() -> bool:
        with ctx.session() as s:
            sent = s.execute(
                sa.select(sa.func.count())
                .select_from(Run)
                .where(Run.id.in_(run_ids), Run.finished_event_sent_at.is_not(None))
            ).scalar_one()
        return sent == len(run_ids)

    wait_until(all_sent, timeout=timeout)
    time.sleep(0.5)  # a duplicate would be published right after the first
    events: dict[str, list[dict[str, Any]]] = {}
    for body in drain_events():
        event = json.loads(body)
        events.setdefault(event["run_id"], []).append(event)
    return events


def catalogue_lines(emulator: Any, n: int) -> list[str]:
    sample = emulator.catalogue.sample(n)
    return [f"@{c['handle']}" if c["handle"] and i % 3 == 0 else c["id"] for i, c in enumerate(sample)]


def test_a_malformed_resend_leaves_the_existing_run_alone(worker, pipeline_ctx, emulator):
    """Given alice's 1,500-input run, when 3 s later malformed resends of its run_id arrive, then it finishes exactly."""
    run_id = str(uuid.uuid4())
    publish(envelope(start_kwargs(run_id, catalogue_lines(emulator, 1_500))))
    time.sleep(3)
    publish(
        envelope({"run_id": run_id, "owner_id": "mallory", "channel_inputs": []}),
        envelope(start_kwargs(run_id, ["@x"], options={"no_such_option": 1})),
        envelope(start_kwargs(run_id, ["@x"], owner_id="mallory", options={"freshness_hours": 1e9})),
    )
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=150, interval=0.5)

    assert status["total_inputs"] == 1_500 and status["owner_id"] == "alice"
    assert status["error"] is None
    assert_exact(pipeline_ctx, run_id, status)
    assert [e["status"] for e in events_by_run(pipeline_ctx, [run_id])[run_id]] == ["FINISHED"]


def test_every_malformed_envelope_that_names_a_run_finishes_it_with_an_error(
    worker, pipeline_ctx, emulator, caplog
):
    """Given malformed start_run envelopes, when published, then each naming a run finishes once with error, the rest dead-letter."""
    caplog.set_level(logging.WARNING)
    good_id = str(uuid.uuid4())
    lines = catalogue_lines(emulator, 20)
    named: dict[str, dict[str, Any]] = {}

    def malformed(kwargs: dict[str, Any], **fields: Any) -> dict[str, Any]:
        named[str(kwargs["run_id"])] = body = envelope(kwargs, **fields)
        return body

    integer_id = uuid.uuid4().int % 10**12
    bodies = [
        malformed({k: v for k, v in start_kwargs(str(uuid.uuid4()), lines).items() if k != "channel_inputs"}),
        malformed({k: v for k, v in start_kwargs(str(uuid.uuid4()), lines).items() if k != "owner_id"}),
        malformed(start_kwargs(str(uuid.uuid4()), lines, priority="high")),
        malformed(start_kwargs(str(uuid.uuid4()), lines), args=["surplus"]),
        malformed(start_kwargs(integer_id, lines)),  # type: ignore[arg-type]
        malformed(start_kwargs(str(uuid.uuid4()), lines, options={"freshness_hours": float("nan")})),
        malformed(start_kwargs(str(uuid.uuid4()), lines, options={"freshness_hours": 1e9})),
        malformed(start_kwargs(str(uuid.uuid4()), lines), options={"max_retries": 10**6}),
        envelope([good_id, "an", "alice", lines]),  # kwargs as a list: names no run
        envelope({"analysis_id": "an", "owner_id": "alice", "channel_inputs": lines}),  # no run_id
        envelope(start_kwargs(good_id, lines)),
    ]
    publish(*bodies)

    status = wait_until(lambda: finished(pipeline_ctx, good_id), timeout=60)
    assert status["error"] is None
    assert_exact(pipeline_ctx, good_id, status)
    rejected = {
        run_id: wait_until(lambda r=run_id: finished(pipeline_ctx, r), timeout=30) for run_id in named
    }
    for run_id, run in rejected.items():
        assert run["error"] and run["total_jobs"] == 0, run_id
    assert "channel_inputs" in rejected[next(iter(named))]["error"]
    assert "max_retries" in rejected[list(named)[-1]]["error"]
    assert "run_id must be a string" in rejected[str(integer_id)]["error"]

    events = events_by_run(pipeline_ctx, [good_id, *named])
    assert {run_id: len(e) for run_id, e in events.items()} == dict.fromkeys([good_id, *named], 1)
    wait_until(lambda: queue_depth("runs.XQ") == 2, timeout=10)
    refused = [r.getMessage() for r in caplog.records if "refused and dead-lettered" in r.getMessage()]
    assert len(refused) == 2 and any("kwargs must be an object" in m for m in refused), refused
    assert queue_depth("finalize.XQ") == 0
    assert not [r for r in caplog.records if r.name == "actors.finalize"], "retries_exhausted ran"

    from pipeline.doctor import check_rabbitmq

    runs_check = next(c for c in check_rabbitmq(pipeline_ctx.settings) if c.name == "queue runs")
    assert "2 dead-lettered in runs.XQ" in runs_check.detail and "refused before it ran" in runs_check.fix
