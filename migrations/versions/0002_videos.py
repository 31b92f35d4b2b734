"""videos, video snapshots, a run's video work (upload checks, statistics batches)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:26:08.450958
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "video_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("fetched_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("view_count", sa.BigInteger(), nullable=True),
        sa.Column("like_count", sa.BigInteger(), nullable=True),
        sa.Column("comment_count", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("video_id", "run_id", name="uq_video_snapshots_video_run"),
    )
    with op.batch_alter_table("video_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_video_snapshots_fetched", ["fetched_at"], unique=False)
        batch_op.create_index("ix_video_snapshots_video_fetched", ["video_id", "fetched_at"], unique=False)

    op.create_table(
        "videos",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("published_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("added_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("is_short", sa.Boolean(), nullable=True),
        sa.Column("short_method", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("tracked", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("details_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("view_count", sa.BigInteger(), nullable=True),
        sa.Column("like_count", sa.BigInteger(), nullable=True),
        sa.Column("comment_count", sa.BigInteger(), nullable=True),
        sa.Column("stats_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("views_24h", sa.BigInteger(), nullable=True),
        sa.Column("views_7d", sa.BigInteger(), nullable=True),
        sa.Column("last_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.create_index("ix_videos_channel_published", ["channel_id", "published_at"], unique=False)
        batch_op.create_index("ix_videos_stats_at", ["stats_at"], unique=False)

    op.create_table(
        "run_video_batches",
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column(
            "video_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("error_message", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("waiting_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "batch_no"),
    )
    with op.batch_alter_table("run_video_batches", schema=None) as batch_op:
        batch_op.create_index("ix_run_video_batches_status", ["run_id", "status"], unique=False)

    op.create_table(
        "run_video_channels",
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("feed_fallback", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("new_videos", sa.Integer(), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("error_message", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("waiting_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "channel_id"),
    )
    with op.batch_alter_table("run_video_channels", schema=None) as batch_op:
        batch_op.create_index("ix_run_video_channels_status", ["run_id", "status"], unique=False)

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("uploads_checked_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("uploads_checked_video_count", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("videos_dispatched_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("video_stats_dispatched_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("video_stats_dispatched_at")
        batch_op.drop_column("videos_dispatched_at")

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("uploads_checked_video_count")
        batch_op.drop_column("uploads_checked_at")

    with op.batch_alter_table("run_video_channels", schema=None) as batch_op:
        batch_op.drop_index("ix_run_video_channels_status")

    op.drop_table("run_video_channels")
    with op.batch_alter_table("run_video_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_run_video_batches_status")

    op.drop_table("run_video_batches")
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_index("ix_videos_stats_at")
        batch_op.drop_index("ix_videos_channel_published")

    op.drop_table("videos")
    with op.batch_alter_table("video_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_video_snapshots_video_fetched")
        batch_op.drop_index("ix_video_snapshots_fetched")

    op.drop_table("video_snapshots")
