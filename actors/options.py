"""Retry settings shared by the stage actors (read once, from Settings)."""

from typing import Any

from pipeline.config import get_settings

_settings = get_settings()

STAGE_OPTIONS: dict[str, Any] = {
    "max_retries": _settings.actor_max_retries,
    "min_backoff": _settings.actor_min_backoff_ms,
    "max_backoff": _settings.actor_max_backoff_ms,
    "time_limit": _settings.actor_time_limit_ms,
    "on_retry_exhausted": "retries_exhausted",
}
