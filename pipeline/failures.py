"""Failures of periodic work, counted: one run's (or watchlist's, or cycle's) exception is logged and
counted, and the job goes on with the others.

The counts are a Redis hash, so every worker and the metrics endpoint (``ytcollect_periodic_failures``)
see one figure per job.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.context import Context

log = logging.getLogger(__name__)

FAILURES_KEY = "ytc:periodic_failures"


def count_failure(ctx: Context, job: str, item: str) -> None:
    """Log one item's exception (the caller is in its ``except``) and count it; never raises itself."""
    log.exception("%s: %s failed; the others go on", job, item)
    try:
        ctx.redis.hincrby(FAILURES_KEY, job, 1)
    except Exception as exc:  # Redis down: the log line above is all we can do
        log.warning("%s: could not count the failure: %s", job, exc)


def failure_counts(redis: Any) -> dict[str, int]:
    """The periodic jobs' failure counts since Redis last lost them."""
    return {str(job): int(n) for job, n in (redis.hgetall(FAILURES_KEY) or {}).items()}
