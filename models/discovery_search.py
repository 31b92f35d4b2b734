"""One keyword of a discovery cycle: its search, claimed against the budgets before it is sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONColumn, UTCDateTime


class SearchStatus(StrEnum):
    PENDING = "PENDING"
    SEARCHING = "SEARCHING"  # a call was claimed; a redelivery claims again before it calls again
    DONE = "DONE"
    SKIPPED = "SKIPPED"  # the cycle's search budget was spent before this keyword
    FAILED = "FAILED"  # the API refused the search for good (a 400)


FINAL_SEARCH_STATUSES = (SearchStatus.DONE, SearchStatus.SKIPPED, SearchStatus.FAILED)


class DiscoverySearch(SQLModel, table=True):
    __tablename__ = "discovery_searches"

    cycle_id: str = Field(
        primary_key=True, foreign_key="discovery_cycles.id", ondelete="CASCADE", max_length=64
    )
    position: int = Field(primary_key=True)  # the keyword's place in the cycle's list
    keyword: str = Field(max_length=200)
    status: SearchStatus = Field(default=SearchStatus.PENDING, sa_type=sa.String(16))
    attempts: int = 0  # claims so far: guards two deliveries racing for the same keyword
    results: int = 0  # items the search answered
    # channel id -> {"videos": n, "channel": bool}: what the search found behind each channel
    hits: dict[str, Any] | None = Field(default=None, sa_type=JSONColumn)
    error: str | None = Field(default=None, max_length=300)
    searched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
