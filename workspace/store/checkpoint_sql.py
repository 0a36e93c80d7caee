"""The SQL text of ``SqlCheckpointSaver`` (the same on SQLite and PostgreSQL: ``ON CONFLICT``
and row values exist on both); table names come from ``workspace.store.tables``."""

from __future__ import annotations

from workspace.store.tables import checkpoint_blobs, checkpoint_writes, checkpoints

_CP = checkpoints.name
_BL = checkpoint_blobs.name
_WR = checkpoint_writes.name

_SELECT_CHECKPOINT = (
    "SELECT checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata_type, metadata "
    f"FROM {_CP} WHERE thread_id = :thread_id AND checkpoint_ns = :checkpoint_ns"
)
_SELECT_ONE = f"{_SELECT_CHECKPOINT} AND checkpoint_id = :checkpoint_id"
_SELECT_LATEST = f"{_SELECT_CHECKPOINT} ORDER BY checkpoint_id DESC LIMIT 1"
_SELECT_WRITES = (
    f"SELECT task_id, channel, type, value, task_path, idx FROM {_WR} "
    "WHERE thread_id = :thread_id AND checkpoint_ns = :checkpoint_ns "
    "AND checkpoint_id = :checkpoint_id"
)
_SELECT_BLOBS = (
    f"SELECT channel, type, blob FROM {_BL} "
    "WHERE thread_id = :thread_id AND checkpoint_ns = :checkpoint_ns "
    # an OR of exact (channel, version) pairs: every term is a primary-key lookup on both
    # SQLite ("MULTI-INDEX OR") and PostgreSQL (BitmapOr), however long the thread's history
    "AND ({pairs})"
)
_INSERT_BLOB = (
    f"INSERT INTO {_BL} (thread_id, checkpoint_ns, channel, version, type, blob) "
    "VALUES (:thread_id, :checkpoint_ns, :channel, :version, :type, :blob) "
    "ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING"
)
_UPSERT_CHECKPOINT = (
    f"INSERT INTO {_CP} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
    "checkpoint, metadata_type, metadata) VALUES (:thread_id, :checkpoint_ns, :checkpoint_id, "
    ":parent_checkpoint_id, :type, :checkpoint, :metadata_type, :metadata) "
    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
    "parent_checkpoint_id = excluded.parent_checkpoint_id, type = excluded.type, "
    "checkpoint = excluded.checkpoint, metadata_type = excluded.metadata_type, "
    "metadata = excluded.metadata"
)
_INSERT_WRITE = (
    f"INSERT INTO {_WR} (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, "
    "value, task_path) VALUES (:thread_id, :checkpoint_ns, :checkpoint_id, :task_id, :idx, "
    ":channel, :type, :value, :task_path) "
    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) "
)
_WRITE_IGNORE = _INSERT_WRITE + "DO NOTHING"
_WRITE_REPLACE = (
    _INSERT_WRITE + "DO UPDATE SET channel = excluded.channel, type = excluded.type, "
    "value = excluded.value, task_path = excluded.task_path"
)
_COPY_COLUMNS = {
    _CP: "checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata_type, "
    "metadata",
    _BL: "checkpoint_ns, channel, version, type, blob",
    _WR: "checkpoint_ns, checkpoint_id, task_id, idx, channel, type, value, task_path",
}
