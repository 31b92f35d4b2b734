"""The one place the Dramatiq broker is built. Imported before any actor module: Dramatiq binds actors
to the global broker at import time.

With ``BROKER_URL`` set: RabbitMQ with publisher confirms (without them a publish can be dropped
silently), an AMQP heartbeat short enough that RabbitMQ notices a host it cannot reach and redelivers
what that host held, and priority queues (``actors/priority.py``). Without it: an in-process
StubBroker that the embedded mode drives with its own worker.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Retries, ShutdownNotifications, TimeLimit
from periodiq import PeriodiqMiddleware

from actors.envelope import EnvelopeEncoder
from actors.middleware import LogContext, QueueGuard, RequireWorkerSettings, worker_metrics
from actors.priority import Priorities
from pipeline.config import Settings, get_settings
from pipeline.errors import ConfigurationError


def middleware(settings: Settings) -> list[Middleware]:
    """Explicit, so nobody has to guess what runs around an actor."""
    return [
        # A `dramatiq` worker process refuses to boot half-configured or without keys (one line, exit 2).
        RequireWorkerSettings(settings),
        # Each queue runs only its own actors, with bounded envelope options (hostile publishers).
        QueueGuard(settings),
        # First, so every later hook's log lines (retries, failures) already carry run_id and job_ids.
        LogContext(level=settings.log_level, json=settings.log_json),
        AgeLimit(),  # drops scheduled messages older than their max_age (periodiq's skip delay)
        TimeLimit(time_limit=settings.actor_time_limit_ms),  # a hung API call cannot hold a worker forever
        ShutdownNotifications(),
        Callbacks(),
        # Minutes, not Dramatiq's default of days: RabbitMQ's consumer timeout punishes long held delays.
        Retries(
            max_retries=settings.actor_max_retries,
            min_backoff=settings.actor_min_backoff_ms,
            max_backoff=settings.actor_max_backoff_ms,
        ),
        PeriodiqMiddleware(skip_delay=30),
        Priorities(settings.broker_max_priority),
        QueuePrefetch(settings.worker_queue_prefetch),
        # Prometheus on METRICS_HOST:METRICS_PORT (127.0.0.1:9191), RabbitMQ only, and only once a
        # `dramatiq` worker process boots: the embedded CLI and the scheduler never open a port.
        *worker_metrics(settings),
    ]


class QueuePrefetch(Middleware):
    """``WORKER_QUEUE_PREFETCH``: how many messages a worker process holds unacknowledged per queue
    (Dramatiq's default is 2 x threads). They are what a host that drops off the network takes with it
    until RabbitMQ notices, and what waits in a worker ahead of a higher-priority message."""

    def __init__(self, prefetch: int) -> None:
        self.prefetch = prefetch

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.prefetch:
            worker.queue_prefetch = self.prefetch


def with_heartbeat(url: str, seconds: int) -> str:
    """``url`` (or each of a ``;``-separated list) asking for ``seconds`` of AMQP heartbeat, unless it
    names one itself. RabbitMQ's own default (60 s) would let a host that dropped off the network keep
    its unacknowledged messages for one to two minutes."""
    if not seconds:
        return url
    parts = []
    for one in url.split(";"):
        split = urlsplit(one)
        query = parse_qsl(split.query)
        if not any(name == "heartbeat" for name, _value in query):
            query.append(("heartbeat", str(seconds)))
        parts.append(urlunsplit(split._replace(query=urlencode(query))))
    return ";".join(parts)


def rabbitmq_broker(url: str, settings: Settings) -> RabbitmqBroker:
    """The RabbitMQ broker every worker and sender uses (tests build theirs here too, on their vhost)."""
    return RabbitmqBroker(
        url=with_heartbeat(url, settings.broker_heartbeat_seconds),
        confirm_delivery=True,
        max_priority=settings.broker_max_priority or None,
        middleware=middleware(settings),
    )


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.broker_url:
        return rabbitmq_broker(settings.broker_url, settings)
    return StubBroker(middleware=middleware(settings))


def _settings() -> Settings:
    """The process's settings, or one line on stderr and exit 2: a worker, the scheduler or the CLI
    must not start on a configuration that mixes embedded and real services."""
    try:
        settings = get_settings()
        settings.require_one_service_mode()
    except ConfigurationError as exc:
        print(f"ytcollect: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


# Before any consumer decodes: a body Dramatiq cannot build a message from still reaches QueueGuard.
dramatiq.set_encoder(EnvelopeEncoder())
broker = build_broker(_settings())
dramatiq.set_broker(broker)


def rebind(new_broker: dramatiq.Broker) -> dramatiq.Broker:
    """Move every declared actor onto ``new_broker`` and make it the global one.

    For processes that decide their broker after import (tests pointing at a test RabbitMQ).
    """
    old = dramatiq.get_broker()
    for name in old.get_declared_actors():
        actor = old.get_actor(name)
        actor.broker = new_broker
        new_broker.declare_actor(actor)
    dramatiq.set_broker(new_broker)
    return new_broker


def redeclare_queues(url: str, queues: list[str], max_priority: int) -> list[str]:
    """Make each of ``queues`` (and its delay queue) a queue as this version declares it, deleting the
    ones declared with other arguments (before priorities: no ``x-max-priority``) when they are empty
    and unconsumed; returns the names deleted. A queue that still holds messages or has consumers is
    refused with one line: drain it first (stop the senders, let the workers finish, stop them)."""
    import pika

    deleted = []
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in queues:
            arguments: dict[str, object] = {
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": f"{queue}.XQ",
            }
            if max_priority:
                arguments["x-max-priority"] = max_priority
            for name in (queue, f"{queue}.DQ"):
                try:
                    channel.queue_declare(name, durable=True, arguments=arguments)
                    continue
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if exc.reply_code != 406:  # PRECONDITION_FAILED: declared with other arguments
                        raise
                channel = connection.channel()
                held = channel.queue_declare(name, passive=True).method
                if held.message_count or held.consumer_count:
                    raise ConfigurationError(
                        f"queue {name} was declared with other arguments and holds {held.message_count} "
                        f"messages for {held.consumer_count} consumers: drain it, stop its workers, then retry"
                    )
                channel.queue_delete(name)
                channel.queue_declare(name, durable=True, arguments=arguments)
                deleted.append(name)
    finally:
        connection.close()
    return deleted
