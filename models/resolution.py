"""What an input resolved to, shared by every run (the resolution cache), and how that changed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime, utcnow
from pipeline.inputs import InputKind


class ResolutionMethod(StrEnum):
    """How an input was turned into a channel id (the API call that answered, or none)."""

    CHANNEL_ID = "channel_id"  # the input was the id itself
    FOR_HANDLE = "forHandle"
    FOR_USERNAME = "forUsername"
    VIDEOS_LIST = "videos.list"
    PLAYLISTS_LIST = "playlists.list"
    SEARCH = "search"


# A job an earlier run's resolution answered stores "cache:" + the method that found it then.
CACHE_PREFIX = "cache:"


class Confidence(StrEnum):
    CERTAIN = "certain"  # an exact API filter (or the id itself) matched
    PROBABLE = "probable"  # a custom URL matched a handle or username of that name, or a search hit


# Columns keep plain VARCHARs (no database enum type): a new member needs no migration.
KIND_COLUMN = sa.String(16)


class Resolution(SQLModel, table=True):
    __tablename__ = "resolutions"
    __table_args__ = (
        sa.UniqueConstraint("dedupe_key", name="uq_resolutions_key"),
        sa.Index("ix_resolutions_resolved", "resolved_at"),
    )

    id: int = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: InputKind = Field(sa_type=KIND_COLUMN)
    value: str
    dedupe_key: str = Field(max_length=64)
    channel_id: str = Field(max_length=24)
    method: ResolutionMethod = Field(sa_type=sa.String(32))
    confidence: Confidence = Field(sa_type=sa.String(16))
    resolved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)  # last confirmed
    first_resolved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResolutionChange(SQLModel, table=True):
    """An input that used to point at one channel and now points at another; the old mapping is kept."""

    __tablename__ = "resolution_changes"
    __table_args__ = (sa.Index("ix_resolution_changes_key", "dedupe_key", "changed_at"),)

    id: int = Field(default=None, primary_key=True, sa_type=BigIntId)
    kind: InputKind = Field(sa_type=KIND_COLUMN)
    value: str
    dedupe_key: str = Field(max_length=64)
    old_channel_id: str | None = Field(default=None, max_length=24)
    new_channel_id: str | None = Field(default=None, max_length=24)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    run_id: str | None = Field(default=None, max_length=64)
