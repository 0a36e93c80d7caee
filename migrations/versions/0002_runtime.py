"""Runtime: run leases and wake-ups, users, API keys, workers, webhook deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lease_until", _ts(), nullable=True))
        batch.add_column(sa.Column("wake_at", _ts(), nullable=True))
    op.create_index("ix_runs_status_lease_until", "runs", ["status", "lease_until"])
    op.create_index("ix_runs_wake_at", "runs", ["wake_at"])

    op.create_table(
        "users",
        sa.Column("id", _key(), nullable=False),
        sa.Column("name", _key(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _key(), nullable=False),
        sa.Column("user_id", _key(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", _key(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("last_used_at", _ts(), nullable=True),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "workers",
        sa.Column("id", _key(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("heartbeat_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_table(
        "deliveries",
        sa.Column("workflow_id", _key(), nullable=False),
        sa.Column("trigger_id", _key(), nullable=False),
        sa.Column("key", _key(), nullable=False),
        sa.Column("run_id", _key(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "trigger_id", "key", name=op.f("pk_deliveries")),
    )
    op.create_index("ix_deliveries_expires_at", "deliveries", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_expires_at", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("workers")
    op.drop_index("ix_api_keys_user_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_index("ix_runs_wake_at", table_name="runs")
    op.drop_index("ix_runs_status_lease_until", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("wake_at")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
