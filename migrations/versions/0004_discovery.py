"""discovery: watchlists, cycles and their searches, stored discoveries, the daily search budget

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:28:10.336113
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_budget_days",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "discovery_cycles",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("watchlist_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("watchlist_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("search_budget", sa.Integer(), nullable=False),
        sa.Column("searches_used", sa.Integer(), nullable=False),
        sa.Column("waiting_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("waiting_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("resends", sa.Integer(), nullable=False),
        sa.Column("lease_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_event_sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("discovery_cycles", schema=None) as batch_op:
        batch_op.create_index("ix_discovery_cycles_owner", ["owner_id", "created_at"], unique=False)
        batch_op.create_index("ix_discovery_cycles_status", ["status"], unique=False)
        batch_op.create_index("ix_discovery_cycles_watchlist", ["watchlist_id", "created_at"], unique=False)

    op.create_table(
        "watchlists",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("owner_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("relevance_language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("published_within_days", sa.Integer(), nullable=True),
        sa.Column("include_channels", sa.Boolean(), nullable=False),
        sa.Column("interval_hours", sa.Integer(), nullable=True),
        sa.Column("keywords_per_cycle", sa.Integer(), nullable=True),
        sa.Column("search_budget", sa.Integer(), nullable=True),
        sa.Column("start_runs", sa.Boolean(), nullable=False),
        sa.Column("keyword_cursor", sa.Integer(), nullable=False),
        sa.Column("next_due_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name", name="uq_watchlists_owner_name"),
    )
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.create_index("ix_watchlists_due", ["next_due_at"], unique=False)

    op.create_table(
        "discoveries",
        sa.Column("watchlist_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("first_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("cycles", sa.Integer(), nullable=False),
        sa.Column("first_cycle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("last_cycle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("watchlist_id", "keyword", "channel_id"),
    )
    with op.batch_alter_table("discoveries", schema=None) as batch_op:
        batch_op.create_index("ix_discoveries_channel", ["watchlist_id", "channel_id"], unique=False)

    op.create_table(
        "discovery_searches",
        sa.Column("cycle_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.Column(
            "hits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("searched_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cycle_id"], ["discovery_cycles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cycle_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("discovery_searches")
    with op.batch_alter_table("discoveries", schema=None) as batch_op:
        batch_op.drop_index("ix_discoveries_channel")

    op.drop_table("discoveries")
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.drop_index("ix_watchlists_due")

    op.drop_table("watchlists")
    with op.batch_alter_table("discovery_cycles", schema=None) as batch_op:
        batch_op.drop_index("ix_discovery_cycles_watchlist")
        batch_op.drop_index("ix_discovery_cycles_status")
        batch_op.drop_index("ix_discovery_cycles_owner")

    op.drop_table("discovery_cycles")
    op.drop_table("discovery_budget_days")
