"""``spawn_and_await``: several child runs of the owner's published workflows, driven in
parallel in this process, awaited together (SPEC §3, §10 limits on agent-started runs).

The child run ids are journaled under the node execution's key before any runs, so a node
that re-executes after a crash awaits the same children instead of starting new ones. Limits:
the sub-workflow depth, at most ``max_parallel`` children per call and ``max_per_run``
children per parent run. A child that fails is a result (``status: failed`` with its error),
not an exception: the agent decides what to do with it. A cancelled parent cancels them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from workspace.domain.run import Run, RunStatus
from workspace.errors import NodeError, PlaitError

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace
    from workspace.sdk.context import NodeContext

__all__ = ["Spawner"]

POLL_S = 0.1


class Spawner:
    def __init__(
        self,
        ws: Workspace,
        *,
        max_depth: int,
        max_parallel: int = 10,
        max_per_run: int = 50,
    ) -> None:
        self._ws = ws
        self.max_depth = max_depth
        self.max_parallel = max_parallel
        self.max_per_run = max_per_run

    def spawn(
        self,
        ctx: NodeContext,
        parent: Run,
        depth: int,
        owned: Callable[[str], bool],
        requests: Sequence[Mapping[str, Any]],
        timeout_s: float | None,
    ) -> list[dict[str, Any]]:
        def fail(message: str, code: str) -> NodeError:
            return NodeError(message, code=code, node_id=ctx.node_id, retryable=False)

        if not requests:
            raise fail("spawn_and_await needs at least one run", "no_runs")
        if depth + 1 > self.max_depth:
            raise fail(f"the depth limit of {self.max_depth} nested runs is reached", "depth_limit")
        if len(requests) > self.max_parallel:
            raise fail(f"at most {self.max_parallel} runs per call", "spawn_limit")
        slugs = [str(r.get("workflow") or r.get("slug") or "") for r in requests]
        unknown = [s for s in slugs if not owned(s)]
        if unknown:
            raise fail(f"no workflow named {', '.join(map(repr, unknown))}", "workflow_not_found")

        def create() -> list[str]:
            started = len(self._ws.store.runs.list(parent_run_id=parent.id, limit=10_000))
            if started + len(requests) > self.max_per_run:
                raise fail(
                    f"this run may start at most {self.max_per_run} runs ({started} so far)",
                    "spawn_limit",
                )
            ids = []
            for slug, request in zip(slugs, requests, strict=True):
                try:
                    child = self._ws.create_run(
                        slug, request.get("input"), parent_run_id=parent.id, user=parent.user
                    )
                except PlaitError as exc:  # unpublished, incomplete ...
                    raise fail(f"cannot run {slug!r}: {exc.message}", exc.code) from None
                ids.append(child.id)
            return ids

        child_ids = ctx.journal(ctx.idempotency_key + ":spawn", create)
        return self._await(ctx, child_ids, slugs, depth + 1, timeout_s)

    def _await(
        self,
        ctx: NodeContext,
        child_ids: list[str],
        slugs: list[str],
        depth: int,
        timeout_s: float | None,
    ) -> list[dict[str, Any]]:
        runs = self._ws.store.runs
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with ThreadPoolExecutor(
            max_workers=len(child_ids), thread_name_prefix="plait-spawn"
        ) as pool:
            futures: list[Future[Any]] = []
            for child_id in child_ids:
                child = runs.get(child_id)
                if child.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                    futures.append(pool.submit(self._ws.drive_child, child, depth=depth))
            try:
                while not all(f.done() for f in futures):
                    ctx.check_cancelled()
                    if deadline is not None and time.monotonic() > deadline:
                        raise NodeError(
                            f"the spawned runs did not finish within {timeout_s:g}s",
                            code="timeout",
                            node_id=ctx.node_id,
                            retryable=False,
                            runs=child_ids,
                        )
                    time.sleep(POLL_S)
                for future in futures:
                    future.result()  # a driver that crashed (not a failed run) is an error
            except BaseException:
                for child_id in child_ids:  # stop them; the pool then joins their drivers
                    if not runs.get(child_id).status.terminal:
                        self._ws.cancel(child_id)
                raise
        results = []
        for child_id, slug in zip(child_ids, slugs, strict=True):
            child = runs.get(child_id)
            results.append(
                {
                    "workflow": slug,
                    "run_id": child.id,
                    "status": child.status.value,
                    "output": child.output,
                    "error": child.error,
                }
            )
        return results
