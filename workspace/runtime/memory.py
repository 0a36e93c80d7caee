"""``MemoryService``: the engine's :class:`~workspace.sdk.memory.MemorySource` over the
store's ``MemoryRepository`` (SPEC §3 Memory).

Each node execution gets a :class:`RunMemory`: addresses are built here, never by nodes — the
space is the workflow's owner, and the scope keys come from the run (run id, workflow id, the
user). ``identify`` records the run's identified user as the run-scoped fact ``plait:user``,
so later memory steps of the run use that user while the run's own ``user`` stays as it was.
An optional :class:`~workspace.domain.ports.Embedder` adds vectors for search by meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workspace.domain.memory import (
    RESERVED_KEY_PREFIX,
    Identity,
    MemoryAddress,
    MemoryItem,
    MemoryKind,
    MemoryScope,
    content_of,
    search_terms,
)
from workspace.domain.ports import Embedder, MemoryRepository, WorkflowRepository
from workspace.domain.run import Run
from workspace.errors import NodeError, ValidationError
from workspace.sdk.memory import ScopeName, SearchMode

__all__ = ["MemoryService", "RunMemory"]

USER_FACT = RESERVED_KEY_PREFIX + "user"
_ALL_SCOPES: tuple[ScopeName, ...] = ("run", "user", "workflow", "global")


class MemoryService:
    def __init__(
        self,
        repo: MemoryRepository,
        workflows: WorkflowRepository,
        embedder: Embedder | None = None,
    ) -> None:
        self.repo = repo
        self.workflows = workflows
        #: None: search by keywords only (no embedding model is bundled)
        self.embedder = embedder
        self._owners: dict[str, str] = {}

    def space_of(self, workflow_id: str) -> str:
        """The owner space of a workflow's memory ("" for workflows without an owner)."""
        if workflow_id not in self._owners:
            self._owners[workflow_id] = self.workflows.get_by_id(workflow_id).owner or ""
        return self._owners[workflow_id]

    def open(self, run: Run, node_id: str) -> RunMemory:
        return RunMemory(self, run, node_id)


class RunMemory:
    """One node execution's :class:`~workspace.sdk.memory.AgentMemory`."""

    def __init__(self, service: MemoryService, run: Run, node_id: str) -> None:
        self._s = service
        self._repo = service.repo
        self._run = run
        self._node = node_id
        self._space = service.space_of(run.workflow_id)

    # -- addresses ---------------------------------------------------------------------------

    def _fail(self, message: str, code: str) -> NodeError:
        return NodeError(message, code=code, node_id=self._node, retryable=False)

    def _scope(self, scope: str) -> MemoryScope:
        try:
            return MemoryScope(scope)
        except ValueError:
            raise self._fail(
                f"unknown memory scope {scope!r} (run, user, workflow, global)", "bad_scope"
            ) from None

    def _run_address(self) -> MemoryAddress:
        return MemoryAddress(self._space, MemoryScope.RUN, self._run.id)

    def current_user(self) -> str | None:
        found = self._repo.get(self._run_address(), USER_FACT)
        if found is not None and isinstance(found.value, str):
            return found.value
        return self._run.user

    def _address(self, scope: str, user: str | None) -> MemoryAddress:
        chosen = self._scope(scope)
        if chosen == MemoryScope.RUN:
            key = self._run.id
        elif chosen == MemoryScope.WORKFLOW:
            key = self._run.workflow_id
        elif chosen == MemoryScope.GLOBAL:
            key = ""
        else:
            key = user or self.current_user() or ""
            if not key:
                raise self._fail(
                    "the user scope needs a user: this run has none (identify one with "
                    "identify_user, or give `user`)",
                    "no_user",
                )
        return MemoryAddress(self._space, chosen, key)

    def _check_key(self, key: str) -> None:
        if not key or key.startswith(RESERVED_KEY_PREFIX):
            raise self._fail(
                f"memory key {key!r} is empty or reserved ({RESERVED_KEY_PREFIX}...)", "bad_key"
            )

    # -- items -------------------------------------------------------------------------------

    def _put(self, item: MemoryItem) -> dict[str, Any]:
        if self._s.embedder is not None:
            vector = self._s.embedder.embed([item.content or content_of(item.value)])[0]
            item = item.model_copy(update={"embedding": tuple(vector)})
        try:
            return self._repo.put(item).public()
        except ValidationError as exc:
            raise self._fail(exc.message, "bad_memory_value") from None

    def _new(
        self, address: MemoryAddress, kind: MemoryKind, key: str | None, value: Any, tags: Any
    ) -> MemoryItem:
        try:
            return MemoryItem(
                space=address.space,
                scope=address.scope,
                scope_key=address.scope_key,
                kind=kind,
                key=key,
                value=value,
                tags=tuple(str(t) for t in tags),
                source_run=self._run.id,
                source_node=self._node,
            )
        except ValueError as exc:
            raise self._fail(f"invalid memory item: {exc}", "bad_memory_value") from None

    def remember(
        self,
        key: str,
        value: Any,
        *,
        scope: ScopeName = "user",
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        self._check_key(key)
        address = self._address(scope, user)
        return self._put(self._new(address, MemoryKind.FACT, key, value, tags))

    def record(
        self,
        value: Any,
        *,
        scope: ScopeName = "user",
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        address = self._address(scope, user)
        return self._put(self._new(address, MemoryKind.EPISODE, None, value, tags))

    def recall(
        self, key: str, *, scope: ScopeName = "user", user: str | None = None
    ) -> dict[str, Any] | None:
        self._check_key(key)
        found = self._repo.get(self._address(scope, user), key)
        return None if found is None else found.public()

    def forget(self, key: str, *, scope: ScopeName = "user", user: str | None = None) -> bool:
        self._check_key(key)
        return self._repo.forget(self._address(scope, user), key)

    def _addresses(self, scopes: Sequence[str], user: str | None) -> list[MemoryAddress]:
        out = []
        for scope in scopes:
            if self._scope(scope) == MemoryScope.USER and not (user or self.current_user()):
                continue  # no user in this run: nothing of any user is searched
            out.append(self._address(scope, user))
        return out

    def search(
        self,
        query: str,
        *,
        scopes: Sequence[ScopeName] = _ALL_SCOPES,
        kind: str | None = None,
        limit: int = 5,
        user: str | None = None,
        mode: SearchMode = "auto",
    ) -> list[dict[str, Any]]:
        addresses = self._addresses(scopes, user)
        wanted = MemoryKind(kind) if kind else None
        semantic = mode == "semantic" or (mode == "auto" and self._s.embedder is not None)
        if semantic:
            if self._s.embedder is None:
                raise self._fail(
                    "search by meaning needs an embedder; none is configured (use mode keyword)",
                    "no_embedder",
                )
            vector = self._s.embedder.embed([query])[0]
            found = self._repo.similar(addresses, vector, kind=wanted, limit=limit)
        else:
            found = self._repo.search(addresses, search_terms(query), kind=wanted, limit=limit)
        return [
            {**item.public(), "score": score}
            for item, score in found
            if not (item.key or "").startswith(RESERVED_KEY_PREFIX)
        ]

    def recent(
        self,
        *,
        scope: ScopeName = "user",
        kind: str | None = None,
        limit: int = 5,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = MemoryKind(kind) if kind else None
        items = self._repo.list(self._address(scope, user), kind=wanted, limit=limit + 1)
        kept = [i for i in items if not (i.key or "").startswith(RESERVED_KEY_PREFIX)]
        return [i.public() for i in kept[:limit]]

    # -- identities --------------------------------------------------------------------------

    def identify(
        self,
        channel: str,
        external_id: str,
        *,
        user: str | None = None,
        display_name: str | None = None,
        create: bool = True,
    ) -> dict[str, Any]:
        channel, external_id = channel.strip(), str(external_id).strip()
        if not channel or not external_id:
            raise self._fail("identify_user needs a channel and an external id", "bad_identity")
        known = self._repo.identity(self._space, channel, external_id)
        user_id = user or (known.user_id if known else None)
        if user_id is None and create:
            user_id = f"{channel}:{external_id}"
        if user_id is not None and (
            known is None or known.user_id != user_id or display_name is not None
        ):
            try:
                identity = Identity(
                    space=self._space,
                    channel=channel,
                    external_id=external_id,
                    user_id=user_id,
                    display_name=display_name or (known.display_name if known else None),
                )
            except ValueError as exc:
                raise self._fail(f"invalid identity: {exc}", "bad_identity") from None
            self._repo.link(identity)
        if user_id is not None:
            self._repo.put(self._new(self._run_address(), MemoryKind.FACT, USER_FACT, user_id, ()))
        linked = self._repo.identities(self._space, user_id) if user_id else []
        return {
            "user_id": user_id,
            "channel": channel,
            "external_id": external_id,
            "known": known is not None,
            "identities": [{"channel": i.channel, "external_id": i.external_id} for i in linked],
        }
