"""A run's video work: one upload check per channel, then statistics in shared 50-id batches.

Both are rows so the database stays the truth for how far a run's video part has come: a stage
moves a row out of its open states with a guarded update, reconcile resends rows left open too
long, and a run finishes only once none is open.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONColumn, UTCDateTime, utcnow


class VideoTaskStatus(StrEnum):
    PENDING = "PENDING"
    WAITING_QUOTA = "WAITING_QUOTA"
    DONE = "DONE"
    NO_VIDEOS = "NO_VIDEOS"  # the uploads playlist answered playlistNotFound: no public videos
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


OPEN_TASK_STATUSES = frozenset({VideoTaskStatus.PENDING, VideoTaskStatus.WAITING_QUOTA})


class RunVideoChannel(SQLModel, table=True):
    """The upload check of one channel for one run (one playlistItems page, or the public feed)."""

    __tablename__ = "run_video_channels"
    __table_args__ = (sa.Index("ix_run_video_channels_status", "run_id", "status"),)

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=64)
    channel_id: str = Field(primary_key=True, max_length=24)
    status: VideoTaskStatus = Field(default=VideoTaskStatus.PENDING, sa_type=sa.String(16))
    method: str | None = Field(default=None, max_length=16)  # "playlist" | "feed"
    feed_fallback: str | None = Field(default=None, max_length=32)  # why the feed was not enough
    new_videos: int = 0
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=1000)
    waiting_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RunVideoBatch(SQLModel, table=True):
    """Up to 50 video ids whose statistics one call reads, formed once the run's uploads are known."""

    __tablename__ = "run_video_batches"
    __table_args__ = (sa.Index("ix_run_video_batches_status", "run_id", "status"),)

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=64)
    batch_no: int = Field(primary_key=True)
    video_ids: list[Any] = Field(default_factory=list, sa_type=JSONColumn)
    status: VideoTaskStatus = Field(default=VideoTaskStatus.PENDING, sa_type=sa.String(16))
    method: str | None = Field(default=None, max_length=32)  # "batchGetStats" | "videos.list"
    removed: int = 0
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=1000)
    waiting_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
