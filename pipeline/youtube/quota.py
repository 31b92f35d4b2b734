"""The quota ledger: units per API key per Pacific day, shared in Redis by every worker.

The YouTube Data API counts units per Google Cloud project per day, and the day turns at midnight
America/Los_Angeles (DST included). Every call reserves its units here *before* it is sent, in one
Lua script that picks the key with the most units left and charges it, so concurrent workers never
overspend. ``quotaExceeded`` marks a key spent for the rest of its Pacific day; bad-key answers
disable it until an operator enables it again. Keys are named by fingerprint only: the key itself
never reaches Redis, a log line or a repr.

Redis layout (``{ledger}`` is a cluster hash tag, so the script's keys share one slot)::

    {ns}:quota:{ledger}:used:{day}    hash  fingerprint -> units reserved that Pacific day
    {ns}:quota:{ledger}:spent:{day}   hash  fingerprint -> when quotaExceeded was answered
    {ns}:quota:{ledger}:disabled      hash  fingerprint -> JSON {"reason", "at"}; no TTL on purpose

Day hashes expire a day after their day ends, so the ledger cleans up after itself. Because the day
is part of the key, a key spent yesterday is usable today whatever Redis's clock says.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.youtube.errors import NoApiKeys, QuotaExhausted
from pipeline.youtube.redact import register_secret

log = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
PRIORITIES = ("interactive", "system")
# Day hashes outlive their day by this much: room for clock skew between workers and for a look at
# yesterday's numbers just after midnight.
_DAY_KEY_GRACE = timedelta(days=1)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def key_fingerprint(key: str) -> str:
    """Name a key without revealing it: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _aware(now: datetime) -> datetime:
    # A naive datetime is taken as UTC: the project keeps no other clock.
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def pacific_day(now: datetime) -> date:
    """The quota day ``now`` falls in: its date in America/Los_Angeles."""
    return _aware(now).astimezone(PACIFIC).date()


def next_pacific_midnight(now: datetime) -> datetime:
    """When the quota day containing ``now`` ends, as timezone-aware UTC."""
    # Midnight is never skipped nor repeated in Los Angeles (DST moves at 02:00), so this is exact.
    tomorrow = pacific_day(now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=PACIFIC).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Lease:
    """Units reserved on one key for one call; ``key`` is what the call sends and never shows."""

    key: str = field(repr=False)
    fingerprint: str
    units: int
    day: date


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One key's standing today, as ``ytcollect quota`` shows it."""

    fingerprint: str
    day: date
    used: int
    left: int
    state: str  # "ok" | "spent" | "disabled"
    reason: str | None
    resets_at: datetime


# One round trip, atomically: skip disabled and spent keys, pick the one with the most units left
# under the caller's limit, charge it. Returns {"ok", fp, used} or {"exhausted"|"nokeys", "", 0}.
_RESERVE_LUA = """
local units = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local best = nil
local best_left = -1
local usable = 0
for i = 4, #ARGV do
  local fp = ARGV[i]
  if redis.call('HEXISTS', KEYS[3], fp) == 0 then
    usable = usable + 1
    if redis.call('HEXISTS', KEYS[2], fp) == 0 then
      local used = tonumber(redis.call('HGET', KEYS[1], fp) or '0')
      local left = limit - used
      if left >= units and left > best_left then
        best = fp
        best_left = left
      end
    end
  end
end
if best == nil then
  if usable == 0 then
    return {'nokeys', '', 0}
  end
  return {'exhausted', '', 0}
end
local used = redis.call('HINCRBY', KEYS[1], best, units)
redis.call('EXPIRE', KEYS[1], ttl)
return {'ok', best, used}
"""


class QuotaLedger:
    """Reserve, before every call, the units it will cost on the key with the most units left."""

    def __init__(
        self,
        redis,
        keys: Sequence[str],
        *,
        daily_units_per_key: int = 10_000,
        daily_budget: int | None = None,
        interactive_reserve: int = 1_000,
        clock: Callable[[], datetime] = utcnow,
        namespace: str = "ytc",
    ) -> None:
        self._redis = redis
        # Keep the configured order (ties go to the first key), drop repeats and blanks.
        self._keys: dict[str, str] = {}
        for key in keys:
            key = key.strip()
            if key:
                self._keys.setdefault(key_fingerprint(key), key)
                register_secret(key)  # whatever text a key might reach is scrubbed of it
        # The budget caps what ytcollect itself spends per key; 0 is a real (closed) budget.
        self.cap = daily_units_per_key if daily_budget is None else min(daily_units_per_key, daily_budget)
        self.interactive_reserve = interactive_reserve
        self._clock = clock
        self._prefix = f"{namespace}:quota:{{ledger}}"
        self._reserve_script = redis.register_script(_RESERVE_LUA)

    # --- naming ------------------------------------------------------------------------------------

    @property
    def fingerprints(self) -> list[str]:
        """The configured keys' fingerprints, in configuration order."""
        return list(self._keys)

    def _used_key(self, day: date) -> str:
        return f"{self._prefix}:used:{day.isoformat()}"

    def _spent_key(self, day: date) -> str:
        return f"{self._prefix}:spent:{day.isoformat()}"

    @property
    def _disabled_key(self) -> str:
        return f"{self._prefix}:disabled"

    def _now(self) -> datetime:
        return _aware(self._clock())

    def _day_ttl(self, now: datetime) -> int:
        # Relative, not EXPIREAT: an injected clock (tests, a skewed host) must not expire keys at once.
        return int((next_pacific_midnight(now) - now + _DAY_KEY_GRACE).total_seconds()) + 1

    def _limit(self, priority: str) -> int:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
        return self.cap if priority == "interactive" else self.cap - self.interactive_reserve

    # --- the hot path ------------------------------------------------------------------------------

    def reserve(self, units: int, *, priority: str = "interactive") -> Lease:
        """Charge ``units`` to the key with the most units left today and hand it out.

        ``system`` work stops ``interactive_reserve`` units short of the cap. Raises
        :class:`QuotaExhausted` (with the next Pacific midnight) when no key can pay, and
        :class:`NoApiKeys` when there is no key or every key is disabled.
        """
        if units < 1:
            raise ValueError("every request costs at least 1 unit")
        limit = self._limit(priority)
        if not self._keys:
            raise NoApiKeys()
        now = self._now()
        day = pacific_day(now)
        status, fingerprint, _used = self._reserve_script(
            keys=[self._used_key(day), self._spent_key(day), self._disabled_key],
            args=[units, limit, self._day_ttl(now), *self._keys],
        )
        if status == "ok":
            return Lease(key=self._keys[fingerprint], fingerprint=fingerprint, units=units, day=day)
        if status == "nokeys":
            raise NoApiKeys("every configured YouTube API key is disabled: see `ytcollect quota`")
        resets_at = next_pacific_midnight(now)
        raise QuotaExhausted(
            f"no YouTube API key has {units} unit(s) left for {priority} work on {day.isoformat()} "
            f"(Pacific); quota resets at {resets_at.isoformat()}",
            resets_at=resets_at,
        )

    # --- what the client learns from the API ------------------------------------------------------

    def mark_spent(self, fingerprint: str, *, day: date | None = None) -> None:
        """The API answered ``quotaExceeded``: leave this key alone until the Pacific day turns.

        ``day`` is the day of the lease that met the answer (default: today), so an answer that
        crosses midnight does not spend the new day.
        """
        now = self._now()
        day = day or pacific_day(now)
        key = self._spent_key(day)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, fingerprint, now.isoformat())
        pipe.expire(key, self._day_ttl(now))
        pipe.execute()
        log.warning(
            "YouTube API key %s spent for %s (quotaExceeded); usable again at %s",
            fingerprint,
            day.isoformat(),
            next_pacific_midnight(now).isoformat(),
        )

    def disable(self, fingerprint: str, reason: str) -> None:
        """A bad-key answer: never use this key again until an operator enables it."""
        record = json.dumps({"reason": reason, "at": self._now().isoformat()})
        self._redis.hset(self._disabled_key, fingerprint, record)
        log.error("YouTube API key %s disabled: %s (re-enable it once fixed)", fingerprint, reason)

    def enable(self, fingerprint: str) -> None:
        """An operator fixed the key: let it be used again."""
        self._redis.hdel(self._disabled_key, fingerprint)
        log.warning("YouTube API key %s enabled", fingerprint)

    # --- reading -----------------------------------------------------------------------------------

    def status(self) -> list[KeyStatus]:
        """Every configured key's units used and left today, its state and when the day resets."""
        now = self._now()
        day = pacific_day(now)
        resets_at = next_pacific_midnight(now)
        fingerprints = list(self._keys)
        if not fingerprints:
            return []
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(self._used_key(day), fingerprints)
        pipe.hmget(self._spent_key(day), fingerprints)
        pipe.hmget(self._disabled_key, fingerprints)
        used_list, spent_list, disabled_list = pipe.execute()
        statuses = []
        for fp, used, spent, disabled in zip(fingerprints, used_list, spent_list, disabled_list, strict=True):
            used_units = int(used or 0)
            if disabled is not None:
                state, reason, left = "disabled", _disabled_reason(disabled), 0
            elif spent is not None:
                state, reason, left = "spent", "quotaExceeded", 0
            else:
                state, reason, left = "ok", None, max(0, self.cap - used_units)
                if left == 0:
                    state, reason = "spent", "budget"
            statuses.append(KeyStatus(fp, day, used_units, left, state, reason, resets_at))
        return statuses

    def units_left(self, *, priority: str = "interactive") -> int:
        """Units still reservable today across usable keys, for work of this priority."""
        headroom = self.cap - self._limit(priority)
        return sum(max(0, s.left - headroom) for s in self.status() if s.state == "ok")

    def resets_at(self) -> datetime:
        """The next Pacific midnight, timezone-aware UTC."""
        return next_pacific_midnight(self._now())


def _disabled_reason(raw: str) -> str:
    try:
        return str(json.loads(raw)["reason"])
    except (ValueError, KeyError, TypeError):
        return raw
