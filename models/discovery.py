"""A stored discovery: a channel a watchlist's keyword found, when first and last, and how often."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class Discovery(SQLModel, table=True):
    __tablename__ = "discoveries"
    __table_args__ = (sa.Index("ix_discoveries_channel", "watchlist_id", "channel_id"),)

    watchlist_id: str = Field(
        primary_key=True, foreign_key="watchlists.id", ondelete="CASCADE", max_length=36
    )
    keyword: str = Field(primary_key=True, max_length=200)
    channel_id: str = Field(primary_key=True, max_length=24)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    hits: int = Field(default=0, sa_type=sa.BigInteger)  # videos (and the channel itself) found, all cycles
    cycles: int = 0  # cycles that found it
    first_cycle_id: str = Field(max_length=64)
    last_cycle_id: str = Field(max_length=64)  # also what makes a redelivered finish count once
