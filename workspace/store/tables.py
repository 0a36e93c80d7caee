"""The database schema of Plait, as SQLAlchemy Core tables.

This module is the single description of the schema; ``migrations/`` (Alembic) creates it and the
drift test in ``tests/store/test_migrations.py`` proves the two agree on SQLite and PostgreSQL.
Product code never calls ``metadata.create_all``.

Portability rules: ids, slugs, hashes and free text are ``Text`` (no length to outgrow); JSON
values use the generic ``JSON`` type; datetimes are ``UTCDateTime`` (timezone-aware UTC in Python,
``timestamptz`` on PostgreSQL, ISO text on SQLite). Columns that are ordered or range-compared as
strings use :data:`Key`, which pins the byte-wise ``"C"`` collation on PostgreSQL so ordering is the
same as Python's whatever the database locale is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

__all__ = [
    "Json",
    "Key",
    "UTCDateTime",
    "api_keys",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoints",
    "credentials",
    "deliveries",
    "drafts",
    "events",
    "journal",
    "memory_identities",
    "memory_items",
    "metadata",
    "runs",
    "schedules",
    "steps",
    "users",
    "versions",
    "workers",
    "workflows",
    "workspace_meta",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; always read back tz-aware in UTC.

    Naive datetimes given to the database are taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: rows written by other tools
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Text compared and ordered byte-wise on every backend.
Key = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
#: A JSON document; Python ``None`` is stored as SQL NULL.
Json = JSON(none_as_null=True)
#: A 64-bit surrogate key that autoincrements on SQLite too (``INTEGER PRIMARY KEY`` there).
_SurrogateId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- workflows --------------------------------------------------------------------------------

workflows = Table(
    "workflows",
    metadata,
    Column("id", Key, primary_key=True),
    Column("slug", Key, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("tags", Json, nullable=False),
    Column("owner", Text, nullable=True),
    #: the number of the newest version (0 = none yet); bumped atomically by ``add_version``
    Column("latest_version", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("slug"),
    Index("ix_workflows_owner_slug", "owner", "slug"),
)

drafts = Table(
    "drafts",
    metadata,
    Column(
        "workflow_id",
        Key,
        ForeignKey("workflows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("graph", Json, nullable=False),
    Column("dsl", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    #: who wrote the draft when it was not its owner (e.g. ``agent:<workflow>.<node>``)
    Column("author", Text, nullable=True),
)

versions = Table(
    "versions",
    metadata,
    Column("workflow_id", Key, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("graph", Json, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("dsl", Text, nullable=True),
    Column("author", Text, nullable=True),
    Column("message", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("workflow_id", "number"),
)

# --- runs -------------------------------------------------------------------------------------

runs = Table(
    "runs",
    metadata,
    Column("id", Key, primary_key=True),
    # no foreign key: run history outlives a deleted workflow
    Column("workflow_id", Key, nullable=False),
    Column("workflow_slug", Text, nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("version_hash", Text, nullable=False),
    Column("trigger_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("input", Json, nullable=True),
    Column("output", Json, nullable=True),
    Column("error", Json, nullable=True),
    Column("pending", Json, nullable=True),
    Column("parent_run_id", Key, nullable=True),
    Column("rerun_of", Key, nullable=True),
    Column("rerun_from_node", Text, nullable=True),
    Column("thread_id", Text, nullable=True),
    Column("user", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    #: the ``seq`` of the run's newest event; bumped atomically by ``EventLog.append``
    Column("last_event_seq", Integer, nullable=False, default=0),
    #: who drives the run now (a worker id, ``queue``) and until when (``LeaseRepository``)
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    #: when a waiting run must be woken (wait deadline, human timeout)
    Column("wake_at", UTCDateTime, nullable=True),
    Index("ix_runs_created_at", "created_at"),
    Index("ix_runs_workflow_id_created_at", "workflow_id", "created_at"),
    Index("ix_runs_status_created_at", "status", "created_at"),
    Index("ix_runs_parent_run_id", "parent_run_id"),
    Index("ix_runs_status_lease_until", "status", "lease_until"),
    Index("ix_runs_wake_at", "wake_at"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", _SurrogateId, primary_key=True, autoincrement=True),
    Column("run_id", Key, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("node_id", Text, nullable=False),
    Column("iteration", Text, nullable=False, default=""),
    Column("attempt", Integer, nullable=False, default=1),
    Column("status", Text, nullable=False),
    Column("input", Json, nullable=True),
    Column("output", Json, nullable=True),
    Column("error", Json, nullable=True),
    Column("route", Text, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("tokens", Integer, nullable=True),
    Column("cost", Float, nullable=True),
    UniqueConstraint("run_id", "node_id", "iteration"),
)

events = Table(
    "events",
    metadata,
    Column("run_id", Key, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("workflow", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("node_id", Text, nullable=True),
    Column("ts", UTCDateTime, nullable=False),
    Column("data", Json, nullable=False),
    PrimaryKeyConstraint("run_id", "seq"),
)

journal = Table(
    "journal",
    metadata,
    Column("run_id", Key, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", Json, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)

# --- access and operations ---------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Key, primary_key=True),
    Column("name", Key, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Key, primary_key=True),
    Column("user_id", Key, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False, default=""),
    #: public part of the key, to find it by; the secret is only kept as a SHA-256 hash
    Column("prefix", Key, nullable=False),
    Column("hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    UniqueConstraint("prefix"),
    Index("ix_api_keys_user_id", "user_id"),
)

workers = Table(
    "workers",
    metadata,
    Column("id", Key, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("workflow_id", Key, nullable=False),
    Column("trigger_id", Key, nullable=False),
    #: the event-id header, or a hash of the body
    Column("key", Key, nullable=False),
    Column("run_id", Key, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("workflow_id", "trigger_id", "key"),
    Index("ix_deliveries_expires_at", "expires_at"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Key, primary_key=True),
    Column("name", Key, nullable=False),
    Column("kind", Text, nullable=False),
    Column("base_url", Text, nullable=True),
    Column("params", Json, nullable=False),
    Column("owner", Key, nullable=True),
    Column("demo", Boolean, nullable=False, default=False),
    #: the secret, Fernet-encrypted (workspace.vault); never the plaintext
    Column("ciphertext", Text, nullable=False),
    Column("hint", Text, nullable=False),
    Column("key_fingerprint", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("name"),
    Index("ix_credentials_owner", "owner"),
)

#: small facts about the workspace itself (e.g. the fingerprint of its secret key)
workspace_meta = Table(
    "workspace_meta",
    metadata,
    Column("key", Key, primary_key=True),
    Column("value", Text, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Key, primary_key=True),
    # a deleted workflow takes its schedules with it
    Column("workflow_id", Key, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("workflow_slug", Key, nullable=False),
    Column("trigger_id", Key, nullable=False),
    Column("version", Integer, nullable=False),
    Column("config_hash", Text, nullable=False),
    Column("next_fire_at", UTCDateTime, nullable=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("done", Boolean, nullable=False, default=False),
    Column("fires", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("retry_slot", UTCDateTime, nullable=True),
    Column("last_fire_at", UTCDateTime, nullable=True),
    Column("last_run_id", Key, nullable=True),
    Column("last_status", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    #: runs started and not yet seen finished: [{run_id, slot, kind, attempt, sent}]
    Column("in_flight", Json, nullable=False),
    #: when a scheduler must look at the schedule next (``Schedule.attention_at``)
    Column("wake_at", UTCDateTime, nullable=True),
    #: bumped by every write: the compare-and-set guard of ``ScheduleRepository.save``
    Column("rev", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("workflow_id", "trigger_id"),
    Index("ix_schedules_wake_at", "wake_at"),
    Index("ix_schedules_workflow_slug_trigger_id", "workflow_slug", "trigger_id"),
)

# --- LangGraph checkpoints (workspace.store.checkpointer) -------------------------------------

checkpoints = Table(
    "lg_checkpoints",
    metadata,
    Column("thread_id", Key, nullable=False),
    Column("checkpoint_ns", Key, nullable=False, default=""),
    Column("checkpoint_id", Key, nullable=False),
    Column("parent_checkpoint_id", Key, nullable=True),
    #: the checkpoint without ``channel_values`` (those live in ``lg_checkpoint_blobs``)
    Column("type", Text, nullable=False),
    Column("checkpoint", LargeBinary, nullable=False),
    Column("metadata_type", Text, nullable=False),
    Column("metadata", LargeBinary, nullable=False),
    PrimaryKeyConstraint("thread_id", "checkpoint_ns", "checkpoint_id"),
)

checkpoint_blobs = Table(
    "lg_checkpoint_blobs",
    metadata,
    Column("thread_id", Key, nullable=False),
    Column("checkpoint_ns", Key, nullable=False, default=""),
    Column("channel", Key, nullable=False),
    Column("version", Key, nullable=False),
    Column("type", Text, nullable=False),
    Column("blob", LargeBinary, nullable=True),
    PrimaryKeyConstraint("thread_id", "checkpoint_ns", "channel", "version"),
)

checkpoint_writes = Table(
    "lg_checkpoint_writes",
    metadata,
    Column("thread_id", Key, nullable=False),
    Column("checkpoint_ns", Key, nullable=False, default=""),
    Column("checkpoint_id", Key, nullable=False),
    Column("task_id", Key, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("channel", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("value", LargeBinary, nullable=True),
    Column("task_path", Text, nullable=False, default=""),
    PrimaryKeyConstraint("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
)

# --- memory (facts and episodes of agents and workflows; channel identities) -------------------

memory_items = Table(
    "memory_items",
    metadata,
    Column("id", Key, primary_key=True),
    #: the owner of the workflow that wrote it: owners never see each other's memory
    Column("space", Key, nullable=False),
    Column("scope", Key, nullable=False),
    Column("scope_key", Key, nullable=False),
    Column("kind", Text, nullable=False),
    #: facts: unique at their address; episodes: NULL
    Column("key", Key, nullable=True),
    Column("value", Json, nullable=True),
    Column("content", Text, nullable=False),
    #: lower-case key + content + tags, for the keyword search
    Column("search_text", Text, nullable=False),
    Column("tags", Json, nullable=False),
    Column("embedding", Json, nullable=True),
    Column("source_run", Key, nullable=True),
    Column("source_node", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("space", "scope", "scope_key", "key"),
    Index("ix_memory_items_address_updated", "space", "scope", "scope_key", "updated_at"),
)

memory_identities = Table(
    "memory_identities",
    metadata,
    Column("space", Key, nullable=False),
    Column("channel", Key, nullable=False),
    Column("external_id", Key, nullable=False),
    Column("user_id", Key, nullable=False),
    Column("display_name", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("space", "channel", "external_id"),
    Index("ix_memory_identities_space_user", "space", "user_id"),
)
