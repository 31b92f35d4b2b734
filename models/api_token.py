"""A bearer token of the HTTP API: stored as its SHA-256 hash only, named by a short fingerprint."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId, UTCDateTime, utcnow


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
        sa.UniqueConstraint("fingerprint", name="uq_api_tokens_fingerprint"),
        sa.Index("ix_api_tokens_owner", "owner_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    owner_id: str = Field(max_length=200)
    # sha256 of the token: tokens carry 256 random bits, so a fast hash is enough (no password stretching).
    token_hash: str = Field(max_length=64)
    fingerprint: str = Field(max_length=16)  # first hex digits of the hash: how operators name a token
    admin: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
