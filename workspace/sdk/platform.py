"""``Platform``: what self-aware tools may ask of Plait itself (``ctx.platform``; SPEC §3
self-awareness tools, §10 guardrails).

Everything is seen as the owner of the running workflow: another owner's workflows, runs and
schedules do not exist for it. Agents only write **drafts** (authored ``agent:<workflow>.<node>``),
never publish; they patch a human's workflow only by forking it into a new draft; the runs they
start are child runs under a depth limit and a per-run cap. Refusals raise ``NodeError`` with a
stable code (``workflow_exists``, ``not_agent_draft``, ``depth_limit``, ``spawn_limit``,
``unknown_operation`` ...), which an agent sees as the tool's error and may correct.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from workspace.domain.run import Run

if TYPE_CHECKING:
    from workspace.sdk.context import NodeContext

__all__ = ["Platform", "PlatformSource"]


class Platform(Protocol):
    def whoami(self) -> dict[str, Any]:
        """The running node, run, workflow, owner and user."""
        ...

    def discover(self, query: str | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
        """The owner's workflows (matching ``query`` words, if given) with their triggers."""
        ...

    def create_workflow(self, dsl: str) -> dict[str, Any]:
        """Save a DSL document as a new workflow's draft (never published)."""
        ...

    def patch_workflow(
        self, workflow: str, patches: Sequence[Mapping[str, Any]], *, into: str | None = None
    ) -> dict[str, Any]:
        """Fork-and-patch ``workflow`` (its draft, else its latest version) into the draft of
        ``into`` (a new workflow), or in place when its draft is an agent's."""
        ...

    def spawn(
        self, runs: Sequence[Mapping[str, Any]], *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """Start child runs ``[{workflow, input}]`` in parallel and wait for all; each result
        is ``{workflow, run_id, status, output, error}``. Idempotent per node execution."""
        ...

    def schedules(
        self, action: str, *, schedule_id: str | None = None, workflow: str | None = None
    ) -> Any:
        """``list`` (optionally of one workflow), ``pause`` or ``resume`` a schedule."""
        ...

    def health(self) -> dict[str, Any]:
        """Database, workers, queue, runs in flight, configured models and tools."""
        ...

    def api(self, operation: str, params: Mapping[str, Any]) -> Any:
        """One allow-listed read operation (see ``operations()``)."""
        ...

    def operations(self) -> list[str]: ...


class PlatformSource(Protocol):
    """Gives each node execution its platform view (implemented by the runtime)."""

    def open(self, ctx: NodeContext, run: Run, *, depth: int) -> Platform: ...
