"""The original input lines of a run, in order, each pointing at the job it became."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import BigIntId


class RunInput(SQLModel, table=True):
    __tablename__ = "run_inputs"
    __table_args__ = (sa.Index("ix_run_inputs_job", "job_id"),)

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=64)
    line_no: int = Field(primary_key=True)  # 1-based position in channel_inputs
    text: str  # as sent, cut to the input length limit
    job_id: int | None = Field(default=None, sa_type=BigIntId)
