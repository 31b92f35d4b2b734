"""Dramatiq middleware of ours: per-message log context, and Prometheus metrics in worker processes.

They live with the actors because they are Dramatiq types; the logic they call is in ``pipeline``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.common import q_name
from dramatiq.errors import ActorNotFound

from actors import envelope
from actors.metrics import dramatiq_environment, forget_dead_processes, serve_metrics
from pipeline.config import Settings
from pipeline.errors import ConfigurationError
from pipeline.logs import clear_message_context, configure_logging, set_message_context
from pipeline.stages import usable_run_id
from pipeline.stages.requests import START_RUN_FIELDS

log = logging.getLogger(__name__)

# The envelope options Dramatiq and periodiq put on our own messages. Anything else (max_retries,
# time_limit, on_retry_exhausted, on_success, on_failure, pipe_target, max_age...) would let a publisher
# change how a message runs or name another actor to run after it, so it is refused.
OWN_MESSAGE_OPTIONS = frozenset(
    {"eta", "retries", "traceback", "requeue_timestamp", "scheduled_at", "broker_priority"}
)
ETA_CLOCK_SKEW_MS = 60_000  # another host's clock may run ahead of ours


class QueueGuard(dramatiq.Middleware):
    """Refuse, before anything runs, a message its queue should never carry.

    RabbitMQ's default exchange lets anyone who may publish to it reach any queue by name, and a
    Dramatiq envelope names the actor to run: a publisher on ``runs`` could run ``retries_exhausted``
    and fail another owner's jobs. So each consumer accepts only its own queue's actors, with a
    well-formed envelope and only the options our own messages carry, an ``eta`` at most a few minutes
    ahead (a far one sat in the consumer's prefetch and stalled the queue). A refused ``start_run``
    that names a usable run_id is answered with a run finished with the reason; any other refused
    message is dead-lettered (``QUEUE.XQ``) with one log line saying why.

    It wraps each consumer thread's ``handle_message``, the only place that knows the queue a message
    really came from (the envelope's ``queue_name`` is the publisher's word).
    """

    def __init__(self, settings: Settings) -> None:
        self.max_eta_ms = (
            max(settings.max_eta_seconds * 1000, settings.actor_max_backoff_ms) + ETA_CLOCK_SKEW_MS
        )
        self.max_retries = settings.actor_max_retries
        self.max_priority = settings.broker_max_priority

    def after_consumer_thread_boot(self, broker: dramatiq.Broker, thread: Any) -> None:
        handle = thread.handle_message

        def guarded(message: MessageProxy) -> None:
            unusable = envelope.take(message.message_id)
            if unusable is not None:  # a body Dramatiq could not decode (actors/envelope.py)
                self.refuse(thread, message, unusable.reason, unusable.fields or {})
                return
            reason = self.refusal(broker, thread.queue_name, message)
            if reason is None:
                handle(message)
            else:
                self.refuse(thread, message, reason, message.asdict())

        setattr(thread, "handle_message", guarded)  # noqa: B010  (an instance's bound method, replaced)

    def refusal(self, broker: dramatiq.Broker, queue: str, message: MessageProxy) -> str | None:
        """Why ``message`` consumed from ``queue`` must not run, or None when it may."""
        if message.queue_name != queue:
            return f"its queue_name {message.queue_name!r} is not the queue it came from"
        try:
            actor = broker.get_actor(message.actor_name)
        except ActorNotFound:
            return f"no actor is named {str(message.actor_name)[:100]!r}"
        if actor.queue_name != q_name(queue):
            return f"actor {actor.actor_name} runs on queue {actor.queue_name}, not on {q_name(queue)}"
        if not isinstance(message.kwargs, dict):
            return "kwargs must be an object (the actor's arguments by name)"
        options = message.options
        if not isinstance(options, dict):
            return "options must be an object"
        foreign = sorted(str(name) for name in set(options) - OWN_MESSAGE_OPTIONS)
        if foreign:
            return f"envelope option(s) {foreign[:10]} are not accepted from a publisher"
        eta = options.get("eta")
        if eta is not None:
            if not _finite_number(eta):
                return "options.eta must be a time in milliseconds since the epoch"
            ahead_s = (eta - time.time() * 1000) / 1000
            if ahead_s * 1000 > self.max_eta_ms:
                return (
                    f"options.eta is {ahead_s:.0f} s ahead; at most {self.max_eta_ms // 1000} s is accepted"
                )
        priority = options.get("broker_priority")
        if priority is not None and (
            not isinstance(priority, int)
            or isinstance(priority, bool)
            or not 0 <= priority <= self.max_priority
        ):
            # Our messages carry the priority they inherit (actors/priority.py); a publisher's may not
            # exceed the queues' x-max-priority.
            return f"options.broker_priority must be an integer from 0 to {self.max_priority}"
        retries = options.get("retries", 0)
        limit = actor.options.get("max_retries", self.max_retries)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= limit:
            return f"options.retries must be an integer from 0 to {limit}"
        if (
            actor.actor_name == "start_run"
            and usable_run_id(sent_fields(queue, message.asdict()).get("run_id")) is None
        ):
            return "kwargs.run_id is missing or unusable (a string of 1 to 64 characters, a UUID)"
        return None

    def refuse(self, thread: Any, message: MessageProxy, reason: str, fields: dict[str, Any]) -> None:
        """Answer a start_run that names its run (``fields``: the envelope as sent), else dead-letter;
        either way one log line."""
        named = sent_fields(thread.queue_name, fields)
        run_id = usable_run_id(named.get("run_id"))
        if run_id is not None:
            try:
                from actors.start_run import answer_refused_start_run

                answer_refused_start_run(run_id, named, f"the message was refused: {reason}")
                thread.post_process_message(message)  # answered: acked
                return
            except Exception as exc:  # the database is down: keep the message, say so
                log.error("could not record the refusal of message %s: %s", message.message_id, exc)
        log.error(
            "message %s (actor %r) on queue %s refused and dead-lettered: %s",
            str(fields.get("message_id", message.message_id))[:100],  # the sender's id, when it sent one
            str(message.actor_name)[:100],
            thread.queue_name,
            reason,
        )
        message.fail()
        thread.post_process_message(message)


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sent_fields(queue: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """The start_run fields (run_id, owner_id, ...) an envelope consumed from ``runs`` carries, wherever
    it put them; empty when it is no start_run of that queue."""
    # On runs an envelope that names no actor can only have meant start_run, the queue's one actor.
    if fields.get("actor_name", "start_run") != "start_run" or q_name(queue) != "runs":
        return {}
    if fields.get("queue_name", queue) != queue:
        return {}
    return call_fields(fields.get("args"), fields.get("kwargs"), beside=fields)


def call_fields(args: Any, kwargs: Any, *, beside: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where a backend may have put a start_run's fields: ``kwargs`` when it names the run; else the
    positional arguments in the signature's order (as ``start_run.send(run_id, ...)`` sends them); else
    ``beside`` (the fields written next to the envelope's own)."""
    if isinstance(kwargs, dict) and "run_id" in kwargs:
        return kwargs
    if isinstance(args, list | tuple) and args:
        return dict(zip(START_RUN_FIELDS, args, strict=False))
    return beside


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
