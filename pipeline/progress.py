"""Live progress events of a run: a bounded Redis stream per run that the HTTP API relays.

After a stage's commit and its mark in Redis, a ``progress`` event with the run's live counts is
appended to ``ytc:{<run_id>}:events`` (the run's hash tag, so it lives in the run's cluster slot);
when the run ends, one ``finished`` event carries the final status with its summary. Each event is
a whole snapshot, never a delta, so a reader that skips some (a slow client, a trimmed stream)
still shows the truth. The stream keeps the newest ``MAXLEN`` entries and expires an hour after the
run ends; after that the database answers (``final_event``).

Publishing never fails a stage: progress is a courtesy, the counters and the database are the truth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis import Redis

from models import JobStatus, RunStatus
from pipeline.completion import RUN_KEY_TTL_SECONDS, LiveState, run_key
from pipeline.youtube.quota import quota_units

if TYPE_CHECKING:
    from pipeline.context import Context

log = logging.getLogger(__name__)

EVENTS_MAXLEN = 1_000  # approximate trimming: Redis keeps at least this many, a little more at times
FINISHED_STREAM_TTL_SECONDS = 3_600
LIVE_OPEN_KEY = "IN_PROGRESS"  # PENDING, RESOLVING and FETCHING jobs, as Redis counts them together
PROGRESS = "progress"
FINISHED = "finished"
FINAL_STATUSES = (RunStatus.FINISHED, RunStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One entry of a run's stream: its stream id (``<ms>-<seq>``, what SSE resumes from), type and data."""

    id: str
    event: str
    data: dict[str, Any]


def events_key(run_id: str) -> str:
    return run_key(run_id, "events")


def id_tuple(stream_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair; ValueError when it is not ``<int>-<int>`` (or ``<int>``)."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def valid_id(stream_id: str | None) -> bool:
    if not stream_id or len(stream_id) > 41:
        return False
    try:
        ms, seq = id_tuple(stream_id)
    except ValueError:
        return False
    return ms >= 0 and seq >= 0


def live_counts(live: LiveState) -> tuple[dict[str, int], int]:
    """(status counts as ``get_run_status`` shows them, total jobs) from the run's Redis state."""
    counts = {k: v for k, v in live.counts.items() if v}
    if live.waiting:
        counts[JobStatus.WAITING_QUOTA] = live.waiting
    if live.remaining - live.waiting > 0:
        counts[LIVE_OPEN_KEY] = live.remaining - live.waiting
    # counts holds terminal jobs only; every other job is still in remaining.
    total = sum(live.counts.values()) + max(live.remaining, 0)
    return counts, total


def progress_payload(run_id: str, live: LiveState, *, settled: int) -> dict[str, Any]:
    counts, total = live_counts(live)
    done = total - max(live.remaining, 0)
    return {
        "run_id": run_id,
        "run_status": RunStatus.RUNNING,
        "progress": round(done / total, 4) if total else 0.0,
        "status_counts": counts,
        "total_jobs": total,
        "remaining": max(live.remaining, 0),
        "settled": settled,
        "quota_units": quota_units(dict(live.units)),
    }


class ProgressStream:
    """Writes and reads one run's event stream. Works on real Redis and on fakeredis alike."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # --- writing (stages) ------------------------------------------------------------------------

    def publish(
        self, run_id: str, event: str, data: Mapping[str, Any], *, ttl: int = RUN_KEY_TTL_SECONDS
    ) -> str:
        key = events_key(run_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(
            key,
            {"event": event, "data": json.dumps(data, default=str, separators=(",", ":"))},
            maxlen=EVENTS_MAXLEN,
            approximate=True,
        )
        pipe.expire(key, ttl)
        stream_id, _ = pipe.execute()
        return str(stream_id)

    def publish_progress(self, run_id: str, live: LiveState | None, *, settled: int) -> str | None:
        """A ``progress`` snapshot after jobs were settled (None when Redis has no state for the run)."""
        if live is None:
            return None
        return self.publish(run_id, PROGRESS, progress_payload(run_id, live, settled=settled))

    def publish_final(self, run_id: str, status: Mapping[str, Any]) -> str:
        """The ``finished`` event (the run's final status and summary); the stream then expires soon."""
        return self.publish(run_id, FINISHED, status, ttl=FINISHED_STREAM_TTL_SECONDS)

    # --- reading (the HTTP API) ------------------------------------------------------------------

    def latest_id(self, run_id: str) -> str | None:
        newest: Any = self.redis.xrevrange(events_key(run_id), count=1)
        return str(newest[0][0]) if newest else None

    def newest(self, run_id: str, *, count: int = 5) -> list[ProgressEvent]:
        """The newest ``count`` events, newest first."""
        entries: Any = self.redis.xrevrange(events_key(run_id), count=count)
        return [_event(i, f) for i, f in entries]

    def oldest_id(self, run_id: str) -> str | None:
        oldest: Any = self.redis.xrange(events_key(run_id), count=1)
        return str(oldest[0][0]) if oldest else None

    def after(self, run_id: str, stream_id: str, *, count: int = 200) -> list[ProgressEvent]:
        """Events strictly after ``stream_id``, oldest first, without waiting."""
        entries: Any = self.redis.xrange(events_key(run_id), min=f"({stream_id}", count=count)
        return [_event(entry_id, fields) for entry_id, fields in entries]

    def wait(self, run_id: str, stream_id: str, *, block_ms: int, count: int = 200) -> list[ProgressEvent]:
        """Events after ``stream_id``, waiting up to ``block_ms`` for the first one."""
        answer: Any = self.redis.xread({events_key(run_id): stream_id}, count=count, block=block_ms)
        if not answer:
            return []
        _key, entries = answer[0]
        return [_event(entry_id, fields) for entry_id, fields in entries]


def _event(entry_id: Any, fields: Mapping[Any, Any]) -> ProgressEvent:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    values = {text(k): text(v) for k, v in fields.items()}
    try:
        data = json.loads(values.get("data") or "{}")
    except ValueError:
        data = {}
    return ProgressEvent(text(entry_id), values.get("event", PROGRESS), data)


def publish_settled(redis: Redis, run_id: str, live: LiveState | None, *, settled: int) -> None:
    """After a mark that settled ``settled`` new jobs: append a progress snapshot (never raises)."""
    if settled <= 0:
        return
    try:
        ProgressStream(redis).publish_progress(run_id, live, settled=settled)
    except Exception:  # progress is a courtesy: a Redis hiccup here must not fail the stage
        log.warning("could not publish progress for run %s", run_id, exc_info=True)


def publish_finished(ctx: Context, run_id: str) -> None:
    """After the run's final transition: the ``finished`` event with the final status (never raises)."""
    from pipeline.runs import get_run_status  # runs imports the stages, which call this

    try:
        ProgressStream(ctx.redis).publish_final(run_id, get_run_status(run_id, ctx=ctx))
    except Exception:
        log.warning("could not publish the finished event of run %s", run_id, exc_info=True)


def final_event(status: Mapping[str, Any]) -> ProgressEvent | None:
    """For a run that has ended: its ``finished`` event built from the database's answer."""
    if status.get("run_status") not in FINAL_STATUSES:
        return None
    return ProgressEvent("0-1", FINISHED, dict(status))
