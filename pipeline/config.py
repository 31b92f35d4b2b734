"""One settings class, read from the environment (and ``.env``).

Services come all or none: with none of ``BROKER_URL``, ``REDIS_URL`` and ``DATABASE_URL`` set,
ytcollect runs embedded (an in-process broker and worker, an in-process Redis stand-in, SQLite);
with all three it uses them. A mix is refused (``require_one_service_mode``): each process would
otherwise invent its own Redis, or write synthetic channels into a real database.

The YouTube side is separate: the bundled emulator when nothing names an API (embedded only), the
API at ``YOUTUBE_API_URL`` (the real one by default) with ``YT_API_KEYS`` otherwise.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.errors import ConfigurationError

REAL_YOUTUBE_API_URL = "https://youtube.googleapis.com"
REAL_YOUTUBE_FEED_URL = "https://www.youtube.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- services -----------------------------------------------------------------------------
    broker_url: str | None = Field(default=None, description="amqp://user:pass@host:5672/vhost")
    redis_url: str | None = Field(default=None, description="redis://host:6379/0")
    database_url: str | None = Field(
        default=None, description="postgresql://…, postgresql+psycopg://… or sqlite:///path"
    )
    yt_api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated YouTube Data API keys"
    )
    youtube_api_url: str | None = Field(
        default=None, description="API host root; the real API unless set (the emulator when embedded)"
    )
    embedded_dir: str | None = Field(
        default=None,
        description="where the embedded mode keeps its SQLite database; default: the user's data directory "
        "(platformdirs: ~/.local/share/ytcollect on Linux), so every folder sees the same runs",
    )

    # --- quota ----------------------------------------------------------------------------------
    quota_daily_units_per_key: int = Field(
        default=10_000, ge=1, description="default-bucket units a key's project gets per Pacific day"
    )
    quota_daily_budget: int | None = Field(
        default=None,
        ge=0,
        description="cap on default-bucket units per key per Pacific day spent by ytcollect",
    )
    quota_interactive_reserve: int = Field(
        default=1_000,
        ge=0,
        description="default-bucket units per key kept for interactive runs; system runs stop short of it",
    )
    quota_search_calls_per_key: int = Field(
        default=100,
        ge=0,
        description="search.list calls a key's project gets per Pacific day (its own bucket)",
    )
    quota_search_interactive_reserve: int = Field(
        default=20,
        ge=0,
        description="search.list calls per key kept for interactive work; system work stops short of them",
    )
    quota_stats_units_per_key: int = Field(
        default=10_000,
        ge=0,
        description="videos.batchGetStats units a key's project gets per Pacific day (its own bucket)",
    )
    quota_stats_interactive_reserve: int = Field(
        default=1_000,
        ge=0,
        description="video_stats units per key kept for interactive runs; re-poll passes stop short of them",
    )

    # --- resolution and freshness ---------------------------------------------------------------
    metadata_freshness_hours: float = Field(default=24.0, ge=0)
    resolution_cache_days: float = Field(default=7.0, ge=0)
    negative_cache_hours: float = Field(
        default=24.0,
        ge=0,
        description="a handle, username, custom name, video or playlist not found is not asked again for "
        "this long (0: always ask); reresolve and the run option recheck_misses ask again",
    )
    default_search_budget: int = Field(
        default=10,
        ge=0,
        description="search.list calls a run with allow_search may make unless it sets search_budget",
    )

    # --- recent videos -------------------------------------------------------------------------
    recent_videos: int = Field(
        default=30,
        ge=0,
        le=50,
        description="newest uploads per channel a run follows unless it sets recent_videos",
    )
    video_discovery: Literal["playlist", "feed"] = Field(
        default="playlist",
        description="playlist: one playlistItems.list page (1 unit) per channel; feed: the public feed "
        "(no key, no quota), falling back to the playlist when it cannot account for the channel's uploads",
    )
    youtube_feed_url: str | None = Field(
        default=None,
        description="host root serving /feeds/videos.xml; default www.youtube.com, or the API URL when "
        "YOUTUBE_API_URL names another host (the emulator serves both)",
    )
    video_stats_batch_get: bool = Field(
        default=True,
        description="read statistics with videos:batchGetStats (its own bucket), else videos.list",
    )
    uploads_batch_size: int = Field(
        default=20, ge=1, le=200, description="channels per check_uploads message"
    )
    shorts_max_seconds: int = Field(default=180, ge=1, description="a video this short or shorter is a Short")
    shorts_playlist_check: bool = Field(
        default=False, description="also read each channel's UUSH… Shorts playlist (1 unit a channel)"
    )
    video_poll_young_hours: float = Field(
        default=48.0, gt=0, description="videos younger than this are young"
    )
    video_poll_young_every_hours: float = Field(default=6.0, gt=0)
    video_poll_daily_until_days: float = Field(default=30.0, gt=0, description="polled daily until this age")
    video_poll_weekly_until_days: float = Field(
        default=180.0, gt=0, description="polled weekly until this age, then never (tracked videos excepted)"
    )
    video_fixed_age_tolerance_hours: float = Field(
        default=6.0, ge=0, description="a read this close to 24 h or 7 d of age is kept as views at that age"
    )
    video_repoll_cron: str = "47 * * * *"
    video_repoll_max_videos: int = Field(
        default=50_000, ge=0, description="videos one re-poll pass reads at most"
    )

    # --- input bounds ---------------------------------------------------------------------------
    max_input_length: int = Field(default=2_048, ge=1)
    max_inputs_per_run: int = Field(default=100_000, ge=1)

    # --- retries and HTTP -----------------------------------------------------------------------
    http_timeout_seconds: float = Field(default=15.0, gt=0)
    client_max_attempts: int = Field(default=4, ge=1, description="tries per API call, transient errors only")
    client_backoff_base_seconds: float = Field(default=0.25, ge=0)
    client_backoff_max_seconds: float = Field(default=4.0, ge=0)
    actor_max_retries: int = Field(default=5, ge=0)
    actor_min_backoff_ms: int = Field(default=1_000, ge=0)
    actor_max_backoff_ms: int = Field(default=60_000, ge=0)
    actor_time_limit_ms: int = Field(default=300_000, ge=1_000)
    max_eta_seconds: int = Field(
        default=300,
        ge=1,
        description="a message whose eta is further ahead (and beyond ACTOR_MAX_BACKOFF_MS) is refused: "
        "held in a consumer's prefetch it would stall its queue",
    )
    normalize_time_limit_ms: int = Field(
        default=1_200_000,
        ge=1_000,
        description="normalize's work grows with the run (100,000 lines parsed and inserted, ~10 s here; its "
        "fan-out goes in parts); keep it under RabbitMQ's 30-minute consumer timeout",
    )
    resolve_batch_size: int = Field(default=50, ge=1, le=50)
    resolve_lookups_per_message: int = Field(
        default=10,
        ge=1,
        le=100,
        description="handles, usernames and custom URLs per resolve message: its load, commit and publish "
        "are paid once for all of them",
    )
    resolve_lookup_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="lookups of one resolve message asked at the same time (each waits on the API's latency)",
    )
    metadata_batch_size: int = Field(default=50, ge=1, le=50)

    # --- the broker (RabbitMQ) ----------------------------------------------------------------------
    broker_heartbeat_seconds: int = Field(
        default=10,
        ge=0,
        le=600,
        description="AMQP heartbeat asked for on every connection: RabbitMQ drops the consumer of a host it "
        "cannot reach after about this long and redelivers what that host held (0: the server's, 60 s)",
    )
    worker_queue_prefetch: int = Field(
        default=0,
        ge=0,
        le=65_535,
        description="messages each worker process holds unacknowledged per queue (0: Dramatiq's 2 x threads)",
    )
    broker_max_priority: int = Field(
        default=3,
        ge=0,
        le=10,
        description="x-max-priority of every queue: interactive runs' messages overtake system runs' "
        "(0: plain queues, as declared before priorities; changing it means re-declaring the queues)",
    )

    # --- discovery (keyword search for new channels) ----------------------------------------------
    discovery_searches_per_cycle: int = Field(
        default=10, ge=1, le=500, description="search.list calls a cycle may make unless its watchlist says"
    )
    discovery_daily_searches: int = Field(
        default=60,
        ge=0,
        le=1_000_000,
        description="search.list calls per Pacific day all discovery cycles together may make",
    )
    discovery_manual_reserve: int = Field(
        default=15,
        ge=0,
        le=1_000_000,
        description="of those, calls kept for manual cycles: scheduled and event cycles stop short of them",
    )
    discovery_cron: str = "*/10 * * * *"

    # --- events ---------------------------------------------------------------------------------
    run_finished_queue: str = "run_finished"
    discovery_finished_queue: str = "discovery_finished"

    # --- schedules ------------------------------------------------------------------------------
    refresh_interval_hours: float = Field(default=24.0, gt=0)
    refresh_cron: str = "17 * * * *"
    reresolve_cron: str = "37 3 * * *"
    reconcile_cron: str = "* * * * *"
    purge_cron: str = "7 4 * * *"
    reconcile_stuck_after_seconds: int = Field(default=600, ge=1)
    api_call_retention_days: int = Field(default=90, ge=1)
    snapshot_retention_days: int = Field(default=365, ge=1)
    channel_data_max_age_days: int = Field(
        default=30,
        ge=1,
        description="YouTube policy: stored channel data is refreshed or deleted within 30 days",
    )

    # --- observability --------------------------------------------------------------------------
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9191
    log_level: str = "INFO"
    log_json: bool = Field(default=False, description="one JSON object per log line (for log shippers)")

    # --- the HTTP API (ytcollect serve) ---------------------------------------------------------
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated origins allowed to call the API from a browser"
    )
    api_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1_024, description="larger bodies are 413")

    @field_validator("yt_api_keys", "api_cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def embedded(self) -> bool:
        """True when no external service is configured: the one-process mode."""
        return not (self.broker_url or self.redis_url or self.database_url)

    @property
    def uses_bundled_emulator(self) -> bool:
        """Embedded with no API named: the bundled emulator on a free loopback port, any key."""
        return self.embedded and not self.yt_api_keys and self.youtube_api_url is None

    def require_one_service_mode(self) -> None:
        """Refuse a half-configured process, with one line naming what is missing."""
        services = {
            "BROKER_URL": self.broker_url,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
        }
        named = [name for name, value in services.items() if value]
        if named and len(named) < len(services):
            missing = [name for name in services if name not in named]
            raise ConfigurationError(
                f"{' and '.join(named)} {'is' if len(named) == 1 else 'are'} set but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not: name all three services, or none for the embedded mode"
            )
        if self.youtube_api_url and not self.yt_api_keys:
            raise ConfigurationError(
                "YOUTUBE_API_URL is set but YT_API_KEYS is empty: give the keys that API expects"
            )

    def require_worker_ready(self) -> None:
        """A ``dramatiq`` worker never starts an emulator or a Redis of its own, and needs keys."""
        self.require_one_service_mode()
        if self.embedded:
            raise ConfigurationError(
                "a dramatiq worker needs BROKER_URL, REDIS_URL and DATABASE_URL; "
                "without them use `ytcollect run`, which runs everything in one process"
            )
        if not self.yt_api_keys:
            raise ConfigurationError("YT_API_KEYS is empty: a worker needs at least one YouTube Data API key")

    @property
    def feed_url(self) -> str:
        """Where channel feeds are read: YOUTUBE_FEED_URL, else the API's host when it is not the real one."""
        if self.youtube_feed_url:
            return self.youtube_feed_url.rstrip("/")
        api = (self.youtube_api_url or REAL_YOUTUBE_API_URL).rstrip("/")
        return REAL_YOUTUBE_FEED_URL if api == REAL_YOUTUBE_API_URL else api.removesuffix("/youtube/v3")

    @property
    def embedded_path(self) -> Path:
        """The embedded mode's folder: EMBEDDED_DIR, else the user's data directory (not the cwd)."""
        if self.embedded_dir:
            return Path(self.embedded_dir).expanduser().absolute()
        from platformdirs import user_data_path

        return user_data_path("ytcollect", appauthor=False)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in SQLAlchemy's dialect form (psycopg 3 for PostgreSQL)."""
        url = self.database_url or f"sqlite:///{self.embedded_path / 'ytcollect.db'}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; an invalid value is one ConfigurationError line."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe_invalid_settings(exc)) from None


def describe_invalid_settings(exc: ValidationError) -> str:
    """``REFRESH_INTERVAL_HOURS=0: Input should be greater than 0`` (every bad variable, one line)."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
        value = error.get("input")
        shown = (
            f"={value}"
            if isinstance(value, str | int | float) and "KEY" not in name and "URL" not in name
            else ""
        )
        problems.append(f"{name}{shown}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)
