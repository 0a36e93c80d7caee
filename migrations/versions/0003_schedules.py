"""Schedules: the runtime state of ``trigger_schedule`` nodes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", _key(), nullable=False),
        sa.Column("workflow_id", _key(), nullable=False),
        sa.Column("workflow_slug", _key(), nullable=False),
        sa.Column("trigger_id", _key(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config_hash", sa.Text(), nullable=False),
        sa.Column("next_fire_at", _ts(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("retry_at", _ts(), nullable=True),
        sa.Column("retry_slot", _ts(), nullable=True),
        sa.Column("last_fire_at", _ts(), nullable=True),
        sa.Column("last_run_id", _key(), nullable=True),
        sa.Column("last_status", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("in_flight", sa.JSON(), nullable=False),
        sa.Column("wake_at", _ts(), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_schedules_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint(
            "workflow_id", "trigger_id", name=op.f("uq_schedules_workflow_id_trigger_id")
        ),
    )
    op.create_index("ix_schedules_wake_at", "schedules", ["wake_at"])
    op.create_index(
        "ix_schedules_workflow_slug_trigger_id", "schedules", ["workflow_slug", "trigger_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_schedules_workflow_slug_trigger_id", table_name="schedules")
    op.drop_index("ix_schedules_wake_at", table_name="schedules")
    op.drop_table("schedules")
