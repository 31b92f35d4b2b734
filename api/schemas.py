"""Request and response bodies of the HTTP API: what ``/openapi.json`` promises and every answer keeps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.discovery.requests import (
    CYCLE_OPTIONS,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_NAME_LENGTH,
    WATCHLIST_SETTINGS,
)
from pipeline.stages.requests import RUN_OPTIONS


class ErrorBody(BaseModel):
    """Every error: one sentence a person can act on."""

    detail: str


class StartRun(BaseModel):
    """The ``start_run`` fields. ``run_id`` is optional: give your own UUID to make the call idempotent."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None = Field(default=None, min_length=1, max_length=64)
    analysis_id: str = Field(min_length=1, max_length=200)
    channel_inputs: list[str] = Field(description="URLs, @handles, channel ids, video or playlist links")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="run options, checked like the start_run message's: "
        + ", ".join(f"`{name}`" for name in sorted(RUN_OPTIONS)),
    )


class RunAccepted(BaseModel):
    run_id: str
    run_status: str
    created: bool = Field(description="false when a run with this run_id already existed (a resend)")
    status_url: str
    events_url: str


class RunStatusOut(BaseModel):
    run_id: str
    analysis_id: str | int  # as the run's sender gave it (an AMQP backend may send integers)
    owner_id: str | int
    run_status: str
    kind: str
    progress: float = Field(ge=0, le=1)
    status_counts: dict[str, int]
    total_inputs: int
    total_jobs: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    quota_units: dict[str, Any]
    waiting_quota_until: str | None
    waiting_quota: dict[str, Any] = Field(
        default_factory=dict,
        description='parked work by the quota bucket it waits for: {"search": {"waiting": n, "resumes_at": iso}}',
    )
    parent_run_id: str | None
    error: str | None
    counts_source: str
    summary: dict[str, Any] | None = None


class RunListItem(BaseModel):
    run_id: str
    analysis_id: str | int  # as the run's sender gave it (an AMQP backend may send integers)
    owner_id: str | int
    run_status: str
    kind: str
    progress: float = Field(ge=0, le=1)
    total_inputs: int
    total_jobs: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    parent_run_id: str | None
    error: str | None


class RunPage(BaseModel):
    items: list[RunListItem]
    total: int
    offset: int
    limit: int
    next_offset: int | None


class ResultRow(BaseModel):
    line: int
    input: str
    job_id: int | None
    kind: str | None
    value: str
    status: str | None
    channel_id: str | None
    method: str | None
    confidence: str | None
    note: str | None
    error_code: str | None
    error_message: str | None
    title: str | None
    handle: str | None
    subscribers: int | None
    views: int | None
    videos: int | None


class ResultPage(BaseModel):
    run_id: str
    items: list[ResultRow]
    offset: int
    limit: int
    next_offset: int | None


class Cancelled(BaseModel):
    run_id: str
    cancelled: bool = Field(description="false when the run had already ended")


class Retried(BaseModel):
    run_id: str
    retry_run_id: str | None = Field(description="the new run, or null when nothing needed a retry")


class RetryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_search: bool = False
    search_budget: int = Field(default=10, ge=0, le=100)


class Stats(BaseModel):
    scope: str
    owner_id: str | None
    runs_by_status: dict[str, int]
    runs_total: int
    jobs_by_status: dict[str, int]
    jobs_total: int
    success_rate: float | None
    mean_run_seconds: float | None
    days: int
    since: str
    quota_by_day: list[dict[str, Any]]
    quota_units_total: int


class Channel(BaseModel):
    channel_id: str
    title: str
    description: str
    handle: str | None
    country: str | None
    published_at: str | None
    thumbnail_url: str | None
    subscribers: int | None
    subscribers_hidden: bool
    views: int | None
    videos: int | None
    fetched_at: str
    first_seen_at: str
    runs: list[dict[str, Any]]


class HistoryPoint(BaseModel):
    period_start: str
    fetched_at: str
    subscribers: int | None
    subscribers_hidden: bool
    views: int | None
    videos: int | None
    subscriber_change: int | None
    view_change: int | None
    video_change: int | None


class ChannelHistory(BaseModel):
    channel_id: str
    interval: str
    since: str | None
    points: list[HistoryPoint]


class VideoItem(BaseModel):
    video_id: str
    channel_id: str
    title: str | None
    published_at: str | None
    duration_seconds: int | None
    is_short: bool | None
    short_method: str | None
    views: int | None
    likes: int | None
    comments: int | None
    stats_at: str | None
    views_24h: int | None
    views_7d: int | None
    tracked: bool
    removed_at: str | None


class ChannelVideos(BaseModel):
    channel_id: str
    videos: list[VideoItem]


class MetricsPoint(BaseModel):
    bucket: str
    views: int | None
    likes: int | None
    comments: int | None
    snapshots: int


class VideoMetrics(BaseModel):
    video: VideoItem
    interval: str
    days: int
    points: list[MetricsPoint]
    growth: dict[str, dict[str, Any]]
    derived: str


class Quota(BaseModel):
    day: str
    resets_at: str
    cap_per_key: int
    interactive_reserve: int
    units_left_interactive: int
    units_left_system: int
    keys: list[dict[str, Any]]
    buckets: dict[str, Any] = Field(
        description="per bucket: unit, cap_per_key, interactive_reserve, left_interactive, left_system"
    )
    by_bucket: dict[str, Any]
    calls_by_method: dict[str, int]


def _named(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{name}`" for name in names)


KEYWORDS_HELP = (
    f"at most {MAX_KEYWORDS} keywords of at most {MAX_KEYWORD_LENGTH} characters each "
    "(whitespace collapsed; blanks and repeats in any letter case dropped)"
)
# Documented in the schema, enforced by pipeline.discovery (so its sentence is the one answered).
_KEYWORD_LIST: dict[str, Any] = {"maxItems": MAX_KEYWORDS}


class NewWatchlist(BaseModel):
    """A named keyword set of the caller's; the name is unique per owner."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"at most {MAX_NAME_LENGTH} characters once whitespace is collapsed")
    keywords: list[str] = Field(description=KEYWORDS_HELP, json_schema_extra=_KEYWORD_LIST)
    settings: dict[str, Any] = Field(
        default_factory=dict, description="watchlist settings: " + _named(WATCHLIST_SETTINGS)
    )


class WatchlistEdit(BaseModel):
    """Changes to a watchlist, all or nothing. A setting set to null clears it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="a new name")
    keywords: list[str] | None = Field(
        default=None,
        description="all the keywords, replacing them; " + KEYWORDS_HELP,
        json_schema_extra=_KEYWORD_LIST,
    )
    add_keywords: list[str] | None = Field(default=None, json_schema_extra=_KEYWORD_LIST)
    remove_keywords: list[str] | None = Field(
        default=None,
        description="each must be in the watchlist (any letter case)",
        json_schema_extra=_KEYWORD_LIST,
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="settings to change: " + _named(WATCHLIST_SETTINGS)
    )


class WatchlistOut(BaseModel):
    id: str
    owner_id: str
    name: str
    keywords: list[str]
    region_code: str | None
    relevance_language: str | None
    published_within_days: int | None
    include_channels: bool
    interval_hours: int | None
    keywords_per_cycle: int | None
    search_budget: int | None
    start_runs: bool
    next_cycle_due_at: str | None
    created_at: str
    updated_at: str


class WatchlistList(BaseModel):
    items: list[WatchlistOut]


class DiscoveryRow(BaseModel):
    channel_id: str
    new: bool = Field(description="first found by the watchlist's latest finished cycle")
    keywords: list[str]
    hits: int
    cycles: int
    first_seen_at: str
    last_seen_at: str
    first_cycle_id: str
    score: float
    score_label: str
    title: str | None
    handle: str | None
    subscribers: int | None
    views: int | None
    videos: int | None


class DiscoveryPage(BaseModel):
    watchlist: str
    new_only: bool
    items: list[DiscoveryRow]
    total: int
    offset: int
    limit: int
    next_offset: int | None


class StartDiscovery(BaseModel):
    """A discovery cycle for one of the caller's watchlists, or for ad-hoc keywords (one, not both)."""

    model_config = ConfigDict(extra="forbid")

    cycle_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="your own UUID makes a resend harmless"
    )
    watchlist: str | None = Field(default=None, description="one of your watchlists, by name or id")
    keywords: list[str] | None = Field(
        default=None, description=KEYWORDS_HELP, json_schema_extra=_KEYWORD_LIST
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="this cycle's overrides: " + _named(CYCLE_OPTIONS)
    )


class DiscoveryAccepted(BaseModel):
    cycle_id: str
    status: str
    created: bool = Field(description="false when a cycle with this cycle_id already existed (a resend)")
    status_url: str


class CycleStatusOut(BaseModel):
    cycle_id: str
    owner_id: str
    watchlist_id: str | None
    watchlist: str | None
    trigger: str
    status: str
    keywords: list[str]
    progress: float = Field(ge=0, le=1)
    search_budget: int
    search_calls: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    waiting_quota_until: str | None
    waiting_reason: str | None
    run_id: str | None = Field(description="the run started for the new channels, when the cycle starts runs")
    error: str | None
    summary: dict[str, Any] | None = Field(
        default=None, description="once finished: what each keyword found, the channels (new first), scores"
    )


class Health(BaseModel):
    status: str


class ServiceState(BaseModel):
    ok: bool
    detail: str
    latency_ms: float


class Ready(BaseModel):
    status: str
    services: dict[str, ServiceState]
