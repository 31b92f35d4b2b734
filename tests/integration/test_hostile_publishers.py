"""Hostile or careless publishers on the real RabbitMQ with a real worker (issue "Hostile publishers").

Every message here is published with plain pika, as a foreign backend would: no message may end,
fail or delay another's run, and every malformed one that names a run still answers with one
``run_finished``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from models import OPEN_STATUSES, Job, Run
from pipeline import stages
from pipeline.errors import RunNotFound
from pipeline.runs import get_run_results, get_run_status, list_runs, start_run
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


def publish(*bodies: dict[str, Any] | bytes, queue: str = "runs") -> None:
    """Publish envelopes (bytes as they are) with plain pika, with confirms and ``mandatory`` (README)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, passive=True)
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                "",
                queue,
                body if isinstance(body, bytes) else json.dumps(body).encode(),
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


def test_envelopes_dramatiq_cannot_decode_are_answered_when_they_name_a_run_and_dead_lettered_otherwise(
    worker, pipeline_ctx, emulator, caplog
):
    """Given start_run bodies Dramatiq cannot build a message from, or whose run_id is not in kwargs, when
    published on runs, then each naming a run (kwargs.run_id, the first positional argument, a run_id beside
    the envelope) finishes once with the reason, and each naming none is dead-lettered with one line."""
    caplog.set_level(logging.WARNING)
    lines = catalogue_lines(emulator, 10)
    ids = {name: str(uuid.uuid4()) for name in ("no_options", "beside", "args", "args_kwargs_null", "flat")}
    ids.update(args_not_a_list=str(uuid.uuid4()), unknown_field=str(uuid.uuid4()))
    ids.update(no_actor=str(uuid.uuid4()), message_id_object=str(uuid.uuid4()))
    positional = [ids["args"], "an", "alice", lines]

    def without(body: dict[str, Any], *names: str) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k not in names}

    named = [
        without(envelope(start_kwargs(ids["no_options"], lines)), "options"),
        without(envelope(None), "kwargs") | {"run_id": ids["beside"]},
        envelope({}, args=positional),  # start_run.send(run_id, ...) from a Python backend
        envelope(None, args=[ids["args_kwargs_null"], "an", "alice", lines]),
        {"queue_name": "runs", "actor_name": "start_run", **start_kwargs(ids["flat"], lines)},
        envelope(start_kwargs(ids["args_not_a_list"], lines), args=5),
        envelope(start_kwargs(ids["unknown_field"], lines), priority=9),
        without(envelope(start_kwargs(ids["no_actor"], lines)), "actor_name"),  # runs has one actor
        envelope(start_kwargs(ids["message_id_object"], lines), message_id={"id": 1}),
    ]
    unnamed = [
        b"not json {",
        b"[1, 2]",
        without(envelope({"owner_id": "alice", "channel_inputs": lines}), "options"),
        without(envelope({"run_id": str(uuid.uuid4()), "job_ids": [1]}, actor="resolve"), "options"),
    ]
    good = str(uuid.uuid4())
    publish(*named, *unnamed, envelope(start_kwargs(good, lines)))

    status = wait_until(lambda: finished(pipeline_ctx, good), timeout=60)
    assert_exact(pipeline_ctx, good, status)
    rejected = {
        name: wait_until(lambda r=r: finished(pipeline_ctx, r), timeout=30) for name, r in ids.items()
    }
    for name, run in rejected.items():
        assert run["error"] and run["total_jobs"] == 0, name
    assert "the envelope has no options" in rejected["no_options"]["error"]
    assert "unknown envelope field(s) ['run_id']" in rejected["beside"]["error"]
    assert "not 4 positional argument(s)" in rejected["args"]["error"]
    assert "kwargs must be an object" in rejected["args_kwargs_null"]["error"]
    assert "args must be a list" in rejected["args_not_a_list"]["error"]
    assert "['priority']" in rejected["unknown_field"]["error"]
    assert "message_id must be a string" in rejected["message_id_object"]["error"]
    owners = {name: run["owner_id"] for name, run in rejected.items()}
    assert owners == {**dict.fromkeys(ids, "alice"), "beside": "-"}  # the owner wherever it was sent

    events = events_by_run(pipeline_ctx, [good, *ids.values()])
    assert {run_id: len(e) for run_id, e in events.items()} == dict.fromkeys([good, *ids.values()], 1)
    wait_until(lambda: queue_depth("runs.XQ") == len(unnamed), timeout=10)
    refused = [r.getMessage() for r in caplog.records if "refused and dead-lettered" in r.getMessage()]
    assert len(refused) == len(unnamed) and all("\n" not in m for m in refused), refused
    assert any("not JSON" in m for m in refused) and any("JSON list, not an object" in m for m in refused)
    assert not [r for r in caplog.records if "Failed to decode" in r.getMessage()]
    with pipeline_ctx.session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Run)).scalar_one() == len(ids) + 1


def test_a_publisher_on_runs_cannot_run_internal_actors_on_another_owners_jobs(
    worker, pipeline_ctx, emulator, caplog
):
    """Given bob's open jobs, when retries_exhausted and resolve for them are published on runs, then they are dead-lettered, his jobs untouched."""
    caplog.set_level(logging.ERROR)
    held: list[Any] = []
    bob = start_run("an", "bob", catalogue_lines(emulator, 300), ctx=pipeline_ctx, send=held.extend)
    resolves = stages.normalize_run(pipeline_ctx, bob)  # his jobs exist; their messages are held back
    with pipeline_ctx.session() as s:
        job_ids = list(
            s.execute(sa.select(Job.id).where(Job.run_id == bob).order_by(Job.id).limit(100)).scalars()
        )
    stage_kwargs = {"run_id": bob, "job_ids": job_ids}
    publish(
        envelope(
            {"message_data": {"actor_name": "resolve", "kwargs": stage_kwargs}, "retry_info": {"retries": 5}},
            actor="retries_exhausted",
        ),
        envelope(stage_kwargs, actor="resolve"),
        envelope(stage_kwargs, actor="fetch_metadata"),
        # The envelope's own queue_name is the publisher's word, not where the message came from.
        envelope(
            {"message_data": {"actor_name": "resolve", "kwargs": stage_kwargs}, "retry_info": {"retries": 5}},
            actor="retries_exhausted",
            queue="finalize",
        ),
    )
    wait_until(lambda: queue_depth("runs.XQ") == 4, timeout=20)

    with pipeline_ctx.session() as s:
        statuses = set(s.execute(sa.select(Job.status).where(Job.run_id == bob)).scalars())
    assert statuses <= set(OPEN_STATUSES), statuses
    refused = [r.getMessage() for r in caplog.records if "refused and dead-lettered" in r.getMessage()]
    assert len(refused) == 4
    assert any("actor retries_exhausted runs on queue finalize, not on runs" in m for m in refused)
    assert any("is not the queue it came from" in m for m in refused)

    send_all(resolves)
    status = wait_until(lambda: finished(pipeline_ctx, bob), timeout=90)
    assert_exact(pipeline_ctx, bob, status)
    assert "retries_exhausted" not in status["summary"]["errors_by_code"]
    assert len(events_by_run(pipeline_ctx, [bob])[bob]) == 1


def test_far_eta_and_retry_options_are_refused_and_do_not_delay_a_good_run(worker, pipeline_ctx, emulator):
    """Given eight start_runs with an eta a day ahead and one with a time_limit, when a good run follows, then it is not held up and each is answered."""
    lines = catalogue_lines(emulator, 10)
    tomorrow = int((time.time() + 86_400) * 1000)
    refused = [str(uuid.uuid4()) for _ in range(9)]  # eight fill the runs consumer's prefetch of 8
    publish(*(envelope(start_kwargs(run_id, lines), options={"eta": tomorrow}) for run_id in refused[:8]))
    publish(envelope(start_kwargs(refused[8], lines), options={"time_limit": 10**9}))
    good = str(uuid.uuid4())
    began = time.monotonic()
    publish(envelope(start_kwargs(good, lines)))
    status = wait_until(lambda: finished(pipeline_ctx, good), timeout=30)
    assert time.monotonic() - began < 30
    assert_exact(pipeline_ctx, good, status)

    for run_id in refused:
        run = wait_until(lambda r=run_id: finished(pipeline_ctx, r), timeout=10)
        assert run["total_jobs"] == 0 and "refused" in run["error"]
    assert "s ahead; at most 360 s is accepted" in finished(pipeline_ctx, refused[0])["error"]
    assert "time_limit" in finished(pipeline_ctx, refused[8])["error"]
    events = events_by_run(pipeline_ctx, [good, *refused])
    assert {r: len(e) for r, e in events.items()} == dict.fromkeys([good, *refused], 1)
    assert queue_depth("runs.DQ") == 0


BACKEND_EXCHANGE = "ytcollect.backend"


@contextmanager
def rabbitmq_user(permissions: tuple[str, str, str]) -> Iterator[str]:
    """A RabbitMQ user of the test vhost with (configure, write, read) ``permissions``; its AMQP URL."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.skip("rabbitmqctl is not installed here: the RabbitMQ user cannot be created")
    url = urllib.parse.urlsplit(AMQP_URL)
    vhost = urllib.parse.unquote(url.path[1:]) or "/"
    name, password = f"ytc_backend_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    subprocess.run([ctl, "-q", "add_user", name, password], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", vhost, name, *permissions],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield urllib.parse.urlunsplit(url._replace(netloc=f"{name}:{password}@{url.hostname}:{url.port}"))
    finally:
        subprocess.run([ctl, "-q", "delete_user", name], capture_output=True, timeout=60)


def test_the_documented_backend_user_reaches_runs_and_nothing_else(worker, pipeline_ctx, emulator):
    """Given the README's backend user (its own exchange), when it publishes, then runs works, internal queues are out of reach, and the default exchange would not be."""
    admin = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = admin.channel()
    channel.exchange_declare(BACKEND_EXCHANGE, "direct", durable=True)
    for queue in ("runs", "discover"):
        channel.queue_bind(queue, BACKEND_EXCHANGE, routing_key=queue)
    admin.close()
    run_id = str(uuid.uuid4())
    try:
        with rabbitmq_user(("^$", r"^ytcollect\.backend$", "^$")) as backend_url:
            connection = pika.BlockingConnection(pika.URLParameters(backend_url))
            backend = connection.channel()
            backend.queue_declare("runs", passive=True)  # a passive declare needs no permission
            backend.confirm_delivery()
            body = json.dumps(envelope(start_kwargs(run_id, catalogue_lines(emulator, 5)))).encode()
            backend.basic_publish(BACKEND_EXCHANGE, "runs", body, mandatory=True)
            with pytest.raises(pika.exceptions.UnroutableError):
                backend.basic_publish(BACKEND_EXCHANGE, "finalize", body, mandatory=True)
            with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
                backend.basic_publish("", "finalize", body, mandatory=True)
            connection.close()
        status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)
        assert_exact(pipeline_ctx, run_id, status)

        # Write permission on the default exchange cannot be narrowed by routing key: such a user
        # reaches every internal queue, which is why each queue also refuses other queues' actors.
        with rabbitmq_user(("^$", r"^amq\.default$", "^$")) as default_url:
            connection = pika.BlockingConnection(pika.URLParameters(default_url))
            anyone = connection.channel()
            anyone.confirm_delivery()
            harmless = envelope({"run_id": str(uuid.uuid4())}, actor="finalize", queue="finalize")
            anyone.basic_publish("", "finalize", json.dumps(harmless).encode(), mandatory=True)
            connection.close()
    finally:
        admin = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        admin.channel().exchange_delete(BACKEND_EXCHANGE)
        admin.close()


def test_integer_ids_published_with_plain_pika_come_back_as_integers(worker, pipeline_ctx, emulator):
    """Given the seed backend's "analysis_id": 77, "owner_id": 5, when the run finishes, then status and run_finished carry 77 and 5 as numbers."""
    run_id = str(uuid.uuid4())
    publish(envelope(start_kwargs(run_id, catalogue_lines(emulator, 30), analysis_id=77, owner_id=5)))
    status = wait_until(lambda: finished(pipeline_ctx, run_id), timeout=60)
    assert_exact(pipeline_ctx, run_id, status)
    assert (status["analysis_id"], status["owner_id"]) == (77, 5)

    (event,) = events_by_run(pipeline_ctx, [run_id])[run_id]
    assert event["analysis_id"] == 77 and event["owner_id"] == 5
    assert type(event["analysis_id"]) is int and type(event["owner_id"]) is int

    # Isolation compares the string form: owner 5 and owner "5" are one owner, owner 6 another.
    assert get_run_status(run_id, "5", ctx=pipeline_ctx)["owner_id"] == 5
    assert len(get_run_results(run_id, 5, ctx=pipeline_ctx)) == 30
    assert [r["analysis_id"] for r in list_runs(5, analysis_id=77, ctx=pipeline_ctx)["items"]] == [77]
    with pytest.raises(RunNotFound):
        get_run_status(run_id, 6, ctx=pipeline_ctx)

    python_run = start_run(123, 456, catalogue_lines(emulator, 3), ctx=pipeline_ctx, send=send_all)
    assert get_run_status(python_run, 456, ctx=pipeline_ctx)["analysis_id"] == 123


def test_a_publishers_broker_priority_is_taken_within_the_queues_range_and_refused_past_it(
    worker, pipeline_ctx, emulator
):
    """Given start_runs carrying broker_priority 2 (what our own messages carry) and 99, then the first runs to the end and the second is refused with the range in its error."""
    lines = catalogue_lines(emulator, 5)
    within, beyond = str(uuid.uuid4()), str(uuid.uuid4())
    publish(envelope(start_kwargs(within, lines), options={"broker_priority": 2}))
    publish(envelope(start_kwargs(beyond, lines), options={"broker_priority": 99}))

    assert_exact(pipeline_ctx, within, wait_until(lambda: finished(pipeline_ctx, within), timeout=30))
    refused = wait_until(lambda: finished(pipeline_ctx, beyond), timeout=30)
    assert refused["total_jobs"] == 0 and "broker_priority must be an integer from 0 to 3" in refused["error"]
