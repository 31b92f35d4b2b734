"""A watchlist: an owner's named set of search keywords, searched on a schedule, on an event or by hand."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONColumn, UTCDateTime, utcnow


class Watchlist(SQLModel, table=True):
    __tablename__ = "watchlists"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "name", name="uq_watchlists_owner_name"),
        sa.Index("ix_watchlists_due", "next_due_at"),
    )

    id: str = Field(primary_key=True, max_length=36)  # a UUID
    owner_id: str = Field(max_length=200)
    name: str = Field(max_length=100)
    keywords: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    region_code: str | None = Field(default=None, max_length=2)  # search.list regionCode (ISO 3166-1)
    relevance_language: str | None = Field(default=None, max_length=16)  # search.list relevanceLanguage
    published_within_days: int | None = None  # only videos published this recently (publishedAfter)
    include_channels: bool = True  # search type=video,channel (one call) rather than type=video
    interval_hours: int | None = None  # scheduled cycles this often; None: event and manual cycles only
    keywords_per_cycle: int | None = None  # a scheduled cycle searches this many, rotating; None: all
    search_budget: int | None = None  # search.list calls a cycle may make; None: the setting's default
    start_runs: bool = False  # start a run for each cycle's new channels, so they join the tracked set
    keyword_cursor: int = 0  # where the next scheduled cycle's keywords start (rotation)
    next_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
