"""Initial schema: workflows, drafts, versions, runs, steps, events, journal, checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    """Text ordered byte-wise on every backend (``COLLATE "C"`` on PostgreSQL)."""
    return sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", _key(), nullable=False),
        sa.Column("slug", _key(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("slug", name=op.f("uq_workflows_slug")),
    )
    op.create_index("ix_workflows_owner_slug", "workflows", ["owner", "slug"])

    op.create_table(
        "drafts",
        sa.Column("workflow_id", _key(), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("dsl", sa.Text(), nullable=True),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_drafts_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_drafts")),
    )

    op.create_table(
        "versions",
        sa.Column("workflow_id", _key(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("dsl", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_versions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "number", name=op.f("pk_versions")),
    )

    op.create_table(
        "runs",
        sa.Column("id", _key(), nullable=False),
        sa.Column("workflow_id", _key(), nullable=False),
        sa.Column("workflow_slug", sa.Text(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.Text(), nullable=False),
        sa.Column("trigger_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.Column("parent_run_id", _key(), nullable=True),
        sa.Column("rerun_of", _key(), nullable=True),
        sa.Column("rerun_from_node", sa.Text(), nullable=True),
        sa.Column("thread_id", sa.Text(), nullable=True),
        sa.Column("user", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("started_at", _ts(), nullable=True),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_workflow_id_created_at", "runs", ["workflow_id", "created_at"])
    op.create_index("ix_runs_status_created_at", "runs", ["status", "created_at"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])

    op.create_table(
        "steps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", _key(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("iteration", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("route", sa.Text(), nullable=True),
        sa.Column("started_at", _ts(), nullable=True),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_steps_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
        sa.UniqueConstraint(
            "run_id", "node_id", "iteration", name=op.f("uq_steps_run_id_node_id_iteration")
        ),
    )

    op.create_table(
        "events",
        sa.Column("run_id", _key(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=True),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_events")),
    )

    op.create_table(
        "journal",
        sa.Column("run_id", _key(), nullable=False),
        sa.Column("key", _key(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_journal_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_journal")),
    )

    # LangGraph checkpoints (workspace.store.checkpointer.SqlCheckpointSaver)
    op.create_table(
        "lg_checkpoints",
        sa.Column("thread_id", _key(), nullable=False),
        sa.Column("checkpoint_ns", _key(), nullable=False),
        sa.Column("checkpoint_id", _key(), nullable=False),
        sa.Column("parent_checkpoint_id", _key(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.LargeBinary(), nullable=False),
        sa.Column("metadata_type", sa.Text(), nullable=False),
        sa.Column("metadata", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "thread_id", "checkpoint_ns", "checkpoint_id", name=op.f("pk_lg_checkpoints")
        ),
    )
    op.create_table(
        "lg_checkpoint_blobs",
        sa.Column("thread_id", _key(), nullable=False),
        sa.Column("checkpoint_ns", _key(), nullable=False),
        sa.Column("channel", _key(), nullable=False),
        sa.Column("version", _key(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint(
            "thread_id", "checkpoint_ns", "channel", "version", name=op.f("pk_lg_checkpoint_blobs")
        ),
    )
    op.create_table(
        "lg_checkpoint_writes",
        sa.Column("thread_id", _key(), nullable=False),
        sa.Column("checkpoint_ns", _key(), nullable=False),
        sa.Column("checkpoint_id", _key(), nullable=False),
        sa.Column("task_id", _key(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("task_path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "thread_id",
            "checkpoint_ns",
            "checkpoint_id",
            "task_id",
            "idx",
            name=op.f("pk_lg_checkpoint_writes"),
        ),
    )


def downgrade() -> None:
    op.drop_table("lg_checkpoint_writes")
    op.drop_table("lg_checkpoint_blobs")
    op.drop_table("lg_checkpoints")
    op.drop_table("journal")
    op.drop_table("events")
    op.drop_table("steps")
    op.drop_index("ix_runs_parent_run_id", table_name="runs")
    op.drop_index("ix_runs_status_created_at", table_name="runs")
    op.drop_index("ix_runs_workflow_id_created_at", table_name="runs")
    op.drop_index("ix_runs_created_at", table_name="runs")
    op.drop_table("runs")
    op.drop_table("versions")
    op.drop_table("drafts")
    op.drop_index("ix_workflows_owner_slug", table_name="workflows")
    op.drop_table("workflows")
