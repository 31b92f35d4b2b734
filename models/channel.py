"""The latest known metadata and statistics of a channel."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class Channel(SQLModel, table=True):
    __tablename__ = "channels"
    __table_args__ = (sa.Index("ix_channels_fetched", "fetched_at"), sa.Index("ix_channels_handle", "handle"))

    id: str = Field(primary_key=True, max_length=24)
    title: str = ""
    description: str = ""
    handle: str | None = Field(default=None, max_length=200)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    country: str | None = Field(default=None, max_length=8)
    thumbnail_url: str | None = None
    uploads_playlist_id: str | None = Field(default=None, max_length=64)
    view_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    subscriber_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    hidden_subscriber_count: bool = False
    video_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_run_id: str | None = Field(default=None, max_length=64)
    # The last upload check: when, and the videoCount it saw (the feed must account for any change).
    uploads_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uploads_checked_video_count: int | None = Field(default=None, sa_type=sa.BigInteger)
