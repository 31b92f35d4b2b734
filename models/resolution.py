"""What an input resolved to, shared by every run (the resolution cache), and how that changed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime, utcnow


class Resolution(SQLModel, table=True):
    __tablename__ = "resolutions"
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", name="uq_resolutions_key"),
        sa.Index("ix_resolutions_resolved", "resolved_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: str = Field(max_length=16)
    value: str
    dedupe_key: str = Field(max_length=64)
    channel_id: str = Field(max_length=24)
    method: str = Field(max_length=32)  # forHandle, forUsername, videos.list, playlists.list, search
    confidence: str = Field(max_length=16)  # certain / probable
    resolved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)  # last confirmed
    first_resolved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResolutionChange(SQLModel, table=True):
    """An input that used to point at one channel and now points at another; the old mapping is kept."""

    __tablename__ = "resolution_changes"
    __table_args__ = (sa.Index("ix_resolution_changes_key", "dedupe_key", "changed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: str = Field(max_length=16)
    value: str
    dedupe_key: str = Field(max_length=64)
    old_channel_id: str | None = Field(default=None, max_length=24)
    new_channel_id: str | None = Field(default=None, max_length=24)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    run_id: str | None = Field(default=None, max_length=64)
