"""The ``run_finished`` and ``discovery_finished`` events: plain JSON on durable RabbitMQ queues any
backend can consume (one queue per event).

They are not Dramatiq messages on purpose: a consumer in any language reads the body as JSON with no
Dramatiq envelope and no dead-letter arguments to match. Publishing uses confirms with ``mandatory``
so a missing queue or a broker hiccup is an error, never a silent drop.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Protocol

import pika

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    def publish(self, event: dict[str, Any]) -> None: ...


class AmqpEventPublisher:
    """Publishes each event on its own short connection: events are rare and this survives broker restarts."""

    def __init__(self, url: str, queue: str) -> None:
        self.url = url
        self.queue = queue

    def publish(self, event: dict[str, Any]) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = connection.channel()
            channel.queue_declare(queue=self.queue, durable=True)
            channel.confirm_delivery()
            channel.basic_publish(
                exchange="",
                routing_key=self.queue,
                body=json.dumps(event, default=str).encode(),
                properties=pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    message_id=event.get("event_id"),
                    type=event.get("event"),
                ),
                mandatory=True,
            )
        finally:
            connection.close()


class MemoryEventPublisher:
    """The embedded mode's stand-in: keeps events in memory for the CLI to show."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)
        subject = event.get("run_id") or event.get("cycle_id")
        log.info("%s %s status=%s", event.get("event"), subject, event.get("status"))
