"""Keys, projects and quota: who may call, what each call costs, and what has been spent.

A key is *valid*, *invalid* (``API_KEY_INVALID``), *disabled* (``SERVICE_DISABLED``) or missing.
Units are charged to the key's project for the Pacific day of the emulator's clock. What is billed:

- a valid key's request costs its method's units (search 100, the rest 1), whatever the answer:
  200, 400 for a bad parameter, 404, and also the emulator's injected 5xx, 429, 403 rate limits
  and dropped connections, which cost 1 unit (the API bills failed calls at least 1 unit);
- a request refused for quota (real or injected) costs nothing: it never reached the method;
- missing, invalid and disabled keys cost nothing (there is no project to bill) but are counted.

Keys are never stored in the usage report: they appear by fingerprint only.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from emulator.config import EmulatorConfig
from emulator.ids import fingerprint

VALID, INVALID, DISABLED, MISSING = "valid", "invalid", "disabled", "missing"

COSTS = {
    "channels.list": 1,
    "videos.list": 1,
    "playlists.list": 1,
    "playlistItems.list": 1,
    "search.list": 100,
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
        self.limit = config.quota_per_key
        self._open = not config.keys
        self._invalid = set(config.invalid_keys)
        self._disabled = set(config.disabled_keys)
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
            self._spent: dict[tuple[str, str], int] = {}
            self._projects_seen: dict[str, set[str]] = {}
            self._units_total = 0
            self._requests_total = 0
            self._by_key: dict[str, dict] = {}
            self._by_method: dict[str, dict] = {}
            self._by_status: dict[str, int] = {}
            self._by_verb: dict[str, int] = {}

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
            elif self._open or key in self._valid:
                status = VALID
            else:
                status = INVALID
            project = None
            if status in (VALID, DISABLED):
                project = self._project_of.get(key) or f"project-{fingerprint(key)}"
            info = KeyInfo(status, fingerprint(key), project)
            if len(self._info) < 100_000:  # open mode takes any key: keep the cache bounded
                self._info[key] = info
        return info

    # --- quota ---------------------------------------------------------------------------------------
    def has_room(self, project: str, day: str, cost: int) -> bool:
        with self._lock:
            return self._spent.get((project, day), 0) + cost <= self.limit

    def record(
        self, info: KeyInfo, method: str, day: str, units: int, status: int, verb: str = "GET"
    ) -> None:
        """Count one answered request and charge ``units`` to the key's project for ``day``."""
        with self._lock:
            self._requests_total += 1
            self._units_total += units
            code = str(status) if status else "dropped"
            self._by_status[code] = self._by_status.get(code, 0) + 1
            # GET, or POST for the form google-api-python-client sends when a URI passes 2,048 characters.
            self._by_verb[verb] = self._by_verb.get(verb, 0) + 1
            per_method = self._by_method.get(method)
            if per_method is None:
                per_method = self._by_method[method] = {"units": 0, "requests": 0}
            per_method["units"] += units
            per_method["requests"] += 1
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
                }
            per_key["units"] += units
            per_key["requests"] += 1
            per_key["by_status"][code] = per_key["by_status"].get(code, 0) + 1
            key_method = per_key["by_method"].get(method)
            if key_method is None:
                key_method = per_key["by_method"][method] = {"units": 0, "requests": 0}
            key_method["units"] += units
            key_method["requests"] += 1
            if info.project is not None and info.status == VALID:
                self._projects_seen.setdefault(info.project, set()).add(info.fingerprint)
                if units:
                    bucket = (info.project, day)
                    self._spent[bucket] = self._spent.get(bucket, 0) + units

    def report(self, day: str, resets_at: str) -> dict:
        """The ``GET /_emulator/usage`` document."""
        with self._lock:
            projects = {}
            for name, fps in sorted(self._projects_seen.items()):
                used = self._spent.get((name, day), 0)
                projects[name] = {
                    "keys": sorted(fps),
                    "units_today": used,
                    "remaining_today": max(0, self.limit - used),
                }
            return {
                "units_total": self._units_total,
                "requests_total": self._requests_total,
                "by_key": {
                    fp: {
                        **data,
                        "by_method": {m: dict(v) for m, v in data["by_method"].items()},
                        "by_status": dict(data["by_status"]),
                    }
                    for fp, data in self._by_key.items()
                },
                "by_method": {m: dict(v) for m, v in self._by_method.items()},
                "by_status": dict(self._by_status),
                "by_verb": dict(self._by_verb),
                "quota": {
                    "day": day,
                    "resets_at": resets_at,
                    "limit_per_project": self.limit,
                    "projects": projects,
                },
            }
