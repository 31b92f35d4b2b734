"""How an emulator is set up: catalogue size and seed, keys and their projects, quota, latency."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass
class EmulatorConfig:
    """Settings of one emulator.

    ``keys``: the valid API keys; when empty the emulator runs *open* and takes any non-empty key
    that is not listed as invalid, disabled or restricted (the demo's mode). ``invalid_keys`` answer
    ``API_KEY_INVALID``; ``disabled_keys`` answer ``accessNotConfigured`` (``SERVICE_DISABLED``);
    ``restricted_keys`` and ``referrer_blocked_keys`` answer 403 ``forbidden`` with
    ``API_KEY_SERVICE_BLOCKED`` and ``API_KEY_HTTP_REFERRER_BLOCKED`` (keys restricted to other APIs
    or to other websites).

    Quota, per Google Cloud project per Pacific day, in three buckets (as the API has since June
    2026): ``quota_per_key`` units in ``default`` (every method but the two below),
    ``search_quota_per_key`` calls in ``search`` (``search.list``, 1 a call) and
    ``stats_quota_per_key`` units in ``video_stats`` (``videos.batchGetStats``, 1 a call). Every key
    is its own project unless ``projects`` groups keys (``{"p1": ["k1", "k2"]}``) or
    ``same_project`` puts every configured key in one project; keys of a project share its buckets.

    ``start_time``: when given (timezone-aware), the clock is frozen there and moves only when
    told (``advance_clock``, ``POST /_emulator/clock``); otherwise it follows real time.

    The facts youtube-api.md marks *(assumed)* are settings, so a client can be tested against
    either answer:

    - ``hidden_subscriber_mode``: a hidden subscriber count is left out (``"omit"``) or ``"0"``
      (``"zero"``);
    - ``quota_exceeded_body``: a spent bucket answers the one verbatim body (``"same"``) or names
      its bucket in the message (``"per_bucket"``; reason and domain stay ``quotaExceeded``,
      ``youtube.quota``);
    - ``handle_case_sensitive``: ``forHandle`` matches in any case (False) or only the handle as
      ``customUrl`` shows it, lowercased (True); with or without ``@`` either way.
    """

    seed: int = 7
    channels: int = 2000
    keys: list[str] = field(default_factory=list)
    invalid_keys: list[str] = field(default_factory=list)
    disabled_keys: list[str] = field(default_factory=list)
    restricted_keys: list[str] = field(default_factory=list)
    referrer_blocked_keys: list[str] = field(default_factory=list)
    quota_per_key: int = 10_000
    search_quota_per_key: int = 100
    stats_quota_per_key: int = 10_000
    latency_ms: float = 0
    projects: dict[str, list[str]] | None = None
    same_project: bool = False
    hidden_subscriber_mode: Literal["omit", "zero"] = "omit"
    quota_exceeded_body: Literal["same", "per_bucket"] = "same"
    handle_case_sensitive: bool = False
    start_time: datetime | None = None

    def __post_init__(self) -> None:
        if self.hidden_subscriber_mode not in ("omit", "zero"):
            raise ValueError("hidden_subscriber_mode must be 'omit' or 'zero'")
        if self.quota_exceeded_body not in ("same", "per_bucket"):
            raise ValueError("quota_exceeded_body must be 'same' or 'per_bucket'")
        for name in ("quota_per_key", "search_quota_per_key", "stats_quota_per_key"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
