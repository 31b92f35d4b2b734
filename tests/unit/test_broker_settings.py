"""The broker settings that make a lost host's messages come back quickly reach the RabbitMQ broker
and the worker (the scale-out test shows their effect on real hosts)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from actors.broker import QueuePrefetch, rabbitmq_broker, with_heartbeat
from tests.factories import make_settings


def test_the_heartbeat_is_asked_for_on_every_url_unless_one_names_its_own() -> None:
    """Given a URL list where one URL names a heartbeat, when the setting is applied, then the others ask for it and that one keeps its own."""
    url = "amqp://u:p@a:5672/v;amqp://u:p@b:5672/v?heartbeat=30&connection_attempts=3"
    assert with_heartbeat(url, 10) == (
        "amqp://u:p@a:5672/v?heartbeat=10;amqp://u:p@b:5672/v?heartbeat=30&connection_attempts=3"
    )
    assert with_heartbeat(url, 0) == url


def test_the_rabbitmq_broker_gets_the_heartbeat_and_the_priorities() -> None:
    """Given BROKER_HEARTBEAT_SECONDS and BROKER_MAX_PRIORITY, when the broker is built, then its connection parameters carry the heartbeat and its queues the priority."""
    settings = make_settings(broker_heartbeat_seconds=7, broker_max_priority=3)
    broker = rabbitmq_broker("amqp://guest:guest@127.0.0.1:5672/v", settings)
    assert broker.parameters.heartbeat == 7  # no connection is opened until the broker is used
    assert broker._build_queue_arguments("resolve")["x-max-priority"] == 3
    plain = rabbitmq_broker("amqp://guest:guest@127.0.0.1:5672/v", make_settings(broker_max_priority=0))
    assert "x-max-priority" not in plain._build_queue_arguments("resolve")


def test_the_queue_prefetch_setting_replaces_dramatiqs_default_at_worker_boot() -> None:
    """Given WORKER_QUEUE_PREFETCH=3 (and 0), when a worker boots, then it holds at most 3 messages a queue (and Dramatiq's 2 x threads)."""
    broker = StubBroker(middleware=[QueuePrefetch(3)])
    worker = dramatiq.Worker(broker, worker_threads=8)
    broker.emit_before("worker_boot", worker)
    assert worker.queue_prefetch == 3
    default = dramatiq.Worker(StubBroker(middleware=[QueuePrefetch(0)]), worker_threads=8)
    default.broker.emit_before("worker_boot", default)
    assert default.queue_prefetch == 16


def test_periodic_system_work_goes_at_system_priority_and_what_it_leads_to_inherits_it() -> None:
    """Given the actors on their broker, when periodiq sends refresh and reconcile and a worker processing a system message sends the next stage, then refresh and its next stage are SYSTEM while reconcile and a backend's messages are INTERACTIVE."""
    import actors
    from actors.broker import middleware, rebind
    from actors.priority import INTERACTIVE, SYSTEM, Priorities

    original = dramatiq.get_broker()  # a test session may have the actors on RabbitMQ by now
    broker = rebind(StubBroker(middleware=middleware(make_settings())))
    priorities = next(m for m in broker.middleware if isinstance(m, Priorities))
    try:
        assert actors.refresh.send().options["broker_priority"] == SYSTEM
        assert actors.reconcile.send().options["broker_priority"] == INTERACTIVE
        assert actors.start_run.send(run_id="r").options["broker_priority"] == INTERACTIVE
        system_message = actors.normalize.message_with_options(kwargs={"run_id": "r"}, broker_priority=SYSTEM)
        priorities.before_process_message(broker, system_message)
        assert actors.resolve.send(run_id="r", job_ids=[1]).options["broker_priority"] == SYSTEM
        priorities.after_process_message(broker, system_message)
        assert actors.resolve.send(run_id="r", job_ids=[2]).options["broker_priority"] == INTERACTIVE
    finally:
        broker.flush_all()
        rebind(original)


def test_system_work_started_by_hand_goes_at_system_priority() -> None:
    """Given `ytcollect maintenance refresh` (and its siblings) sending a system run's first message, when it is enqueued, then it carries SYSTEM priority, as from the periodic actor."""
    from types import SimpleNamespace

    import actors  # noqa: F401
    from actors.broker import middleware, rebind
    from actors.dispatch import send_all
    from actors.priority import SYSTEM
    from cli.maintenance import send_as_system
    from pipeline import messages

    original = dramatiq.get_broker()
    broker = rebind(StubBroker(middleware=middleware(make_settings())))
    try:
        send_as_system(SimpleNamespace(send=send_all), [messages.normalize("run-1")])  # type: ignore[arg-type]
        sent = dramatiq.Message.decode(broker.queues["normalize"].get_nowait())
        assert sent.options["broker_priority"] == SYSTEM
    finally:
        broker.flush_all()
        rebind(original)
