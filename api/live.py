"""Live progress for SSE and WebSocket clients: one Redis reader per followed run, fanned out in memory.

A thousand browsers watching one run must not mean a thousand blocking reads on Redis, nor slow the
workers: each process keeps one ``RunFeed`` per run that has subscribers — a thread blocking on the
run's stream (``pipeline.progress``) — and hands each batch to every subscriber. Events are whole
snapshots, so a feed passes on at most ``MAX_BATCHES_PER_SECOND`` batches, each reduced to its newest
progress event (and the ``finished`` one), and a slow subscriber keeps only the newest it has not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from pipeline import progress
from pipeline.context import Context
from pipeline.progress import FINISHED, PROGRESS, ProgressEvent, ProgressStream
from pipeline.runs import get_run_status

log = logging.getLogger(__name__)

MAX_BATCHES_PER_SECOND = 5
BLOCK_MS = 1_000
IDLE_RECHECK_SECONDS = 30.0  # a subscriber that hears nothing this long asks the database once


def coalesce(events: list[ProgressEvent]) -> list[ProgressEvent]:
    """The newest progress snapshot and every other event (``finished``), in stream order."""
    newest_progress = next((e for e in reversed(events) if e.event == PROGRESS), None)
    return [e for e in events if e.event != PROGRESS or e is newest_progress]


class Subscriber:
    """One client's mailbox: the events not sent yet, reduced as they arrive (bounded by design)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[ProgressEvent] = []
        self.ready = asyncio.Event()

    def offer(self, events: list[ProgressEvent]) -> None:  # runs on the subscriber's loop
        self.pending = coalesce(self.pending + events)
        self.ready.set()

    async def take(self, timeout: float) -> list[ProgressEvent]:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return []
        self.ready.clear()
        events, self.pending = self.pending, []
        return events


class RunFeed:
    """One run's reader thread, alive while the run has subscribers in this process."""

    def __init__(self, feeds: RunFeeds, run_id: str, start_id: str) -> None:
        self.feeds = feeds
        self.run_id = run_id
        self.last_id = start_id
        self.subscribers: set[Subscriber] = set()
        self.thread = threading.Thread(target=self._run, name=f"feed-{run_id[:8]}", daemon=True)

    def _run(self) -> None:
        stream = ProgressStream(self.feeds.ctx.redis)
        pause = 1.0 / MAX_BATCHES_PER_SECOND
        while not self.feeds.stopping.is_set():
            with self.feeds.lock:
                if not self.subscribers:
                    self.feeds.feeds.pop(self.run_id, None)
                    return
                subscribers = list(self.subscribers)
            try:
                events = stream.wait(self.run_id, self.last_id, block_ms=BLOCK_MS, count=1_000)
            except Exception:  # Redis away: try again shortly; subscribers fall back on their recheck
                log.warning("progress feed of run %s cannot read Redis", self.run_id, exc_info=True)
                self.feeds.stopping.wait(1.0)
                continue
            if not events:
                continue
            self.last_id = events[-1].id
            batch = coalesce(events)
            for sub in subscribers:
                with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                    sub.loop.call_soon_threadsafe(sub.offer, batch)
            self.feeds.stopping.wait(pause)


class RunFeeds:
    """Every feed of this process, by run."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.feeds: dict[str, RunFeed] = {}
        self.stopping = threading.Event()

    def subscribe(self, run_id: str, start_id: str) -> Subscriber:
        sub = Subscriber(asyncio.get_running_loop())
        with self.lock:
            feed = self.feeds.get(run_id)
            if feed is None or (not feed.thread.is_alive() and feed.thread.ident is not None):
                feed = RunFeed(self, run_id, start_id)
                self.feeds[run_id] = feed
                feed.subscribers.add(sub)
                feed.thread.start()
            else:
                feed.subscribers.add(sub)
        return sub

    def unsubscribe(self, run_id: str, sub: Subscriber) -> None:
        with self.lock:
            feed = self.feeds.get(run_id)
            if feed is not None:
                feed.subscribers.discard(sub)

    def subscriber_count(self) -> int:
        with self.lock:
            return sum(len(f.subscribers) for f in self.feeds.values())

    def close(self) -> None:
        self.stopping.set()
        with self.lock:
            threads = [f.thread for f in self.feeds.values()]
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=BLOCK_MS / 1000 + 1)


def _newer(a: str, b: str) -> bool:
    return progress.id_tuple(a) > progress.id_tuple(b)


async def follow(
    feeds: RunFeeds, run_id: str, owner_id: str, status: dict[str, Any], last_event_id: str | None
) -> AsyncIterator[ProgressEvent | None]:
    """The events a client should see, ending with ``finished``; None now and then means "still alive".

    ``status`` is the run's status read (and owner-checked) by the caller just before. Without a
    usable ``last_event_id`` the client first gets a snapshot of the current state; with one, the
    events after it that the stream still holds.
    """
    stream = ProgressStream(feeds.ctx.redis)

    async def final(current: dict[str, Any]) -> ProgressEvent:
        newest = await run_in_threadpool(lambda: stream.newest(run_id, count=5))
        finished = [e for e in newest if e.event == FINISHED]
        return finished[0] if finished else progress.final_event(current)  # type: ignore[return-value]

    if status["run_status"] in progress.FINAL_STATUSES:
        yield await final(status)
        return
    latest = await run_in_threadpool(stream.latest_id, run_id) or "0-0"
    sub = feeds.subscribe(run_id, latest)
    try:
        if last_event_id and progress.valid_id(last_event_id):
            missed = await run_in_threadpool(stream.after, run_id, last_event_id, count=EVENTS_SCAN)
            last_seen = last_event_id
            for event in coalesce(missed):
                yield event
                last_seen = event.id
                if event.event == FINISHED:
                    return
        else:
            current = await run_in_threadpool(get_run_status, run_id, owner_id, ctx=feeds.ctx)
            if current["run_status"] in progress.FINAL_STATUSES:
                yield await final(current)
                return
            yield ProgressEvent(latest, PROGRESS, current)
            last_seen = latest
        quiet_since = time.monotonic()
        while True:
            events = await sub.take(timeout=15.0)
            if not events:
                yield None  # a keep-alive; and now and then make sure the run has not ended unheard
                if time.monotonic() - quiet_since > IDLE_RECHECK_SECONDS:
                    quiet_since = time.monotonic()
                    current = await run_in_threadpool(get_run_status, run_id, owner_id, ctx=feeds.ctx)
                    if current["run_status"] in progress.FINAL_STATUSES:
                        yield await final(current)
                        return
                continue
            quiet_since = time.monotonic()
            for event in events:
                if not _newer(event.id, last_seen):
                    continue
                yield event
                last_seen = event.id
                if event.event == FINISHED:
                    return
    finally:
        feeds.unsubscribe(run_id, sub)


EVENTS_SCAN = progress.EVENTS_MAXLEN * 2
