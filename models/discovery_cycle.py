"""One discovery cycle: a watchlist's (or an ad-hoc list's) keywords searched once, finished once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONColumn, UTCDateTime, utcnow


class CycleStatus(StrEnum):
    PENDING = "PENDING"  # recorded, not started
    RUNNING = "RUNNING"
    WAITING_QUOTA = "WAITING_QUOTA"  # parked until waiting_until (the search bucket or the budget is spent)
    FINISHED = "FINISHED"  # once, with its summary (or its error) and one discovery_finished event


class CycleTrigger(StrEnum):
    SCHEDULED = "scheduled"  # the periodic discover_due
    EVENT = "event"  # a `discover` message from a backend
    MANUAL = "manual"  # the CLI or the Python API (a person waiting): may use the manual share


OPEN_CYCLE_STATUSES = (CycleStatus.PENDING, CycleStatus.RUNNING, CycleStatus.WAITING_QUOTA)


class DiscoveryCycle(SQLModel, table=True):
    __tablename__ = "discovery_cycles"
    __table_args__ = (
        sa.Index("ix_discovery_cycles_status", "status"),
        sa.Index("ix_discovery_cycles_watchlist", "watchlist_id", "created_at"),
        sa.Index("ix_discovery_cycles_owner", "owner_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=64)  # chosen by the sender; the cycle is idempotent on it
    owner_id: str = Field(max_length=200)
    watchlist_id: str | None = Field(default=None, max_length=36)  # None: ad-hoc keywords
    watchlist_name: str | None = Field(default=None, max_length=100)  # as it was named for this cycle
    trigger: CycleTrigger = Field(sa_type=sa.String(16))
    status: CycleStatus = Field(default=CycleStatus.PENDING, sa_type=sa.String(16))
    keywords: list[str] = Field(default_factory=list, sa_type=JSONColumn)  # fixed when recorded
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)  # region, language, window...
    search_budget: int = 0  # search.list calls this cycle may make
    searches_used: int = 0  # calls claimed so far (each one before it is sent)
    waiting_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    waiting_reason: str | None = Field(default=None, max_length=300)
    error: str | None = Field(default=None, max_length=2000)  # why the cycle was rejected or gave up
    run_id: str | None = Field(default=None, max_length=64)  # the run started for the new channels
    resends: int = 0  # times reconcile had to send the cycle again
    lease_until: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # a delivery works on it till then
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_event_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSONColumn)
