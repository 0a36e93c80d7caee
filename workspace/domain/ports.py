"""Interfaces of the pluggable boundaries the core depends on.

Implementations: ``workspace.store.memory`` (in-memory, shipped) and ``workspace.store.sql``
(SQLAlchemy: SQLite, PostgreSQL). The contract suite in ``tests/contracts`` runs against each.
The engine only sees these protocols; the runtime wires a concrete store in.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from workspace.domain.credentials import Credential
from workspace.domain.events import Event
from workspace.domain.graph import WorkflowGraph
from workspace.domain.memory import Identity, MemoryAddress, MemoryItem, MemoryKind
from workspace.domain.operation_ports import (
    AccessRepository,
    DeliveryRepository,
    LeaseRepository,
    WorkerRegistry,
)
from workspace.domain.run import Run, RunStatus, StepRecord
from workspace.domain.schedule import Schedule
from workspace.domain.usage import Usage
from workspace.domain.workflow import Draft, Version, Workflow


class WorkflowRepository(Protocol):
    def create(self, workflow: Workflow) -> Workflow:
        """Insert; raises ConflictError if the slug exists."""
        ...

    def get(self, slug: str) -> Workflow:
        """Raises NotFoundError."""
        ...

    def get_by_id(self, workflow_id: str) -> Workflow: ...

    def find(self, slug: str) -> Workflow | None: ...

    def find_latest(self, slug: str) -> tuple[Workflow, int | None] | None:
        """The workflow and the number of its latest version (None: never published), in one
        read — what every run request starts with."""
        ...

    def list(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[Workflow]:
        """Ordered by slug."""
        ...

    def list_latest(
        self, *, owner: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[tuple[Workflow, int | None]]:
        """As ``list``, each workflow with the number of its latest version (None: never
        published), in one read."""
        ...

    def update(self, workflow: Workflow) -> Workflow:
        """Replace name/description/tags/owner; bumps ``updated_at``."""
        ...

    def delete(self, slug: str) -> None:
        """Deletes the workflow, its draft and versions. Raises NotFoundError."""
        ...

    def save_draft(
        self,
        workflow_id: str,
        graph: WorkflowGraph,
        dsl: str | None = None,
        *,
        author: str | None = None,
    ) -> Draft:
        """Create or replace the draft; ``author`` says who wrote it when not the owner
        (an agent: ``agent:<workflow>.<node>``), None otherwise."""
        ...

    def get_draft(self, workflow_id: str) -> Draft | None: ...

    def add_version(self, version: Version) -> Version:
        """Store with the next number (1-based); returns the stored version."""
        ...

    def get_version(self, workflow_id: str, number: int | None = None) -> Version:
        """``number=None`` → latest. Raises NotFoundError."""
        ...

    def latest_version_number(self, workflow_id: str) -> int:
        """The number of the latest version (cheap: no graph is read). Raises NotFoundError."""
        ...

    def list_versions(self, workflow_id: str) -> builtins.list[Version]:
        """Oldest first."""
        ...


class RunRepository(Protocol):
    def create(self, run: Run) -> Run: ...

    def get(self, run_id: str) -> Run:
        """Raises NotFoundError."""
        ...

    def list(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        parent_run_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Run]:
        """Newest first."""
        ...

    def transition(self, run_id: str, target: RunStatus, **fields: Any) -> Run:
        """Change status through the state machine (atomically, compare-and-set) and set
        ``fields`` (output, error, pending, started_at, finished_at ...) in the same write.
        Raises InvalidTransition (terminal states are final) or NotFoundError."""
        ...

    def update(self, run_id: str, **fields: Any) -> Run:
        """Set non-status fields (e.g. ``pending``)."""
        ...

    def save_step(self, step: StepRecord) -> StepRecord:
        """Upsert keyed by (run_id, node_id, iteration)."""
        ...

    def list_steps(self, run_id: str) -> builtins.list[StepRecord]:
        """In first-started order."""
        ...

    def usage(
        self,
        *,
        run_ids: Sequence[str] | None = None,
        workflow_id: str | None = None,
        since: datetime | None = None,
    ) -> Usage:
        """Tokens and cost summed over the steps of ``run_ids``, or of the runs of
        ``workflow_id`` created at or after ``since``."""
        ...

    def journal_get(self, run_id: str, key: str) -> Any | None:
        """A completed side effect / memoised step result, or None."""
        ...

    def journal_put(self, run_id: str, key: str, value: Any) -> None:
        """Idempotent: the first value written for a key wins."""
        ...


class EventLog(Protocol):
    def append(self, event: Event) -> Event:
        """Store with the next ``seq`` of its run (1-based, gap-free); returns it."""
        ...

    def append_many(self, batch: Sequence[Event]) -> builtins.list[Event]:
        """Append several events atomically, in order."""
        ...

    def record(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> builtins.list[Event]:
        """Save ``steps`` (upsert, as ``RunRepository.save_step``) and append ``batch`` in one
        transaction: step records and the events that announce them are stored together.
        ``on_stored`` receives the stored events right after the commit, in ``seq`` order."""
        ...

    def defer(
        self,
        steps: Sequence[StepRecord],
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> None:
        """Like ``record`` but stored with the run's next checkpoint write (same transaction)
        where the store can; ``on_stored`` receives the stored events once committed."""
        ...

    def flush(self, run_id: str | None = None) -> None:
        """Store what ``defer`` holds now (for one run, or all)."""
        ...

    def list(self, run_id: str, *, after: int = 0, limit: int = 1000) -> builtins.list[Event]: ...

    def record_transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        steps: Sequence[StepRecord] = (),
        batch: Sequence[Event] = (),
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
        *,
        created: Sequence[Run] = (),
    ) -> tuple[Run, builtins.list[Event]]:
        """``RunRepository.transition(run_id, target, **fields)`` and ``record(steps, batch)``
        in ONE transaction (after the run's deferred entries), e.g. a run's final status with
        its ``run_succeeded`` event. ``created`` runs are inserted in that transaction too,
        before ``batch`` (which may hold their first events): a failed run and the runs its
        error triggers start. A refused transition raises and stores nothing."""
        ...

    def record_created(
        self,
        run: Run,
        batch: Sequence[Event],
        on_stored: Callable[[builtins.list[Event]], None] | None = None,
    ) -> tuple[Run, builtins.list[Event]]:
        """``RunRepository.create(run)`` and ``append_many(batch)`` (e.g. its ``run_queued``
        event) in ONE transaction."""
        ...


class EventSink(Protocol):
    """Where the engine sends events. The runtime's sink logs them and fans them out."""

    def emit(self, event: Event) -> Event: ...

    def record(self, steps: Sequence[StepRecord], events: Sequence[Event]) -> builtins.list[Event]:
        """Store step records with their events atomically, then deliver the events."""
        ...

    def defer(self, steps: Sequence[StepRecord], events: Sequence[Event]) -> None:
        """Store them with the run's next checkpoint; deliver once stored."""
        ...

    def flush(self, run_id: str) -> None:
        """Store and deliver what is deferred for the run now."""
        ...

    def transition(
        self,
        run_id: str,
        target: RunStatus,
        fields: dict[str, Any],
        steps: Sequence[StepRecord],
        events: Sequence[Event],
        *,
        created: Sequence[Run] = (),
    ) -> Run:
        """Change the run's status with its step records, events and new runs ``created`` in
        one transaction (``EventLog.record_transition``), then deliver the events."""
        ...

    def create(self, run: Run, events: Sequence[Event]) -> Run:
        """Store a new run with its events in one transaction, then deliver the events."""
        ...


class CredentialRepository(Protocol):
    """Credentials (secrets only as ciphertext) and the fingerprint of the workspace's key."""

    def create(self, credential: Credential) -> Credential:
        """Insert; ConflictError(code="credential_exists") if the name is taken."""
        ...

    def get(self, name: str) -> Credential:
        """By name; NotFoundError(code="credential_not_found")."""
        ...

    def find(self, name: str) -> Credential | None: ...

    def list(self, *, owner: str | None = None) -> builtins.list[Credential]:
        """Ordered by name; ``owner`` filters."""
        ...

    def update(self, credential: Credential) -> Credential:
        """Replace the record with ``credential.id`` (its name may change: ConflictError if
        taken); ``updated_at`` is set now. NotFoundError if it is gone."""
        ...

    def delete(self, name: str) -> None:
        """NotFoundError if absent."""
        ...

    def key_fingerprint(self) -> str | None:
        """The fingerprint of the key the workspace's secrets are encrypted with (None: no
        secret was ever stored)."""
        ...

    def claim_key_fingerprint(self, fingerprint: str) -> str:
        """Record ``fingerprint`` unless one is recorded; returns the recorded one."""
        ...

    def reencrypt(self, rotate: Callable[[str], str], fingerprint: str) -> int:
        """Pass every ciphertext through ``rotate`` and record ``fingerprint`` as the
        workspace's key, all in one transaction (all or nothing); returns how many."""
        ...


class ScheduleRepository(Protocol):
    """The state of schedules (SPEC §6). A schedule's configuration lives in its workflow's
    published version; this keeps next fire, pause, counters and runs in flight."""

    def create(self, schedule: Schedule) -> Schedule:
        """Insert. ConflictError if the (workflow, trigger) pair has one; NotFoundError if
        the workflow does not exist."""
        ...

    def get(self, schedule_id: str) -> Schedule:
        """Raises NotFoundError."""
        ...

    def find(self, workflow_id: str, trigger_id: str) -> Schedule | None: ...

    def list(
        self,
        *,
        workflow_id: str | None = None,
        owner: str | None = None,
        paused: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Schedule]:
        """Ordered by (workflow slug, trigger id); ``owner`` keeps the schedules of that
        user's workflows, ``paused`` those paused (True) or not (False)."""
        ...

    def due(self, now: datetime, *, limit: int = 100) -> builtins.list[Schedule]:
        """Schedules whose ``wake_at`` is at or before ``now``, earliest first."""
        ...

    def save(
        self,
        schedule: Schedule,
        fires: Sequence[tuple[str, Run]] = (),
        *,
        key_ttl_s: float = 7 * 86400.0,
    ) -> tuple[Schedule, builtins.list[tuple[Run, bool]]]:
        """Compare-and-set: store ``schedule`` if the stored one still has ``schedule.rev``
        (the stored copy gets ``rev + 1``), together with ``fires`` — each run stored with its
        fire key as a delivery of (workflow, trigger), unless that key was stored within
        ``key_ttl_s`` — in ONE transaction. Returns the stored schedule and, per fire, the run
        of that key and whether it is new. ConflictError (``schedule_changed``) if someone else
        stored a change first, NotFoundError if the schedule is gone; then nothing is stored."""
        ...

    def delete(self, schedule_id: str) -> None:
        """No-op if it does not exist."""
        ...


class MemoryRepository(Protocol):
    """Long-term memory (SPEC §3 Memory): facts and episodes at addresses (owner space +
    scope + scope key), and channel identities. Nothing crosses addresses: every read names
    the addresses it may see."""

    def put(self, item: MemoryItem) -> MemoryItem:
        """A fact (``key`` set) replaces the fact with that key at its address, keeping the
        stored id and ``created_at`` (``updated_at`` is now); an episode (no key) is added.
        Returns what is stored. ValidationError if the value is not JSON."""
        ...

    def get(self, address: MemoryAddress, key: str) -> MemoryItem | None: ...

    def list(
        self,
        address: MemoryAddress,
        *,
        kind: MemoryKind | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[MemoryItem]:
        """Most recently updated first (ties: id)."""
        ...

    def search(
        self,
        addresses: Sequence[MemoryAddress],
        terms: Sequence[str],
        *,
        kind: MemoryKind | None = None,
        limit: int = 10,
    ) -> builtins.list[tuple[MemoryItem, float]]:
        """Items at ``addresses`` containing any of ``terms`` (lower-case words; substring
        match in key, content and tags), ranked by ``workspace.domain.memory.rank`` among
        the 2,000 most recently updated matches."""
        ...

    def similar(
        self,
        addresses: Sequence[MemoryAddress],
        vector: Sequence[float],
        *,
        kind: MemoryKind | None = None,
        limit: int = 10,
    ) -> builtins.list[tuple[MemoryItem, float]]:
        """Items with an embedding at ``addresses``, by cosine similarity to ``vector`` (best
        first; ties: newest), among the 5,000 most recently updated."""
        ...

    def forget(self, address: MemoryAddress, key: str) -> bool:
        """Delete the fact; False if there was none."""
        ...

    def clear(self, address: MemoryAddress) -> int:
        """Delete everything at the address; returns how many."""
        ...

    def link(self, identity: Identity) -> Identity:
        """Store the mapping (space, channel, external id) → user, replacing the user and
        display name of an existing one (its ``created_at`` kept)."""
        ...

    def identity(self, space: str, channel: str, external_id: str) -> Identity | None: ...

    def identities(self, space: str, user_id: str) -> builtins.list[Identity]:
        """The channel identities of a user, ordered by (channel, external id)."""
        ...


class Embedder(Protocol):
    """Turns texts into vectors for memory's search by meaning. Plait ships none (no model is
    bundled and machines may be offline); configure one, e.g. over an embeddings API."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> builtins.list[builtins.list[float]]:
        """One vector per text, all of the same size."""
        ...


class Store(Protocol):
    @property
    def workflows(self) -> WorkflowRepository: ...

    @property
    def runs(self) -> RunRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def access(self) -> AccessRepository: ...

    @property
    def leases(self) -> LeaseRepository: ...

    @property
    def workers(self) -> WorkerRegistry: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def schedules(self) -> ScheduleRepository: ...

    @property
    def memory(self) -> MemoryRepository: ...

    def checkpointer(self) -> Any:
        """A LangGraph ``BaseCheckpointSaver`` on the same database."""
        ...

    def close(self) -> None: ...


class EventSubscriber(Protocol):
    def __call__(self, event: Event) -> None: ...


EventBatch = Sequence[Event]
