"""A run: one request from a backend to collect a list of channel inputs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONColumn, UTCDateTime, utcnow


class RunKind(StrEnum):
    INTERACTIVE = "interactive"  # asked for by a backend or a person
    SYSTEM = "system"  # started by the scheduler (refresh, re-resolve); never uses the interactive reserve


class RunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELLED = "CANCELLED"


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        sa.Index("ix_runs_owner_created", "owner_id", "created_at"),
        sa.Index("ix_runs_status", "status"),
    )

    id: str = Field(primary_key=True, max_length=64)  # chosen by the sender (a UUID)
    analysis_id: str = Field(max_length=200)
    owner_id: str = Field(max_length=200)
    status: RunStatus = Field(default=RunStatus.PENDING, sa_type=sa.String(16))
    kind: RunKind = Field(default=RunKind.INTERACTIVE, sa_type=sa.String(16))
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)
    parent_run_id: str | None = Field(default=None, max_length=64)  # a retry's original run
    raw_inputs: list[str] | None = Field(default=None, sa_type=JSONColumn)  # until normalize has split them
    total_inputs: int = 0
    total_jobs: int = 0
    error: str | None = Field(default=None, max_length=2000)  # why a run was rejected outright
    waiting_quota_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    metadata_dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # resolution barrier
    # The video part: uploads checks dispatched (all jobs ended), statistics batches formed (uploads known).
    videos_dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    video_stats_dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_event_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSONColumn)
    # analysis_id / owner_id the sender gave as JSON integers (the columns above hold their digits).
    given_ids: dict[str, int] | None = Field(default=None, sa_type=JSONColumn)

    def sent_id(self, name: str) -> str | int:
        """``analysis_id`` or ``owner_id`` with the JSON type it came with, to echo back to the sender."""
        return cast("str | int", (self.given_ids or {}).get(name, getattr(self, name)))
