"""Message priorities, so an interactive run is not stuck behind a system refresh's backlog.

Every queue is a RabbitMQ priority queue (``x-max-priority`` = ``BROKER_MAX_PRIORITY``) and a message's
``broker_priority`` says which goes first: **higher first**, the opposite of Dramatiq's own actor
``priority`` option (which only orders a worker's local queue, lower first).

A message inherits the priority of the message whose processing sent it, so a run keeps the priority
it started with through every stage without the pipeline knowing about queues. Where nothing is being
processed (a backend, the CLI, periodiq) the actor's ``broker_priority`` option decides: the periodic
actors that start system work are ``SYSTEM``; everything else is ``INTERACTIVE``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

SYSTEM = 0  # also what RabbitMQ assumes for a message published without a priority
INTERACTIVE = 2  # leaves 1 and 3 free (seed 004's manual retries "at higher priority") without re-declaring

_current = threading.local()


def current_priority() -> int | None:
    """The priority this thread sends at: the message it is processing, or ``sending_as``."""
    return getattr(_current, "priority", None)


@contextmanager
def sending_as(priority: int) -> Iterator[None]:
    """Send at ``priority`` from outside a worker (a driver starting system work, a benchmark)."""
    previous = current_priority()
    _current.priority = priority
    try:
        yield
    finally:
        _current.priority = previous


def _actor_default(broker: dramatiq.Broker, actor_name: str) -> int:
    try:
        priority = broker.get_actor(actor_name).options.get("broker_priority")
    except dramatiq.errors.ActorNotFound:
        priority = None
    return INTERACTIVE if priority is None else int(priority)


class Priorities(Middleware):
    """Stamps every enqueued message with its priority (inherited, else the actor's, else interactive)."""

    def __init__(self, max_priority: int) -> None:
        self.enabled = max_priority > 0

    @property
    def actor_options(self) -> set[str]:
        return {"broker_priority"}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        priority = message.options.get("broker_priority")
        _current.priority = _actor_default(broker, message.actor_name) if priority is None else priority

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        _current.priority = None

    after_skip_message = after_process_message

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        if not self.enabled or message.options.get("broker_priority") is not None:
            return  # a retry or a delayed message moving back keeps the priority it was sent with
        priority = current_priority()
        message.options["broker_priority"] = (
            _actor_default(broker, message.actor_name) if priority is None else priority
        )
