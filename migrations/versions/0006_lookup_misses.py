"""lookup_misses: the negative cache of handles, usernames, custom names, videos and playlists not found

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:45:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_misses",
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("missed_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dedupe_key"),
    )
    op.create_index(op.f("ix_lookup_misses_missed_at"), "lookup_misses", ["missed_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lookup_misses_missed_at"), table_name="lookup_misses")
    op.drop_table("lookup_misses")
