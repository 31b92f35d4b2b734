"""One statistics snapshot per channel per fetch: the history that shows growth."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime


class ChannelSnapshot(SQLModel, table=True):
    __tablename__ = "channel_snapshots"
    __table_args__ = (
        # A redelivered fetch of the same run must not add a second snapshot.
        sa.UniqueConstraint("channel_id", "run_id", name="uq_snapshots_channel_run"),
        sa.Index("ix_snapshots_channel_fetched", "channel_id", "fetched_at"),
        sa.Index("ix_snapshots_fetched", "fetched_at"),
        sa.Index("ix_snapshots_run", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    channel_id: str = Field(max_length=24)
    run_id: str | None = Field(default=None, max_length=64)
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    view_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    subscriber_count: int | None = Field(default=None, sa_type=sa.BigInteger)
    hidden_subscriber_count: bool = False
    video_count: int | None = Field(default=None, sa_type=sa.BigInteger)
