"""A run's fast state in Redis: the exactly-once completion counter, the resolution barrier, live counts.

Every key of a run shares the hash tag ``{run_id}`` so each script touches one cluster slot. Counting is
idempotent: a job is counted by ``SADD`` into a set and only a *new* member decrements ``remaining``,
so a redelivered message never counts twice, and exactly one caller sees ``remaining`` reach 0.

The database stays the truth: when a run's keys are gone (restart, eviction) the scripts answer
``None`` and callers fall back to the jobs table; ``rebuild`` restores the keys from it. A run's
search counter, when gone, is rebuilt from its billed ``search.list`` rows in ``api_calls`` (after a
grace that lets the searches in flight at the loss write theirs), so a flush never refills a budget.
A run's units hash carries a marker from ``register`` on; once Redis lost it (the increments after a
flush start again at 0) the run's units are read from ``api_calls`` instead, so a report never
shows less than the run was billed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from redis import Redis

RUN_KEY_TTL_SECONDS = 14 * 24 * 3600

# A field of the units hash that is no endpoint: present only while the hash holds every unit since register.
UNITS_COMPLETE = "~complete"

_REGISTER = """
-- KEYS: remaining, unresolved, searches, units ; ARGV: total, unresolved_total, ttl, units marker
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[3], 0, 'EX', ARGV[3], 'NX')
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('HSET', KEYS[4], ARGV[4], 1)
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
return 1
"""

_TAKE_SEARCH = """
-- KEYS: searches ; ARGV: budget, ttl. -1: the counter is gone (rebuild it), 0: spent, 1: claimed.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if tonumber(redis.call('GET', KEYS[1])) >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_GIVE_BACK_SEARCH = """
-- KEYS: searches. Never below 0, and never recreates a counter Redis lost.
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""

_MARK = """
-- KEYS: counter, members_set[, counts_hash, waiting_set]
-- ARGV: ttl, then (member, status) pairs. Only members new to the set move the counter.
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local newly = 0
for i = 2, #ARGV, 2 do
  local member = ARGV[i]
  if redis.call('SADD', KEYS[2], member) == 1 then
    newly = newly + 1
    redis.call('DECR', KEYS[1])
    if #KEYS >= 4 then
      redis.call('HINCRBY', KEYS[3], ARGV[i + 1], 1)
      redis.call('SREM', KEYS[4], member)
    end
  end
end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return {tonumber(redis.call('GET', KEYS[1])), newly}
"""

_REBUILD = """
-- KEYS: remaining, unresolved, done, counts, resolved, waiting
-- ARGV: ttl, remaining, unresolved, n_done, done ids..., n_counts, (status, count)..., n_waiting, waiting ids...
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, 6 do redis.call('DEL', KEYS[i]) end
local ttl = ARGV[1]
local pos = 4
local n = tonumber(ARGV[pos]); pos = pos + 1
for i = 1, n do redis.call('SADD', KEYS[3], ARGV[pos]); pos = pos + 1 end
n = tonumber(ARGV[pos]); pos = pos + 1
for i = 1, n do redis.call('HSET', KEYS[4], ARGV[pos], ARGV[pos + 1]); pos = pos + 2 end
n = tonumber(ARGV[pos]); pos = pos + 1
for i = 1, n do redis.call('SADD', KEYS[6], ARGV[pos]); pos = pos + 1 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
redis.call('SET', KEYS[2], ARGV[3], 'EX', ttl)
for i = 3, 6 do redis.call('EXPIRE', KEYS[i], ttl) end
return 1
"""


def run_key(run_id: str, name: str) -> str:
    """``ytc:{<run_id>}:<name>``: the braces make every key of a run hash to one cluster slot."""
    return f"ytc:{{{run_id}}}:{name}"


@dataclass(frozen=True, slots=True)
class MarkResult:
    """``remaining`` after the call (None when Redis had no state for the run) and how many were new."""

    remaining: int | None
    newly_marked: int

    def reached_zero(self) -> bool:
        """True for exactly one caller per counter: the one whose new members brought it to 0."""
        return self.remaining == 0 and self.newly_marked > 0


@dataclass(frozen=True, slots=True)
class LiveState:
    remaining: int
    unresolved: int
    counts: dict[str, int]
    waiting: int
    units: dict[str, int]


class RunCompletion:
    """The Lua-backed per-run state. Works on real Redis and on fakeredis (with lupa) alike."""

    def __init__(
        self,
        redis: Redis,
        *,
        searches_billed: Callable[[str], int] | None = None,
        units_billed: Callable[[str], dict[str, int]] | None = None,
        rebuild_grace_seconds: float = 0.0,
    ) -> None:
        self.redis = redis
        self._searches_billed = searches_billed
        self._units_billed = units_billed
        self._rebuild_grace = rebuild_grace_seconds
        self._take_search = redis.register_script(_TAKE_SEARCH)
        self._give_back_search = redis.register_script(_GIVE_BACK_SEARCH)
        self._register = redis.register_script(_REGISTER)
        self._mark = redis.register_script(_MARK)
        self._rebuild = redis.register_script(_REBUILD)

    def register(self, run_id: str, *, total_jobs: int, unresolved_jobs: int) -> bool:
        """Create the run's counters once; False when they already exist (a redelivered normalize)."""
        keys = [run_key(run_id, n) for n in ("remaining", "unresolved", "searches", "units")]
        args: list[str | int] = [total_jobs, unresolved_jobs, RUN_KEY_TTL_SECONDS, UNITS_COMPLETE]
        return bool(self._register(keys=keys, args=args))

    def mark_terminal(self, run_id: str, statuses: Mapping[int, str]) -> MarkResult:
        """Count jobs that reached a terminal status; each job counts once whatever the redeliveries."""
        keys = [run_key(run_id, n) for n in ("remaining", "done", "counts", "waiting")]
        return self._run_mark(keys, statuses)

    def mark_resolved(self, run_id: str, job_ids: Iterable[int]) -> MarkResult:
        """Count jobs that left the resolution phase (resolved, failed or waiting for quota)."""
        keys = [run_key(run_id, "unresolved"), run_key(run_id, "resolved")]
        return self._run_mark(keys, dict.fromkeys(job_ids, "-"))

    def _run_mark(self, keys: list[str], statuses: Mapping[int, str]) -> MarkResult:
        if not statuses:
            return MarkResult(remaining=None, newly_marked=0)
        args: list[str | int] = [RUN_KEY_TTL_SECONDS]
        for job_id, status in statuses.items():
            args.extend((job_id, str(status)))
        remaining, newly = self._mark(keys=keys, args=args)
        return MarkResult(remaining=None if remaining == -1 else int(remaining), newly_marked=int(newly))

    def set_waiting(self, run_id: str, job_ids: Iterable[int], waiting: bool) -> None:
        """Track jobs parked in WAITING_QUOTA so live counts can show them."""
        ids = list(job_ids)
        if ids:
            key = run_key(run_id, "waiting")
            (self.redis.sadd if waiting else self.redis.srem)(key, *ids)
            self.redis.expire(key, RUN_KEY_TTL_SECONDS)

    def add_units(self, run_id: str, endpoint: str, units: int) -> None:
        key = run_key(run_id, "units")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(key, endpoint, units)
        pipe.expire(key, RUN_KEY_TTL_SECONDS)
        pipe.execute()

    def take_search(self, run_id: str, budget: int) -> bool:
        """Claim one search.list call within the run's budget; False when the budget is spent."""
        if budget <= 0:
            return False
        keys, args = [run_key(run_id, "searches")], [budget, RUN_KEY_TTL_SECONDS]
        claimed = int(self._take_search(keys=keys, args=args))
        if claimed == -1:
            self._rebuild_searches(run_id)
            claimed = int(self._take_search(keys=keys, args=args))
        return claimed == 1

    def _rebuild_searches(self, run_id: str) -> None:
        """Redis lost the run's search counter: start it again at what the run was billed for."""
        used = 0
        if self._searches_billed is not None:
            self._sleep_grace()
            used = self._searches_billed(run_id)
        self.redis.set(run_key(run_id, "searches"), used, ex=RUN_KEY_TTL_SECONDS, nx=True)

    def _sleep_grace(self) -> None:
        # The searches in flight when Redis lost the counter write their api_calls rows meanwhile.
        if self._rebuild_grace > 0:
            time.sleep(self._rebuild_grace)

    def give_back_search(self, run_id: str) -> None:
        """A claimed search was never sent (no key could pay): the run's budget gets it back."""
        self._give_back_search(keys=[run_key(run_id, "searches")])

    def live(self, run_id: str) -> LiveState | None:
        """Live counts in a handful of O(1) commands; None when Redis has no state for the run.

        The units come from ``api_calls`` when Redis lost the run's units hash since ``register``.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(run_key(run_id, "remaining"))
        pipe.get(run_key(run_id, "unresolved"))
        pipe.hgetall(run_key(run_id, "counts"))
        pipe.scard(run_key(run_id, "waiting"))
        pipe.hgetall(run_key(run_id, "units"))
        remaining, unresolved, counts, waiting, units = pipe.execute()
        if remaining is None:
            return None
        by_endpoint = {str(k): int(v) for k, v in units.items() if k != UNITS_COMPLETE}
        if UNITS_COMPLETE not in units and self._units_billed is not None:
            by_endpoint = self._units_billed(run_id)
        return LiveState(
            remaining=int(remaining),
            unresolved=int(unresolved or 0),
            counts={str(k): int(v) for k, v in counts.items()},
            waiting=int(waiting),
            units=by_endpoint,
        )

    def rebuild(
        self,
        run_id: str,
        *,
        terminal: Mapping[int, str],
        open_job_ids: Iterable[int],
        unresolved: int,
        waiting: Iterable[int],
    ) -> bool:
        """Recreate a run's counters from the database; a no-op (False) if they still exist."""
        open_ids = list(open_job_ids)
        counts: dict[str, int] = {}
        for status in terminal.values():
            counts[str(status)] = counts.get(str(status), 0) + 1
        waiting_ids = list(waiting)
        args: list[str | int] = [
            RUN_KEY_TTL_SECONDS,
            len(open_ids),
            unresolved,
            len(terminal),
            *terminal.keys(),
        ]
        args.append(len(counts))
        for status, n in counts.items():
            args.extend((status, n))
        args.append(len(waiting_ids))
        args.extend(waiting_ids)
        keys = [
            run_key(run_id, n) for n in ("remaining", "unresolved", "done", "counts", "resolved", "waiting")
        ]
        return bool(self._rebuild(keys=keys, args=args))

    def forget(self, run_id: str) -> None:
        """Drop every key of a run (after deletion, or in tests simulating Redis losing them)."""
        names = (
            "remaining",
            "unresolved",
            "done",
            "counts",
            "resolved",
            "waiting",
            "units",
            "searches",
            "events",  # pipeline.progress: the live event stream
            "answers",  # pipeline.stages.answers: lookups a redelivered resolve need not ask again
            "probed",  # pipeline.stages.answers: custom URLs that only need their search
        )
        self.redis.delete(*(run_key(run_id, n) for n in names))
