"""Dramatiq middleware of ours: per-message log context, and Prometheus metrics in worker processes.

They live with the actors because they are Dramatiq types; the logic they call is in ``pipeline``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

from actors.metrics import dramatiq_environment, forget_dead_processes, serve_metrics
from pipeline.config import Settings
from pipeline.errors import ConfigurationError
from pipeline.logs import clear_message_context, configure_logging, set_message_context


class RequireWorkerSettings(dramatiq.Middleware):
    """Stop a ``dramatiq`` worker process at boot unless every service and a key are configured.

    Only the ``dramatiq`` CLI emits ``after_process_boot``, so the embedded CLI and the scheduler,
    which share this broker, are not held to it (they send, and never call the API).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        try:
            self.settings.require_worker_ready()
        except ConfigurationError as exc:
            print(f"ytcollect worker: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None


class LogContext(dramatiq.Middleware):
    """Carry each message's ``run_id`` and ``job_ids`` (and its id and actor) into every log record.

    Worker threads run one message at a time, so the ids are set before a message and cleared after
    it. With ``level`` given it also configures logging once the worker process has booted.
    """

    def __init__(self, *, level: str | None = None, json: bool = False) -> None:
        self.level = level
        self.json = json

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if self.level is not None:
            configure_logging(self.level, json=self.json)

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        kwargs = message.kwargs or {}
        set_message_context(
            run_id=kwargs.get("run_id"),
            job_ids=kwargs.get("job_ids"),
            message_id=message.message_id,
            actor=message.actor_name,
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        clear_message_context()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)


class WorkerMetrics(dramatiq.Middleware):
    """Dramatiq's Prometheus middleware, started only in ``dramatiq`` worker processes, bound to Settings.

    Every hook is a no-op until ``after_process_boot`` (which only the ``dramatiq`` CLI emits), so
    the same broker in a CLI, the scheduler or a test's in-process worker neither counts nor serves.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._inner: Any = None

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve_metrics] if self._inner is not None else []

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        environment = dramatiq_environment(self.settings)
        os.environ.update(environment)
        os.makedirs(environment["dramatiq_prom_db"], exist_ok=True)
        # Before the first import of prometheus_client in this process, which fixes its value class.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = environment["dramatiq_prom_db"]
        from dramatiq.middleware import prometheus

        # It read its variables when first imported; should anything have imported it earlier,
        # make it agree with Settings all the same.
        prometheus.HTTP_HOST = self.settings.metrics_host
        prometheus.HTTP_PORT = self.settings.metrics_port
        prometheus.DB_PATH = environment["dramatiq_prom_db"]
        forget_dead_processes(prometheus.DB_PATH)
        inner = prometheus.Prometheus()
        inner.after_process_boot(broker)
        self._inner = inner

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._inner is not None:
            self._inner.after_worker_shutdown(broker, worker)

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if self._inner is not None:
            self._inner.after_nack(broker, message)

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        if self._inner is not None:
            self._inner.after_enqueue(broker, message, delay)

    def before_delay_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if self._inner is not None:
            self._inner.before_delay_message(broker, message)

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if self._inner is not None:
            self._inner.before_process_message(broker, message)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if self._inner is not None:
            self._inner.after_process_message(broker, message, result=result, exception=exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if self._inner is not None:
            self._inner.after_skip_message(broker, message)


def worker_metrics(settings: Settings) -> list[dramatiq.Middleware]:
    """The metrics middleware for a RabbitMQ worker; none for the embedded broker or ``METRICS_PORT=0``."""
    if not settings.broker_url or settings.metrics_port == 0:
        return []
    return [WorkerMetrics(settings)]
