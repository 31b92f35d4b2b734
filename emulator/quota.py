"""Keys, projects and quota by bucket: who may call, what each call costs, and what has been spent.

A key is *valid*, *invalid* (``API_KEY_INVALID``), *disabled* (``SERVICE_DISABLED``), restricted
(``API_KEY_SERVICE_BLOCKED``, ``API_KEY_HTTP_REFERRER_BLOCKED``) or missing.
Units are charged to the key's project, in the bucket of the method, for the Pacific day of the
emulator's clock. The buckets (the API's since June 2026): ``default`` (10,000 units, every method
but these two), ``search`` (``search.list``: 100 calls, 1 a call) and ``video_stats``
(``videos.batchGetStats``: 10,000 units, 1 a call). A spent bucket refuses its own methods only.
What is billed:

- a valid key's request costs its method's units, whatever the answer: 200, 400 for a bad
  parameter, 404, and also the emulator's injected 5xx, 429, 403 rate limits and dropped
  connections (the API bills failed calls);
- a request refused for quota (real or injected) costs nothing: it never reached the method;
- missing, invalid, disabled and restricted keys cost nothing but are counted.

Keys are never stored in the usage report: they appear by fingerprint only.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from emulator.config import EmulatorConfig
from emulator.ids import fingerprint

VALID, INVALID, DISABLED, MISSING = "valid", "invalid", "disabled", "missing"
SERVICE_BLOCKED, REFERRER_BLOCKED = "service_blocked", "referrer_blocked"  # restricted keys

DEFAULT, SEARCH, VIDEO_STATS = "default", "search", "video_stats"
BUCKETS = (DEFAULT, SEARCH, VIDEO_STATS)
# method -> (bucket, units a call)
METHODS: dict[str, tuple[str, int]] = {
    "channels.list": (DEFAULT, 1),
    "videos.list": (DEFAULT, 1),
    "playlists.list": (DEFAULT, 1),
    "playlistItems.list": (DEFAULT, 1),
    "search.list": (SEARCH, 1),
    "videos.batchGetStats": (VIDEO_STATS, 1),
}


@dataclass(frozen=True)
class KeyInfo:
    status: str
    fingerprint: str
    project: str | None


def project_number(project: str) -> str:
    """A 12-digit Google Cloud project number, stable for a project name."""
    return str(int(hashlib.sha256(project.encode()).hexdigest()[:12], 16) % 10**12).rjust(12, "1")


class QuotaBook:
    """Key validity, per-project daily buckets and the usage report. Thread-safe."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.limits = {
            DEFAULT: config.quota_per_key,
            SEARCH: config.search_quota_per_key,
            VIDEO_STATS: config.stats_quota_per_key,
        }
        self._open = not config.keys
        self._invalid = set(config.invalid_keys)
        self._disabled = set(config.disabled_keys)
        self._blocked = dict.fromkeys(config.restricted_keys, SERVICE_BLOCKED)
        self._blocked.update(dict.fromkeys(config.referrer_blocked_keys, REFERRER_BLOCKED))
        self._valid = set(config.keys)
        self._project_of: dict[str, str] = {}
        for key in config.keys:
            self._project_of[key] = "default" if config.same_project else f"project-{fingerprint(key)}"
        for name, keys in (config.projects or {}).items():
            for key in keys:
                self._project_of[key] = name
                if not self._open:
                    self._valid.add(key)
        self._info: dict[str, KeyInfo] = {}
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._spent: dict[tuple[str, str, str], int] = {}  # (project, bucket, day) -> units
            self._projects_seen: dict[str, set[str]] = {}
            self._requests_total = 0
            self._by_key: dict[str, dict] = {}
            self._by_method: dict[str, dict] = {}
            self._by_status: dict[str, int] = {}
            self._by_verb: dict[str, int] = {}
            self._feeds: dict[str, int] = {}  # status -> requests of the public feed (no key, no quota)
            self._buckets: dict[str, dict] = {
                name: {"units_total": 0, "requests_total": 0, "by_method": {}, "by_key": {}}
                for name in BUCKETS
            }

    # --- keys ----------------------------------------------------------------------------------------
    def key_info(self, key: str | None) -> KeyInfo:
        if not key:
            return KeyInfo(MISSING, "", None)
        info = self._info.get(key)
        if info is None:
            if key in self._invalid:
                status = INVALID
            elif key in self._disabled:
                status = DISABLED
            elif key in self._blocked:
                status = self._blocked[key]
            elif self._open or key in self._valid:
                status = VALID
            else:
                status = INVALID
            project = None
            if status in (VALID, DISABLED, SERVICE_BLOCKED, REFERRER_BLOCKED):
                project = self._project_of.get(key) or f"project-{fingerprint(key)}"
            info = KeyInfo(status, fingerprint(key), project)
            if len(self._info) < 100_000:  # open mode takes any key: keep the cache bounded
                self._info[key] = info
        return info

    # --- quota ---------------------------------------------------------------------------------------
    def has_room(self, project: str, bucket: str, day: str, cost: int) -> bool:
        with self._lock:
            return self._spent.get((project, bucket, day), 0) + cost <= self.limits[bucket]

    def record(
        self, info: KeyInfo, method: str, day: str, units: int, status: int, verb: str = "GET"
    ) -> None:
        """Count one answered request and charge ``units`` to the key's project, in the method's bucket."""
        bucket_name = METHODS[method][0]
        with self._lock:
            self._requests_total += 1
            code = str(status) if status else "dropped"
            self._by_status[code] = self._by_status.get(code, 0) + 1
            # GET, or POST for the form google-api-python-client sends when a URI passes 2,048 characters.
            self._by_verb[verb] = self._by_verb.get(verb, 0) + 1
            _count(self._by_method, method, units)
            bucket = self._buckets[bucket_name]
            bucket["units_total"] += units
            bucket["requests_total"] += 1
            _count(bucket["by_method"], method, units)
            if not info.fingerprint:
                return
            per_key = self._by_key.get(info.fingerprint)
            if per_key is None:
                per_key = self._by_key[info.fingerprint] = {
                    "units": 0,
                    "requests": 0,
                    "status": info.status,
                    "project": info.project,
                    "by_method": {},
                    "by_status": {},
                    "buckets": dict.fromkeys(BUCKETS, 0),
                }
            if bucket_name == DEFAULT:
                per_key["units"] += units
            per_key["requests"] += 1
            per_key["buckets"][bucket_name] += units
            per_key["by_status"][code] = per_key["by_status"].get(code, 0) + 1
            _count(per_key["by_method"], method, units)
            bucket_key = bucket["by_key"].get(info.fingerprint)
            if bucket_key is None:
                bucket_key = bucket["by_key"][info.fingerprint] = {"units": 0, "requests": 0, "by_method": {}}
            bucket_key["units"] += units
            bucket_key["requests"] += 1
            _count(bucket_key["by_method"], method, units)
            if info.project is not None and info.status == VALID:
                self._projects_seen.setdefault(info.project, set()).add(info.fingerprint)
                if units:
                    spent = (info.project, bucket_name, day)
                    self._spent[spent] = self._spent.get(spent, 0) + units

    def record_feed(self, status: int) -> None:
        """Count one request of the public feed (``/feeds/videos.xml``): no key, nothing billed."""
        code = str(status) if status else "dropped"
        with self._lock:
            self._feeds[code] = self._feeds.get(code, 0) + 1

    def report(self, day: str, resets_at: str) -> dict:
        """The ``GET /_emulator/usage`` document (see ``app.py``'s docstring for its shape)."""
        with self._lock:
            projects = {}
            per_bucket_projects: dict[str, dict] = {name: {} for name in BUCKETS}
            for name, fps in sorted(self._projects_seen.items()):
                buckets = {}
                for bucket in BUCKETS:
                    used = self._spent.get((name, bucket, day), 0)
                    buckets[bucket] = {
                        "units_today": used,
                        "remaining_today": max(0, self.limits[bucket] - used),
                    }
                    per_bucket_projects[bucket][name] = {"keys": sorted(fps), **buckets[bucket]}
                projects[name] = {"keys": sorted(fps), **buckets[DEFAULT], "buckets": buckets}
            return {
                "units_total": self._buckets[DEFAULT]["units_total"],
                "requests_total": self._requests_total,
                "by_key": {
                    fp: {
                        **data,
                        "by_method": _copy(data["by_method"]),
                        "by_status": dict(data["by_status"]),
                        "buckets": dict(data["buckets"]),
                    }
                    for fp, data in self._by_key.items()
                },
                "by_method": _copy(self._by_method),
                "by_status": dict(self._by_status),
                "by_verb": dict(self._by_verb),
                "feeds": {"requests": sum(self._feeds.values()), "by_status": dict(self._feeds)},
                "buckets": {
                    name: {
                        "limit_per_project": self.limits[name],
                        "units_total": data["units_total"],
                        "requests_total": data["requests_total"],
                        "by_method": _copy(data["by_method"]),
                        "by_key": {
                            fp: {
                                "units": k["units"],
                                "requests": k["requests"],
                                "by_method": _copy(k["by_method"]),
                            }
                            for fp, k in data["by_key"].items()
                        },
                        "projects": per_bucket_projects[name],
                    }
                    for name, data in self._buckets.items()
                },
                "quota": {
                    "day": day,
                    "resets_at": resets_at,
                    "limit_per_project": self.limits[DEFAULT],
                    "limits": dict(self.limits),
                    "projects": projects,
                },
            }


def _count(table: dict[str, dict], method: str, units: int) -> None:
    entry = table.get(method)
    if entry is None:
        entry = table[method] = {"units": 0, "requests": 0}
    entry["units"] += units
    entry["requests"] += 1


def _copy(table: dict[str, dict]) -> dict[str, dict]:
    return {name: dict(value) for name, value in table.items()}
