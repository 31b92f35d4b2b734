"""The quota ledger: units per API key per Pacific day per bucket, shared in Redis by every worker.

The YouTube Data API counts quota per Google Cloud project per day in three buckets
(youtube-api.md, "Quota buckets"): ``default`` (10,000 units shared by every method but two),
``search`` (100 ``search.list`` calls, 1 a call) and ``video_stats`` (10,000 units for
``videos.batchGetStats``). The day turns at midnight America/Los_Angeles (DST included). Every call
reserves its cost in its method's bucket here *before* it is sent, in one Lua script that picks the
key with the most left in that bucket and charges it, so concurrent workers never overspend.
``quotaExceeded`` marks that key's *bucket* spent for the rest of its Pacific day (its other buckets
keep answering); bad-key answers disable the whole key until an operator enables it again. Keys are
named by fingerprint only: the key itself never reaches Redis, a log line or a repr.

Redis layout (``{ledger}`` is a cluster hash tag, so the script's keys share one slot)::

    {ns}:quota:{ledger}:used:{day}             hash  fingerprint -> default-bucket units that day
    {ns}:quota:{ledger}:spent:{day}            hash  fingerprint -> when default answered quotaExceeded
    {ns}:quota:{ledger}:used:{bucket}:{day}    the same for the search and video_stats buckets
    {ns}:quota:{ledger}:spent:{bucket}:{day}
    {ns}:quota:{ledger}:disabled               hash  fingerprint -> JSON {"reason", "at"}; no TTL on purpose
    {ns}:quota:{ledger}:seeded:{day}           string the generation the day's used-hashes were seeded under
    {ns}:quota:{ledger}:seeding:{day}          string lock: the one worker seeding that day
    {ns}:quota:{ledger}:alive                  string no TTL: gone means Redis lost the ledger (a flush)

The database is the truth for money too: every billed call is an ``api_calls`` row. A reservation
that finds its day's ``seeded`` marker missing (the first of a new day, or after Redis lost its data)
seeds the day's used-hashes from the rows (``recorded_usage``) before it charges anything, under a
lock so concurrent workers seed once, and in one Lua call that sets the marker, so a flush never
lets a key pass its cap. After a loss (``alive`` gone, the day's rows not empty) the seeder first waits
``seed_grace_seconds`` so the calls that were in flight at the loss have written their rows; a lease carries the
generation it was granted under, and giving back a lease of an older generation changes nothing.

The default bucket keeps the names it had before buckets existed, so an upgrade in mid-day keeps the
day's count. Day hashes expire a day after their day ends, so the ledger cleans up after itself.
Because the day is part of the key, a bucket spent yesterday is usable today whatever Redis's clock says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time as _time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.youtube.errors import NoApiKeys, QuotaExhausted, TransientYouTubeError
from pipeline.youtube.redact import register_secret

log = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
PRIORITIES = ("interactive", "system")
DEFAULT, SEARCH, VIDEO_STATS = "default", "search", "video_stats"
BUCKETS = (DEFAULT, SEARCH, VIDEO_STATS)
# What a bucket counts, for the people reading a report: search is counted in calls.
BUCKET_UNIT = {DEFAULT: "unit", SEARCH: "call", VIDEO_STATS: "unit"}
# method -> (bucket, cost a call): the API's since June 2026 (youtube-api.md). The one mapping the
# client reserves by and every report groups ``api_calls`` by.
METHODS: dict[str, tuple[str, int]] = {
    "channels.list": (DEFAULT, 1),
    "videos.list": (DEFAULT, 1),
    "playlists.list": (DEFAULT, 1),
    "playlistItems.list": (DEFAULT, 1),
    "search.list": (SEARCH, 1),
    "videos.batchGetStats": (VIDEO_STATS, 1),
}
# Day hashes outlive their day by this much: room for clock skew between workers and for a look at
# yesterday's numbers just after midnight.
_DAY_KEY_GRACE = timedelta(days=1)
# The units recorded in ``api_calls`` between two instants, by (key fingerprint, bucket): what the
# ledger seeds a day from when Redis has lost it. Injected, so this package needs no database.
RecordedUsage = Callable[[datetime, datetime], Mapping[tuple[str, str], int]]
# How long one worker may hold the seeding lock before another takes over (a crashed seeder).
_SEED_LOCK_SECONDS = 60


def bucket_of(method: str) -> str:
    """The quota bucket a method draws on (``default`` for any method not named otherwise)."""
    return METHODS.get(method, (DEFAULT, 1))[0]


def cost_of(method: str) -> tuple[str, int]:
    """``(bucket, cost)`` of one call of ``method``."""
    return METHODS[method]


def amount(count: int, bucket: str) -> str:
    """``1 unit``, ``100 calls``: a bucket's quantity in its own measure."""
    noun = BUCKET_UNIT.get(bucket, "unit")
    return f"{count:,} {noun if count == 1 else noun + 's'}"


def by_bucket(by_method: dict[str, int]) -> dict[str, dict[str, Any]]:
    """``{bucket: {"units": n, "by_method": {...}}}`` from units by method (a run's, a day's).

    The search bucket's "units" are calls (1 a call).
    """
    grouped: dict[str, dict[str, Any]] = {}
    for method, units in sorted(by_method.items()):
        entry = grouped.setdefault(bucket_of(method), {"units": 0, "by_method": {}})
        entry["units"] += units
        entry["by_method"][method] = units
    return grouped


def quota_units(by_method: dict[str, int]) -> dict[str, Any]:
    """A run's quota report: its units by method and by bucket (``total`` adds every bucket up)."""
    grouped = by_bucket(by_method)
    return {
        "total": sum(by_method.values()),
        "by_method": dict(sorted(by_method.items())),
        "by_bucket": {bucket: grouped.get(bucket, {}).get("units", 0) for bucket in BUCKETS},
    }


def quota_wait_code(bucket: str) -> str:
    """The error code a job or video task carries while it waits for ``bucket`` to refill:
    ``search_quota``, … (read back by the run's status to say which bucket its parked work waits for)."""
    return f"{bucket}_quota"


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
    """Units reserved on one key's bucket for one call; ``key`` is what the call sends and never shows."""

    key: str = field(repr=False)
    fingerprint: str
    units: int
    day: date
    bucket: str = DEFAULT
    generation: str = ""  # the day's seeding this lease was charged under ("" for any)


@dataclass(frozen=True, slots=True)
class BucketStatus:
    """One bucket of one key today: what was reserved, what is left, and why nothing is."""

    used: int
    left: int
    cap: int
    state: str  # "ok" | "spent" | "disabled"
    reason: str | None  # "quotaExceeded", "budget" or the disabling reason


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """One key's standing today, as ``ytcollect quota`` shows it.

    ``used``, ``left``, ``state`` and ``reason`` are the default bucket's (the one most calls draw
    on); ``buckets`` has every bucket's.
    """

    fingerprint: str
    day: date
    used: int
    left: int
    state: str  # "ok" | "spent" | "disabled"
    reason: str | None
    resets_at: datetime
    buckets: dict[str, BucketStatus] = field(default_factory=dict)


# One round trip, atomically: skip disabled keys and keys whose bucket is spent, pick the one with the
# most left in the bucket under the caller's limit, charge it.
# Charges nothing while the day is unseeded (KEYS[4] missing): the caller seeds it from the database.
# Returns {"ok", fp, used, generation} or {"exhausted"|"nokeys"|"unseeded", "", 0, ""}.
_RESERVE_LUA = """
local generation = redis.call('GET', KEYS[4])
if not generation then
  return {'unseeded', '', 0, ''}
end
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
    return {'nokeys', '', 0, ''}
  end
  return {'exhausted', '', 0, ''}
end
local used = redis.call('HINCRBY', KEYS[1], best, units)
redis.call('EXPIRE', KEYS[1], ttl)
return {'ok', best, used, generation}
"""

# Give a lease back (the request never reached the API, or the API did not bill it), never below 0;
# a lease granted before the day was seeded again (ARGV[3], KEYS[2] the marker) is not in the hash.
_RELEASE_LUA = """
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local back = math.min(used, tonumber(ARGV[2]))
if back > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], -back)
end
return back
"""


# Seed a day once: KEYS marker, alive, then the used-hashes of BUCKETS; ARGV generation, ttl, then
# (fingerprint, bucket index, units) triples. A field keeps the larger of Redis's and the database's
# count (an upgrade in mid-day finds live counts and no marker). Returns 0 if already seeded.
_SEED_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local ttl = tonumber(ARGV[2])
for i = 3, #ARGV, 3 do
  local key = KEYS[3 + tonumber(ARGV[i + 1])]
  local units = tonumber(ARGV[i + 2])
  if units > tonumber(redis.call('HGET', key, ARGV[i]) or '0') then
    redis.call('HSET', key, ARGV[i], units)
  end
end
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ttl) end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

# Drop the seeding lock only if it is still ours.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class QuotaLedger:
    """Reserve, before every call, its cost in its bucket on the key with the most left there."""

    def __init__(
        self,
        redis,
        keys: Sequence[str],
        *,
        daily_units_per_key: int = 10_000,
        daily_budget: int | None = None,
        interactive_reserve: int = 1_000,
        search_calls_per_key: int = 100,
        search_interactive_reserve: int = 20,
        stats_units_per_key: int = 10_000,
        stats_interactive_reserve: int = 1_000,
        clock: Callable[[], datetime] = utcnow,
        namespace: str = "ytc",
        recorded_usage: RecordedUsage | None = None,
        seed_grace_seconds: float = 0.0,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        self._redis = redis
        self._recorded_usage = recorded_usage
        self._seed_grace = seed_grace_seconds
        self._sleep = sleep
        # Keep the configured order (ties go to the first key), drop repeats and blanks.
        self._keys: dict[str, str] = {}
        for key in keys:
            key = key.strip()
            if key:
                self._keys.setdefault(key_fingerprint(key), key)
                register_secret(key)  # whatever text a key might reach is scrubbed of it
        # The budget caps what ytcollect itself spends per key in the default bucket; 0 is a real
        # (closed) budget.
        default_cap = daily_units_per_key if daily_budget is None else min(daily_units_per_key, daily_budget)
        self.caps: dict[str, int] = {
            DEFAULT: default_cap,
            SEARCH: search_calls_per_key,
            VIDEO_STATS: stats_units_per_key,
        }
        self.reserves: dict[str, int] = {
            DEFAULT: interactive_reserve,
            SEARCH: search_interactive_reserve,
            VIDEO_STATS: stats_interactive_reserve,
        }
        self._clock = clock
        self._prefix = f"{namespace}:quota:{{ledger}}"
        self._reserve_script = redis.register_script(_RESERVE_LUA)
        self._release_script = redis.register_script(_RELEASE_LUA)
        self._seed_script = redis.register_script(_SEED_LUA)
        self._unlock_script = redis.register_script(_UNLOCK_LUA)

    @property
    def cap(self) -> int:
        """The default bucket's cap per key (the daily units, capped by the budget)."""
        return self.caps[DEFAULT]

    @property
    def interactive_reserve(self) -> int:
        """The default bucket's units per key that system work leaves to interactive work."""
        return self.reserves[DEFAULT]

    # --- naming ------------------------------------------------------------------------------------

    @property
    def fingerprints(self) -> list[str]:
        """The configured keys' fingerprints, in configuration order."""
        return list(self._keys)

    def _used_key(self, day: date, bucket: str = DEFAULT) -> str:
        infix = "" if bucket == DEFAULT else f"{bucket}:"
        return f"{self._prefix}:used:{infix}{day.isoformat()}"

    def _spent_key(self, day: date, bucket: str = DEFAULT) -> str:
        infix = "" if bucket == DEFAULT else f"{bucket}:"
        return f"{self._prefix}:spent:{infix}{day.isoformat()}"

    @property
    def _disabled_key(self) -> str:
        return f"{self._prefix}:disabled"

    def _seeded_key(self, day: date) -> str:
        return f"{self._prefix}:seeded:{day.isoformat()}"

    def _now(self) -> datetime:
        return _aware(self._clock())

    def _day_ttl(self, now: datetime) -> int:
        # Relative, not EXPIREAT: an injected clock (tests, a skewed host) must not expire keys at once.
        return int((next_pacific_midnight(now) - now + _DAY_KEY_GRACE).total_seconds()) + 1

    @staticmethod
    def _check_bucket(bucket: str) -> None:
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {BUCKETS}, not {bucket!r}")

    def _limit(self, priority: str, bucket: str = DEFAULT) -> int:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, not {priority!r}")
        self._check_bucket(bucket)
        cap = self.caps[bucket]
        return cap if priority == "interactive" else cap - self.reserves[bucket]

    # --- the hot path ------------------------------------------------------------------------------

    def reserve(self, units: int, *, bucket: str = DEFAULT, priority: str = "interactive") -> Lease:
        """Charge ``units`` to the key with the most left in ``bucket`` today and hand it out.

        ``system`` work stops the bucket's interactive reserve short of its cap. Raises
        :class:`QuotaExhausted` (naming the bucket, with the next Pacific midnight) when no key can
        pay, and :class:`NoApiKeys` when there is no key or every key is disabled.
        """
        if units < 1:
            raise ValueError("every request costs at least 1 unit")
        limit = self._limit(priority, bucket)
        if not self._keys:
            raise NoApiKeys()
        now = self._now()
        day = pacific_day(now)
        keys = [
            self._used_key(day, bucket),
            self._spent_key(day, bucket),
            self._disabled_key,
            self._seeded_key(day),
        ]
        args = [units, limit, self._day_ttl(now), *self._keys]
        status, fingerprint, _used, generation = self._reserve_script(keys=keys, args=args)
        if status == "unseeded":
            self._seed(day, now)
            status, fingerprint, _used, generation = self._reserve_script(keys=keys, args=args)
        if status == "ok":
            return Lease(
                key=self._keys[fingerprint],
                fingerprint=fingerprint,
                units=units,
                day=day,
                bucket=bucket,
                generation=generation,
            )
        if status == "unseeded":  # another worker's seeding outlived its lock: refuse rather than guess
            raise TransientYouTubeError(
                f"the quota ledger for {day.isoformat()} (Pacific) is still being rebuilt; try again",
                reason="ledgerSeeding",
            )
        if status == "nokeys":
            raise NoApiKeys("every configured YouTube API key is disabled: see `ytcollect quota`")
        resets_at = next_pacific_midnight(now)
        raise QuotaExhausted(
            f"no YouTube API key has {amount(units, bucket)} left in the {bucket} bucket for "
            f"{priority} work on {day.isoformat()} (Pacific); the bucket refills at {resets_at.isoformat()}",
            resets_at=resets_at,
            bucket=bucket,
        )

    def release(self, lease: Lease) -> None:
        """Give a lease's units back: the request never reached the API, or the API did not bill it."""
        self._release_script(
            keys=[self._used_key(lease.day, lease.bucket), self._seeded_key(lease.day)],
            args=[lease.fingerprint, lease.units, lease.generation],
        )

    # --- rebuilding a lost day from the database ---------------------------------------------------

    def _seed(self, day: date, now: datetime) -> None:
        """Make sure ``day``'s used-hashes hold what ``api_calls`` recorded, seeding them once.

        One worker takes the lock and seeds; the others wait for its marker (or take over when its
        lock lapses). Reservations are refused until the marker exists, so none is lost to the seed.
        """
        marker = self._seeded_key(day)
        lock = f"{self._prefix}:seeding:{day.isoformat()}"
        deadline = _time.monotonic() + self._seed_grace + _SEED_LOCK_SECONDS + 5
        token = uuid.uuid4().hex
        while not self._redis.exists(marker):
            if self._redis.set(lock, token, nx=True, ex=_SEED_LOCK_SECONDS):
                try:
                    self._seed_locked(day, now, token)
                finally:
                    self._unlock_script(keys=[lock], args=[token])
                return
            if _time.monotonic() > deadline:
                return  # the caller's second try answers "unseeded"
            self._sleep(0.05)

    def _seed_locked(self, day: date, now: datetime, generation: str) -> None:
        start = datetime.combine(day, time(0), tzinfo=PACIFIC).astimezone(UTC)
        end = next_pacific_midnight(start)
        read = self._recorded_usage or (lambda _start, _end: {})
        recorded = read(start, end)
        if recorded and self._seed_grace > 0 and not self._redis.exists(f"{self._prefix}:alive"):
            # Redis lost the ledger mid-day: let the calls in flight at that moment write their rows.
            log.warning(
                "quota ledger lost from Redis: rebuilding %s from api_calls in %.1fs",
                day.isoformat(),
                self._seed_grace,
            )
            self._sleep(self._seed_grace)
            recorded = read(start, end)
        args: list[str | int] = [generation, self._day_ttl(now)]
        for (fingerprint, bucket), units in sorted(recorded.items()):
            if fingerprint in self._keys and bucket in BUCKETS and units > 0:
                args.extend((fingerprint, BUCKETS.index(bucket), int(units)))
        keys = [self._seeded_key(day), f"{self._prefix}:alive"]
        keys += [self._used_key(day, bucket) for bucket in BUCKETS]
        self._seed_script(keys=keys, args=args)

    # --- what the client learns from the API ------------------------------------------------------

    def mark_spent(self, fingerprint: str, *, bucket: str = DEFAULT, day: date | None = None) -> None:
        """The API answered ``quotaExceeded``: leave this key's bucket alone until the Pacific day turns.

        Only ``bucket`` is spent: a spent search bucket must not stop ``channels.list`` on the key.
        ``day`` is the day of the lease that met the answer (default: today), so an answer that
        crosses midnight does not spend the new day.
        """
        self._check_bucket(bucket)
        now = self._now()
        day = day or pacific_day(now)
        key = self._spent_key(day, bucket)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, fingerprint, now.isoformat())
        pipe.expire(key, self._day_ttl(now))
        pipe.execute()
        log.warning(
            "YouTube API key %s: %s bucket spent for %s (quotaExceeded); usable again at %s",
            fingerprint,
            bucket,
            day.isoformat(),
            next_pacific_midnight(now).isoformat(),
        )

    def disable(self, fingerprint: str, reason: str) -> None:
        """A bad-key answer: never use this key again (in any bucket) until an operator enables it."""
        record = json.dumps({"reason": reason, "at": self._now().isoformat()})
        self._redis.hset(self._disabled_key, fingerprint, record)
        log.error("YouTube API key %s disabled: %s (re-enable it once fixed)", fingerprint, reason)

    def enable(self, fingerprint: str) -> None:
        """An operator fixed the key: let it be used again."""
        self._redis.hdel(self._disabled_key, fingerprint)
        log.warning("YouTube API key %s enabled", fingerprint)

    # --- reading -----------------------------------------------------------------------------------

    def status(self) -> list[KeyStatus]:
        """Every configured key's use and room today in every bucket, its state and when the day resets."""
        now = self._now()
        day = pacific_day(now)
        resets_at = next_pacific_midnight(now)
        fingerprints = list(self._keys)
        if not fingerprints:
            return []
        try:
            self._seed(day, now)
        except Exception as exc:  # a report still answers with what Redis holds; reserve() refuses
            log.warning("could not rebuild %s from api_calls (%s)", day.isoformat(), type(exc).__name__)
        pipe = self._redis.pipeline(transaction=False)
        for bucket in BUCKETS:
            pipe.hmget(self._used_key(day, bucket), fingerprints)
            pipe.hmget(self._spent_key(day, bucket), fingerprints)
        pipe.hmget(self._disabled_key, fingerprints)
        answers = pipe.execute()
        disabled_list = answers[-1]
        statuses = []
        for i, fp in enumerate(fingerprints):
            disabled = disabled_list[i]
            buckets: dict[str, BucketStatus] = {}
            for b, bucket in enumerate(BUCKETS):
                used = int(answers[2 * b][i] or 0)
                spent = answers[2 * b + 1][i]
                cap = self.caps[bucket]
                if disabled is not None:
                    buckets[bucket] = BucketStatus(used, 0, cap, "disabled", _disabled_reason(disabled))
                elif spent is not None:
                    buckets[bucket] = BucketStatus(used, 0, cap, "spent", "quotaExceeded")
                elif cap - used <= 0:
                    buckets[bucket] = BucketStatus(used, 0, cap, "spent", "budget")
                else:
                    buckets[bucket] = BucketStatus(used, cap - used, cap, "ok", None)
            main = buckets[DEFAULT]
            statuses.append(
                KeyStatus(fp, day, main.used, main.left, main.state, main.reason, resets_at, buckets)
            )
        return statuses

    def units_left(self, *, priority: str = "interactive", bucket: str = DEFAULT) -> int:
        """What is still reservable today in ``bucket`` across usable keys, for work of this priority."""
        headroom = self.caps[bucket] - self._limit(priority, bucket)
        return sum(
            max(0, s.buckets[bucket].left - headroom)
            for s in self.status()
            if s.buckets[bucket].state == "ok"
        )

    def resets_at(self) -> datetime:
        """The next Pacific midnight, timezone-aware UTC."""
        return next_pacific_midnight(self._now())


def _disabled_reason(raw: str) -> str:
    try:
        return str(json.loads(raw)["reason"])
    except (ValueError, KeyError, TypeError):
        return raw
