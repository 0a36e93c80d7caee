"""Memory: facts and episodes of agents (scoped per owner space), channel identities, and
who wrote a draft (agent-written drafts).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("author", sa.Text(), nullable=True))
    op.create_table(
        "memory_items",
        sa.Column("id", _key(), nullable=False),
        sa.Column("space", _key(), nullable=False),
        sa.Column("scope", _key(), nullable=False),
        sa.Column("scope_key", _key(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", _key(), nullable=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("source_run", _key(), nullable=True),
        sa.Column("source_node", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_items")),
        sa.UniqueConstraint(
            "space", "scope", "scope_key", "key", name=op.f("uq_memory_items_space_scope_scope_key_key")
        ),
    )
    op.create_index(
        "ix_memory_items_address_updated",
        "memory_items",
        ["space", "scope", "scope_key", "updated_at"],
    )
    op.create_table(
        "memory_identities",
        sa.Column("space", _key(), nullable=False),
        sa.Column("channel", _key(), nullable=False),
        sa.Column("external_id", _key(), nullable=False),
        sa.Column("user_id", _key(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint(
            "space", "channel", "external_id", name=op.f("pk_memory_identities")
        ),
    )
    op.create_index(
        "ix_memory_identities_space_user", "memory_identities", ["space", "user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_memory_identities_space_user", table_name="memory_identities")
    op.drop_table("memory_identities")
    op.drop_index("ix_memory_items_address_updated", table_name="memory_items")
    op.drop_table("memory_items")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("author")
