"""The next-stage messages a pipeline function asks for; the actor layer sends them after the commit.

Keeping them as plain data is what lets ``pipeline`` stay free of Dramatiq and be tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Public contract: actor names and their queues (a backend in another language publishes to "runs"
# and "discover"; every other queue is internal).
QUEUES = {
    "start_run": "runs",
    "normalize": "normalize",
    "resolve": "resolve",
    "fetch_metadata": "metadata",
    "check_uploads": "uploads",
    "fetch_video_stats": "video_stats",
    "finalize": "finalize",
    "discover": "discover",
    "discover_cycle": "discovery",
}


@dataclass(frozen=True, slots=True)
class Send:
    actor: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def normalize(run_id: str) -> Send:
    return Send("normalize", {"run_id": run_id})


def fan_out(run_id: str, kind: str, job_ids: list[int]) -> Send:
    """A part of a big run's fan-out, on normalize's queue: it sends these jobs' resolve messages."""
    return Send("normalize", {"run_id": run_id, "kind": kind, "job_ids": job_ids})


def resolve(run_id: str, job_ids: list[int]) -> Send:
    return Send("resolve", {"run_id": run_id, "job_ids": job_ids})


def fetch_metadata(run_id: str, job_ids: list[int]) -> Send:
    return Send("fetch_metadata", {"run_id": run_id, "job_ids": job_ids})


def check_uploads(run_id: str, channel_ids: list[str]) -> Send:
    return Send("check_uploads", {"run_id": run_id, "channel_ids": channel_ids})


def fetch_video_stats(run_id: str, batch_nos: list[int]) -> Send:
    return Send("fetch_video_stats", {"run_id": run_id, "batch_nos": batch_nos})


def finalize(run_id: str) -> Send:
    return Send("finalize", {"run_id": run_id})


def discover_cycle(cycle_id: str) -> Send:
    return Send("discover_cycle", {"cycle_id": cycle_id})
