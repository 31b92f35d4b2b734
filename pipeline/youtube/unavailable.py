"""Which keys may not call a method today (``videos:batchGetStats`` answering 403/404 for a project).

Remembered per Pacific day in Redis, beside the quota ledger, so every worker falls back at once
instead of paying for the same refusal again; the day turning gives the key another chance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from redis import Redis

from pipeline.youtube.quota import next_pacific_midnight, pacific_day, utcnow


class UnavailableMethods:
    def __init__(
        self, redis: Redis, *, clock: Callable[[], datetime] = utcnow, namespace: str = "ytc"
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = f"{namespace}:quota:{{ledger}}:unavailable"

    def _key(self, now: datetime) -> str:
        return f"{self._prefix}:{pacific_day(now).isoformat()}"

    def remember(self, fingerprint: str, method: str) -> None:
        """This key's project may not call ``method`` for the rest of its Pacific day."""
        now = self._clock()
        key = self._key(now)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, f"{fingerprint}:{method}", now.isoformat())
        ttl = next_pacific_midnight(now) - now + timedelta(days=1)
        pipe.expire(key, int(ttl.total_seconds()) + 1)
        pipe.execute()

    def unavailable(self, fingerprints: Iterable[str], method: str) -> set[str]:
        """The fingerprints among ``fingerprints`` remembered as refused ``method`` today."""
        fps = list(fingerprints)
        if not fps:
            return set()
        found = self._redis.hmget(self._key(self._clock()), [f"{fp}:{method}" for fp in fps])
        return {fp for fp, hit in zip(fps, found, strict=True) if hit is not None}
