"""Every YouTube API call: what it cost, which key (by fingerprint) and how it ended."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime


class ApiCall(SQLModel, table=True):
    __tablename__ = "api_calls"
    __table_args__ = (sa.Index("ix_api_calls_run", "run_id"), sa.Index("ix_api_calls_at", "at"))

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    at: datetime = Field(sa_type=UTCDateTime)
    endpoint: str = Field(max_length=40)
    key_fingerprint: str | None = Field(default=None, max_length=16)
    units: int
    outcome: str = Field(max_length=64)
    http_status: int | None = None
    latency_ms: float = 0.0
    attempt: int = 1
    run_id: str | None = Field(default=None, max_length=64)
