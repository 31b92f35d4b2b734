"""Thin Dramatiq actors, one module per stage. The broker is built first: actors bind to it on import.

Workers: ``dramatiq actors --queues resolve`` (one process group per queue, see the Procfile);
the scheduler: ``periodiq actors`` (exactly one).
"""

from actors.broker import broker  # noqa: F401  (must come before the actor modules)
from actors.discover import discover, discover_cycle
from actors.fetch_metadata import fetch_metadata
from actors.finalize import finalize, retries_exhausted
from actors.normalize import normalize
from actors.resolve import resolve
from actors.scheduled import discover_due, purge, reconcile, refresh, repoll_videos, reresolve
from actors.start_run import start_run
from actors.videos import check_uploads, fetch_video_stats

__all__ = [
    "check_uploads",
    "discover",
    "discover_cycle",
    "discover_due",
    "fetch_metadata",
    "fetch_video_stats",
    "finalize",
    "normalize",
    "purge",
    "reconcile",
    "refresh",
    "repoll_videos",
    "reresolve",
    "resolve",
    "retries_exhausted",
    "start_run",
]
