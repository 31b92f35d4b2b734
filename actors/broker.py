"""The one place the Dramatiq broker is built. Imported before any actor module: Dramatiq binds actors
to the global broker at import time.

With ``BROKER_URL`` set: RabbitMQ with publisher confirms (without them a publish can be dropped
silently). Without it: an in-process StubBroker that the embedded mode drives with its own worker.
"""

from __future__ import annotations

import sys

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Retries, ShutdownNotifications, TimeLimit
from periodiq import PeriodiqMiddleware

from actors.middleware import LogContext, QueueGuard, RequireWorkerSettings, worker_metrics
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
        # Prometheus on METRICS_HOST:METRICS_PORT (127.0.0.1:9191), RabbitMQ only, and only once a
        # `dramatiq` worker process boots: the embedded CLI and the scheduler never open a port.
        *worker_metrics(settings),
    ]


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.broker_url:
        return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True, middleware=middleware(settings))
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
