"""An in-process Dramatiq worker over the StubBroker: how ``ytcollect run`` works with no BROKER_URL."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dramatiq

import actors  # noqa: F401  (declares the actors on the broker)
from actors.runtime import set_context
from pipeline import store
from pipeline.context import Context
from pipeline.maintenance import resume_runs
from pipeline.messages import Send


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


class RunClaims:
    """Which embedded runs this process works on: an exclusive ``flock`` per run, held until it exits.

    The embedded broker lives in one process, so a run whose process ended has nothing in flight. A
    claim tells a run some live process works on (locked) from a stranded one (free to take): the next
    command adopts the stranded ones. The kernel drops the locks of a process however it ends.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.held: dict[str, int] = {}

    def claim(self, run_id: str) -> bool:
        """True when this process now works on ``run_id`` (or already did); False when another one does."""
        if run_id in self.held:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(run_id.encode()).hexdigest()[:32]  # any run id makes a safe file name
        fd = os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.held[run_id] = fd
        return True

    def release_all(self) -> None:
        for fd in self.held.values():
            os.close(fd)
        self.held.clear()


def adopt_stranded_runs(ctx: Context, claims: RunClaims) -> tuple[list[str], list[Send]]:
    """Claim every open run no live process works on, and the messages that carry each to its end."""
    with ctx.session() as session:
        runs = store.open_runs(session)
    adopted = [run for run in runs if run.id not in claims.held and claims.claim(run.id)]
    if not adopted:
        return [], []
    return [run.id for run in adopted], resume_runs(ctx, adopted).sends
