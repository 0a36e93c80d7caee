"""A LangGraph checkpoint saver on Plait's own SQLAlchemy engine and tables.

Checkpoints live in the same database as runs and events (SQLite or PostgreSQL), in tables our
migrations own: ``lg_checkpoints`` (one row per checkpoint, without channel values),
``lg_checkpoint_blobs`` (one row per channel *version*, so an unchanged value is stored once, not
once per step) and ``lg_checkpoint_writes`` (pending writes of a step, keyed by task and index).

Semantics follow LangGraph's reference savers (``InMemorySaver``, ``SqliteSaver``):
``checkpoint_ns`` separates subgraphs, ``parent_checkpoint_id`` links the history, special writes
(errors, interrupts, resumes, scheduled) replace an earlier special write of the same task,
regular writes are first-write-wins. Values are serialised with ``self.serde.dumps_typed``
(type + bytes).

This is the hot path of every durable run, so it runs hand-written SQL (the same text on SQLite
and PostgreSQL: ``ON CONFLICT`` and row values exist on both) on a DBAPI cursor from the store's
pool instead of building SQLAlchemy statements per call: each ``put`` is one short transaction —
which also carries the task writes ``put_writes`` held back for it (``write_buffer.py``) and the
step records and events the engine deferred for that run (``outbox.py``) — and ``get_tuple``
three indexed reads. The table and column names are those of
``workspace.store.tables`` (checked by the contract tests). The async methods run the sync ones in
the default executor (``checkpoint_async.py``).
"""

from __future__ import annotations

import builtins
import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from sqlalchemy import Engine

from workspace.store.checkpoint_async import SyncSaverInThreads
from workspace.store.checkpoint_sql import (
    _BL,
    _COPY_COLUMNS,
    _CP,
    _INSERT_BLOB,
    _SELECT_BLOBS,
    _SELECT_LATEST,
    _SELECT_ONE,
    _SELECT_WRITES,
    _UPSERT_CHECKPOINT,
    _WR,
    _WRITE_IGNORE,
    _WRITE_REPLACE,
)
from workspace.store.engine import Database
from workspace.store.sql_events import SqlEventLog, deliver
from workspace.store.write_buffer import Batch, WriteBuffer

__all__ = ["SqlCheckpointSaver"]

_T = TypeVar("_T")
_EMPTY = "empty"  # blob type of a channel that has a version but no value
_LIST_BATCH = 50


def _cfg(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _execute(cur: Any, batches: builtins.list[Batch]) -> None:
    for batch in batches:
        for query, rows in batch:
            if len(rows) == 1:
                cur.execute(query, rows[0])
            elif rows:
                cur.executemany(query, rows)


def _bytes(value: Any) -> bytes:
    return b"" if value is None else bytes(value)


class SqlCheckpointSaver(SyncSaverInThreads, BaseCheckpointSaver[str]):
    """``BaseCheckpointSaver`` on a SQLAlchemy engine (SQLite or PostgreSQL).

    The tables must exist (``upgrade_database``); this class never creates them.
    """

    def __init__(
        self,
        db: Database | Engine,
        *,
        serde: SerializerProtocol | None = None,
        events: SqlEventLog | None = None,
        write_hold_s: float = 0.02,
    ) -> None:
        super().__init__(serde=serde)
        self._db = db if isinstance(db, Database) else Database(db)
        #: the event log whose deferred step records and events ride on our transactions
        self._events = events
        q = self._db.sql
        self._q_one, self._q_latest, self._q_writes = (
            q(_SELECT_ONE),
            q(_SELECT_LATEST),
            q(_SELECT_WRITES),
        )
        self._q_insert_blob, self._q_upsert = q(_INSERT_BLOB), q(_UPSERT_CHECKPOINT)
        self._q_write_ignore, self._q_write_replace = q(_WRITE_IGNORE), q(_WRITE_REPLACE)
        self._q_blob_cache: dict[int, str] = {}
        #: task writes waiting for the next ``put`` of their thread (see ``write_buffer``)
        self._pending = WriteBuffer(self._store_pending, hold_s=write_hold_s)

    # --- reads ------------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        configurable = config["configurable"]
        key = {
            "thread_id": str(configurable["thread_id"]),
            "checkpoint_ns": str(configurable.get("checkpoint_ns", "")),
        }
        checkpoint_id = get_checkpoint_id(config)
        self.flush_writes(key["thread_id"])
        with self._db.raw(write=False) as cur:
            if checkpoint_id:
                cur.execute(self._q_one, {**key, "checkpoint_id": str(checkpoint_id)})
            else:
                cur.execute(self._q_latest, key)
            row = cur.fetchone()
            if row is None:
                return None
            cid, parent_id, type_, blob, md_type, md_blob = row
            metadata = cast(CheckpointMetadata, self.serde.loads_typed((md_type, _bytes(md_blob))))
            return self._load_tuple(
                cur,
                key["thread_id"],
                key["checkpoint_ns"],
                cid,
                parent_id,
                (type_, _bytes(blob)),
                metadata,
                config=config if checkpoint_id else None,
            )

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        if limit is not None and limit <= 0:
            return
        where: builtins.list[str] = []
        params: dict[str, Any] = {}
        self.flush_writes(None if config is None else str(config["configurable"]["thread_id"]))
        if config is not None:
            configurable = config["configurable"]
            where.append("thread_id = :thread_id")
            params["thread_id"] = str(configurable["thread_id"])
            checkpoint_ns = configurable.get("checkpoint_ns")
            if checkpoint_ns is not None:
                where.append("checkpoint_ns = :checkpoint_ns")
                params["checkpoint_ns"] = str(checkpoint_ns)
            if checkpoint_id := get_checkpoint_id(config):
                where.append("checkpoint_id = :checkpoint_id")
                params["checkpoint_id"] = str(checkpoint_id)
        if before is not None and (before_id := get_checkpoint_id(before)):
            where.append("checkpoint_id < :before_id")
            params["before_id"] = str(before_id)
        query = (
            "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, metadata_type, "
            f"metadata FROM {_CP}"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY checkpoint_id DESC, thread_id, checkpoint_ns"
        )
        if not filter and limit is not None:
            query += " LIMIT :limit"
            params["limit"] = limit
        with self._db.raw(write=False) as cur:
            cur.execute(self._db.sql(query), params)
            rows = cur.fetchall()

        selected: builtins.list[tuple[Any, CheckpointMetadata]] = []
        for row in rows:
            metadata = cast(CheckpointMetadata, self.serde.loads_typed((row[4], _bytes(row[5]))))
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            selected.append((row, metadata))
            if limit is not None and len(selected) >= limit:
                break

        for start in range(0, len(selected), _LIST_BATCH):
            batch = selected[start : start + _LIST_BATCH]
            loaded: builtins.list[CheckpointTuple] = []
            with self._db.raw(write=False) as cur:
                for row, metadata in batch:
                    thread_id, checkpoint_ns, checkpoint_id, parent_id = row[:4]
                    key = {
                        "thread_id": thread_id,
                        "checkpoint_ns": checkpoint_ns,
                        "checkpoint_id": checkpoint_id,
                    }
                    cur.execute(self._q_one, key)
                    found = cur.fetchone()
                    if found is None:  # deleted since it was listed
                        continue
                    loaded.append(
                        self._load_tuple(
                            cur,
                            thread_id,
                            checkpoint_ns,
                            checkpoint_id,
                            parent_id,
                            (found[2], _bytes(found[3])),
                            metadata,
                        )
                    )
            yield from loaded

    def _load_tuple(
        self,
        cur: Any,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        parent_id: str | None,
        typed_checkpoint: tuple[str, bytes],
        metadata: CheckpointMetadata,
        *,
        config: RunnableConfig | None = None,
    ) -> CheckpointTuple:
        checkpoint = cast(Checkpoint, self.serde.loads_typed(typed_checkpoint))
        checkpoint["channel_values"] = self._load_blobs(
            cur, thread_id, checkpoint_ns, checkpoint.get("channel_versions", {})
        )
        return CheckpointTuple(
            config=config or _cfg(thread_id, checkpoint_ns, checkpoint_id),
            checkpoint=checkpoint,
            metadata=metadata,
            parent_config=_cfg(thread_id, checkpoint_ns, parent_id) if parent_id else None,
            pending_writes=self._load_writes(cur, thread_id, checkpoint_ns, checkpoint_id),
        )

    def _load_blobs(
        self, cur: Any, thread_id: str, checkpoint_ns: str, versions: ChannelVersions
    ) -> dict[str, Any]:
        if not versions:
            return {}
        query = self._q_blob_cache.get(len(versions))
        if query is None:
            pairs = " OR ".join(
                f"(channel = :c{i} AND version = :v{i})" for i in range(len(versions))
            )
            query = self._db.sql(_SELECT_BLOBS.format(pairs=pairs))
            if len(self._q_blob_cache) < 256:
                self._q_blob_cache[len(versions)] = query
        params: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
        for i, (channel, version) in enumerate(versions.items()):
            params[f"c{i}"] = channel
            params[f"v{i}"] = str(version)
        cur.execute(query, params)
        return {
            channel: self.serde.loads_typed((type_, _bytes(blob)))
            for channel, type_, blob in cur.fetchall()
            if type_ != _EMPTY
        }

    def _load_writes(
        self, cur: Any, thread_id: str, checkpoint_ns: str, checkpoint_id: str
    ) -> builtins.list[PendingWrite]:
        cur.execute(
            self._q_writes,
            {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
            },
        )
        rows = builtins.list(cur.fetchall())
        # sorted in Python: database collations must not decide LangGraph's replay order
        rows.sort(key=lambda r: writes_sort_key(r[4], r[0], r[5]))
        return [
            (task_id, channel, self.serde.loads_typed((type_, _bytes(value))))
            for task_id, channel, type_, value, _, _ in rows
        ]

    # --- writes -----------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = str(configurable.get("checkpoint_ns", ""))
        parent_id = configurable.get("checkpoint_id")
        stripped = dict(checkpoint)
        values: dict[str, Any] = stripped.pop("channel_values", {})  # type: ignore[assignment]
        blobs = []
        for channel, version in new_versions.items():
            if channel in values:
                type_, blob = self.serde.dumps_typed(values[channel])
                blob_value: bytes | None = bytes(blob)
            else:
                type_, blob_value = _EMPTY, None
            blobs.append(
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "channel": channel,
                    "version": str(version),
                    "type": type_,
                    "blob": blob_value,
                }
            )
        cp_type, cp_blob = self.serde.dumps_typed(stripped)
        md_type, md_blob = self.serde.dumps_typed(get_checkpoint_metadata(config, metadata))
        row = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
            "parent_checkpoint_id": str(parent_id) if parent_id else None,
            "type": cp_type,
            "checkpoint": bytes(cp_blob),
            "metadata_type": md_type,
            "metadata": bytes(md_blob),
        }
        with self._db.write_lock:
            pending = self._pending.take(thread_id)
            try:
                with self._db.raw(write=True) as cur:
                    _execute(cur, pending)
                    if len(blobs) == 1:
                        cur.execute(self._q_insert_blob, blobs[0])
                    elif blobs:
                        cur.executemany(self._q_insert_blob, blobs)
                    cur.execute(self._q_upsert, row)
                    delivered = self._deferred(cur, thread_id)
            except BaseException:
                self._pending.restore(thread_id, pending)
                raise
            deliver(delivered)
        return _cfg(thread_id, checkpoint_ns, checkpoint["id"])

    def flush_writes(self, thread_id: str | None = None) -> None:
        """Store the task writes still held back, of one thread or of all (the engine calls
        this at every stable point of a run; reads call it for their thread)."""
        for tid in self._pending.threads() if thread_id is None else [thread_id]:
            if self._pending.pending(tid):
                self._store_pending(tid)

    def _store_pending(self, thread_id: str, batch: Batch | None = None) -> None:
        with self._db.write_lock:
            pending = self._pending.take(thread_id)
            if batch is not None:
                pending.append(batch)
            if not pending:
                return
            try:
                with self._db.raw(write=True) as cur:
                    _execute(cur, pending)
                    delivered = self._deferred(cur, thread_id)
            except BaseException:
                self._pending.restore(thread_id, pending)
                raise
            deliver(delivered)

    def _deferred(self, cur: Any, thread_id: str) -> builtins.list[Any]:
        if self._events is None or not self._events.outbox:
            return []
        return self._events.write_deferred(cur, [thread_id])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        configurable = config["configurable"]
        base = {
            "thread_id": str(configurable["thread_id"]),
            "checkpoint_ns": str(configurable.get("checkpoint_ns", "")),
            "checkpoint_id": str(configurable["checkpoint_id"]),
            "task_id": task_id,
            "task_path": task_path,
        }
        regular: builtins.list[dict[str, Any]] = []
        special: builtins.list[dict[str, Any]] = []
        for idx, (channel, value) in enumerate(writes):
            type_, blob = self.serde.dumps_typed(value)
            row = {
                **base,
                "idx": WRITES_IDX_MAP.get(channel, idx),
                "channel": channel,
                "type": type_,
                "value": bytes(blob),
            }
            (special if channel in WRITES_IDX_MAP else regular).append(row)
        # stored with the thread's next checkpoint, or alone after a moment (write_buffer)
        batch: Batch = [(self._q_write_ignore, regular), (self._q_write_replace, special)]
        lock = self._db.write_lock
        if isinstance(lock, nullcontext):  # PostgreSQL: no lock to share, store them now
            self._store_pending(base["thread_id"], batch)
        elif lock.acquire(blocking=False):  # nobody else writing here: store them now
            try:
                self._store_pending(base["thread_id"], batch)
            finally:
                lock.release()
        else:  # writers queue for the lock: ride on the thread's next checkpoint instead
            self._pending.add(base["thread_id"], batch)

    def delete_thread(self, thread_id: str) -> None:
        self._pending.take(str(thread_id))
        params = {"thread_id": str(thread_id)}
        with self._db.raw(write=True) as cur:
            for table in (_WR, _BL, _CP):
                cur.execute(
                    self._db.sql(f"DELETE FROM {table} WHERE thread_id = :thread_id"), params
                )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of one thread to another (e.g. to fork a run).

        The target thread must not have checkpoints yet.
        """
        params = {"source": str(source_thread_id), "target": str(target_thread_id)}
        self.flush_writes(params["source"])
        with self._db.raw(write=True) as cur:
            for table, columns in _COPY_COLUMNS.items():
                cur.execute(
                    self._db.sql(
                        f"INSERT INTO {table} (thread_id, {columns}) "
                        f"SELECT :target, {columns} FROM {table} WHERE thread_id = :source"
                    ),
                    params,
                )

    def get_next_version(self, current: str | None, channel: None) -> str:
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"
