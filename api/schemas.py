"""Request and response bodies of the HTTP API: what ``/openapi.json`` promises and every answer keeps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    by_bucket: dict[str, Any]
    calls_by_method: dict[str, int]


class Health(BaseModel):
    status: str


class ServiceState(BaseModel):
    ok: bool
    detail: str
    latency_ms: float


class Ready(BaseModel):
    status: str
    services: dict[str, ServiceState]
