"""An in-process Dramatiq worker over the StubBroker: how ``ytcollect run`` works with no BROKER_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq

import actors  # noqa: F401  (declares the actors on the broker)
from actors.runtime import set_context
from pipeline.context import Context


@contextmanager
def in_process_worker(ctx: Context, *, threads: int = 4) -> Iterator[dramatiq.Worker]:
    """Run every queue's actors in this process until the block ends."""
    set_context(ctx)
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        set_context(None)
