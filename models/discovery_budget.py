"""Search calls discovery made per Pacific day, shared by every watchlist (durable: a Redis flush cannot reset it)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class DiscoveryBudgetDay(SQLModel, table=True):
    __tablename__ = "discovery_budget_days"

    day: str = Field(primary_key=True, max_length=10)  # the Pacific date, YYYY-MM-DD
    searches: int = 0  # calls claimed (each before it was sent); released when none was sent
