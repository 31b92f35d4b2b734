"""Thin Dramatiq actors, one module per stage. The broker is built first: actors bind to it on import.

Workers: ``dramatiq actors --queues resolve`` (one process group per queue, see the Procfile);
the scheduler: ``periodiq actors`` (exactly one).
"""

from actors.broker import broker  # noqa: F401  (must come before the actor modules)
from actors.fetch_metadata import fetch_metadata
from actors.finalize import finalize, retries_exhausted
from actors.normalize import normalize
from actors.resolve import resolve
from actors.scheduled import purge, reconcile, refresh, reresolve
from actors.start_run import start_run

__all__ = [
    "fetch_metadata",
    "finalize",
    "normalize",
    "purge",
    "reconcile",
    "refresh",
    "reresolve",
    "resolve",
    "retries_exhausted",
    "start_run",
]
