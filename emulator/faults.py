"""Injected faults and latency, deterministic for a seed and a sequence of requests.

A rule matches an endpoint (``"channels.list"`` or ``"*"``) and optionally a key fingerprint. With
``count`` it fires on the next N matching requests; with ``rate`` on that fraction of them, decided
by a keyed hash of (seed, rule, how many requests the rule has seen) rather than a shared random
stream, so the same requests in the same order meet the same faults; with both, on that fraction
until it has fired N times; with ``until`` (an ISO instant on the emulator's clock) only before
then, so an outage can last "for hours" of emulated time. The first rule that fires wins. Endpoint
``feeds.videos`` is the public feed (no key: a ``key`` rule never matches it).

Kinds: ``backend_500``, ``backend_503``, ``rate_limit_429``, ``rate_limit_403``,
``user_rate_limit_403`` and ``drop`` (the
connection closed unanswered) are billed like the method; ``quota_exceeded``, ``forbidden_403``
(PERMISSION_DENIED) and ``not_found_404`` are refusals before the method, and cost nothing.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

KINDS = (
    "backend_500",
    "backend_503",
    "rate_limit_429",
    "rate_limit_403",
    "user_rate_limit_403",
    "drop",
    "quota_exceeded",
    "forbidden_403",
    "not_found_404",
)
ENDPOINTS = (
    "*",
    "channels.list",
    "videos.list",
    "playlists.list",
    "playlistItems.list",
    "search.list",
    "videos.batchGetStats",
    "feeds.videos",  # the public feed: its faults are HTML error pages
)


class FaultSpecError(ValueError):
    """A fault plan that cannot be followed (unknown kind, rate outside 0..1…)."""


@dataclass
class _Rule:
    endpoint: str
    kind: str
    rate: float | None
    count: int | None
    key: str | None
    until: float | None = None  # epoch seconds on the emulator's clock
    seen: int = 0
    fired: int = 0

    def describe(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "rate": self.rate,
            "count": self.count,
            "key": self.key,
            "until": None if self.until is None else datetime.fromtimestamp(self.until, UTC).isoformat(),
            "seen": self.seen,
            "fired": self.fired,
        }


class FaultPlan:
    """The current rules and latency; replaced whole by ``set``. Thread-safe."""

    def __init__(self, seed: int, default_latency_ms: float = 0) -> None:
        self._key = hashlib.blake2b(f"faults:{seed}".encode(), digest_size=32).digest()
        self._default_latency = float(default_latency_ms)
        self._lock = threading.Lock()
        self.set({})

    def set(self, spec: dict) -> dict:
        """Replace rules and latency from a ``POST /_emulator/faults`` document; returns the plan."""
        if not isinstance(spec, dict):
            raise FaultSpecError("the fault plan must be a JSON object")
        rules = [self._rule(raw) for raw in spec.get("faults") or []]
        latency = spec.get("latency_ms")
        per_endpoint: dict[str, float] = {}
        if latency is None:
            per_endpoint["*"] = self._default_latency
        elif isinstance(latency, int | float) and not isinstance(latency, bool) and latency >= 0:
            per_endpoint["*"] = float(latency)
        elif isinstance(latency, dict):
            for endpoint, value in latency.items():
                if endpoint not in ENDPOINTS or not isinstance(value, int | float) or value < 0:
                    raise FaultSpecError(f"bad latency for {endpoint!r}")
                per_endpoint[endpoint] = float(value)
            per_endpoint.setdefault("*", self._default_latency)
        else:
            raise FaultSpecError("latency_ms must be a number of milliseconds or {endpoint: ms}")
        with self._lock:
            self._rules = rules
            self._latency = per_endpoint
            self.active = bool(rules)
        return self.describe()

    @staticmethod
    def _rule(raw: object) -> _Rule:
        if not isinstance(raw, dict):
            raise FaultSpecError("each fault must be a JSON object")
        endpoint = raw.get("endpoint", "*")
        kind = raw.get("kind")
        rate, count, key = raw.get("rate"), raw.get("count"), raw.get("key")
        if endpoint not in ENDPOINTS:
            raise FaultSpecError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
        if kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        if rate is not None and (
            not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1
        ):
            raise FaultSpecError("rate must be a number between 0 and 1")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise FaultSpecError("count must be a non-negative integer")
        if key is not None and not isinstance(key, str):
            raise FaultSpecError("key must be a key fingerprint (8 hex characters)")
        until = raw.get("until")
        if until is not None:
            try:
                moment = datetime.fromisoformat(str(until).replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                raise FaultSpecError("until must be an ISO 8601 instant with a zone (the emulator's clock)")
            until = moment.timestamp()
        return _Rule(endpoint, kind, None if rate is None else float(rate), count, key, until)

    def pick(self, method: str, key_fingerprint: str, now: float = 0.0) -> str | None:
        """The fault to inject into this request at ``now``, if any (and count it against its rule)."""
        if not self.active:
            return None
        with self._lock:
            for number, rule in enumerate(self._rules):
                if rule.endpoint not in ("*", method) or (rule.key and rule.key != key_fingerprint):
                    continue
                if rule.until is not None and now >= rule.until:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                rule.seen += 1
                if rule.rate is not None and self._draw(number, rule.seen) >= rule.rate:
                    continue
                rule.fired += 1
                return rule.kind
        return None

    def _draw(self, rule: int, seen: int) -> float:
        digest = hashlib.blake2b(struct.pack(">II", rule, seen), digest_size=8, key=self._key).digest()
        return struct.unpack(">Q", digest)[0] / 2**64

    def latency_ms(self, method: str) -> float:
        latency = self._latency
        return latency.get(method, latency["*"])

    def describe(self) -> dict:
        with self._lock:
            return {"faults": [rule.describe() for rule in self._rules], "latency_ms": dict(self._latency)}
