"""What a lookup did not find, shared by every run (the negative cache), so a repeat spends nothing on it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import UTCDateTime
from models.resolution import KIND_COLUMN
from pipeline.inputs import InputKind


class LookupMiss(SQLModel, table=True):
    __tablename__ = "lookup_misses"

    dedupe_key: str = Field(primary_key=True, max_length=64)  # the job's key: kind and normalized value
    kind: InputKind = Field(sa_type=KIND_COLUMN)
    value: str
    error_code: str = Field(max_length=32)  # not_found, or needs_search for a custom name
    reason: str  # the sentence the failed job said, said again by the jobs it answers
    missed_at: datetime = Field(sa_type=UTCDateTime, index=True)
