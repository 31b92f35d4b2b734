"""runs.given_ids: analysis_id and owner_id as the sender gave them, when they were JSON integers

A backend that sends ``"analysis_id": 77`` expects 77, not "77", back in status and run_finished.
The text columns keep the string form (what owner isolation compares); this keeps the integers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("given_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("given_ids")
