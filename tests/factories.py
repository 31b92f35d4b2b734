"""Plain factory functions for tests: settings, contexts, clocks and inputs drawn from the emulator."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.config import Settings


class TestClock:
    """A clock tests can move; thread-safe because worker threads read it."""

    __test__ = False

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()
        self._offset = timedelta()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "actor_max_retries": 3,
        "actor_min_backoff_ms": 100,
        "actor_max_backoff_ms": 500,
        "client_backoff_base_seconds": 0.01,
        "client_backoff_max_seconds": 0.05,
        "http_timeout_seconds": 5.0,
        # The channel part's tests count its units exactly; the video part's tests ask for it.
        "recent_videos": 0,
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def new_run_id() -> str:
    return str(uuid.uuid4())


def inputs_of_every_kind(catalogue: list[dict[str, Any]]) -> dict[str, str]:
    """One input per kind, each on a different channel, plus duplicates and bad lines, from catalogue entries."""
    live = [c for c in catalogue if not c["terminated"] and c["handle"] and c["handle"].isascii()]
    used: set[str] = set()

    def pick(ok: Any) -> dict[str, Any]:
        entry = next(c for c in live if c["id"] not in used and ok(c))
        used.add(entry["id"])
        return entry

    handle = pick(lambda c: True)
    channel = pick(lambda c: True)
    user = pick(lambda c: c.get("username"))
    custom = pick(lambda c: c.get("custom_name") == c["handle"])  # the common case: custom URL = handle
    video = pick(lambda c: c["video_ids"])
    playlist = pick(lambda c: c["playlist_ids"])
    dead = [c for c in catalogue if c["terminated"]]
    return {
        "handle": f"https://www.youtube.com/@{handle['handle']}/videos",
        "handle_dup": f"@{handle['handle'].upper()}",
        "channel_id": f"https://www.youtube.com/channel/{channel['id']}",
        "channel_same_as_handle": handle["id"],
        "username": f"https://www.youtube.com/user/{user['username']}",
        "custom_url": f"https://www.youtube.com/c/{custom['custom_name']}",
        "video": f"https://youtu.be/{video['video_ids'][0]}?si=x",
        "playlist": f"https://www.youtube.com/playlist?list={playlist['playlist_ids'][0]}",
        "missing_handle": "@no-such-handle-anywhere",
        "terminated": dead[0]["id"] if dead else "UCAAAAAAAAAAAAAAAAAAAAAA",
        "invalid": "javascript:alert(1)",
    }
