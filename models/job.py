"""A job: one unique ``(kind, value)`` of a run, followed from input to channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime, utcnow
from models.resolution import KIND_COLUMN, Confidence
from pipeline.inputs import InputKind


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RESOLVING = "RESOLVING"
    FETCHING = "FETCHING"
    WAITING_QUOTA = "WAITING_QUOTA"
    DONE = "DONE"
    FAILED = "FAILED"
    NEEDS_SEARCH = "NEEDS_SEARCH"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.NEEDS_SEARCH, JobStatus.CANCELLED})
OPEN_STATUSES = frozenset(JobStatus) - TERMINAL_STATUSES


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "dedupe_key", name="uq_jobs_run_dedupe"),
        sa.Index("ix_jobs_run_status", "run_id", "status"),
        sa.Index("ix_jobs_status_updated", "status", "updated_at"),
        sa.Index("ix_jobs_channel", "channel_id"),
    )

    # Never None once the row exists (the database assigns it on insert); typed so the stages need no casts.
    id: int = Field(default=None, primary_key=True, sa_type=BigIntId)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", max_length=64)
    kind: InputKind = Field(sa_type=KIND_COLUMN)
    value: str  # normalized; for an invalid input, its trimmed text (cut short)
    dedupe_key: str = Field(max_length=64)  # sha256 of kind and value: keeps the unique index small
    first_line_no: int
    status: JobStatus = Field(default=JobStatus.PENDING, sa_type=sa.String(16))
    channel_id: str | None = Field(default=None, max_length=24)
    method: str | None = Field(default=None, max_length=32)  # a ResolutionMethod, "cache:"-prefixed on a hit
    confidence: Confidence | None = Field(default=None, sa_type=sa.String(16))
    note: str | None = Field(default=None, max_length=500)  # e.g. "bare word read as a handle"
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=1000)
    waiting_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
