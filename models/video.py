"""Videos of tracked channels and their statistics over time.

A video row holds what is known of it (title, publish time, duration, whether it is a Short and how
that was decided) and its latest counts, so per-channel aggregates are one indexed query; every
statistics read also appends a snapshot, the history that shows growth.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime, utcnow


class ShortMethod(StrEnum):
    """What decided ``is_short``."""

    DURATION = "duration"  # duration <= SHORTS_MAX_SECONDS (180 s, YouTube's limit since October 2024)
    SHORTS_PLAYLIST = "shorts_playlist"  # listed (or not) in the channel's UUSH… playlist


class Video(SQLModel, table=True):
    __tablename__ = "videos"
    __table_args__ = (
        sa.Index("ix_videos_channel_published", "channel_id", "published_at"),
        sa.Index("ix_videos_stats_at", "stats_at"),
    )

    id: str = Field(primary_key=True, max_length=16)
    channel_id: str = Field(max_length=24)
    title: str | None = None  # from videos.list, once (None until then)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # may lie ahead: a premiere
    added_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # joined the uploads playlist
    duration_seconds: int | None = None
    is_short: bool | None = None
    short_method: str | None = Field(default=None, max_length=32)  # a ShortMethod
    tracked: bool = False  # registered by hand: polled past the age cap
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # gone from a stats answer
    details_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # title fetched
    # The latest statistics (the newest snapshot's), 64-bit.
    view_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    like_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    comment_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    stats_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Views at fixed ages, kept when a read happened near them (VIDEO_FIXED_AGE_TOLERANCE_HOURS).
    views_24h: int | None = Field(default=None, sa_type=sa.BigInteger)
    views_7d: int | None = Field(default=None, sa_type=sa.BigInteger)
    last_run_id: str | None = Field(default=None, max_length=64)


class VideoSnapshot(SQLModel, table=True):
    """One statistics read of a video (once per run: a redelivered batch adds nothing)."""

    __tablename__ = "video_snapshots"
    __table_args__ = (
        sa.UniqueConstraint("video_id", "run_id", name="uq_video_snapshots_video_run"),
        sa.Index("ix_video_snapshots_video_fetched", "video_id", "fetched_at"),
        sa.Index("ix_video_snapshots_fetched", "fetched_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    video_id: str = Field(max_length=16)
    run_id: str | None = Field(default=None, max_length=64)
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    view_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    like_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    comment_count: int | None = Field(default=None, sa_type=sa.BigInteger)
