"""The ``loop`` node: run the loop body once per item, sequentially or in parallel."""

from __future__ import annotations

import contextvars
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain import DataType
from workspace.errors import NodeError, PlaitError
from workspace.sdk import LoopInfo, NodeContext, NodeType, Port

POLL_S = 0.1


class LoopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    over: Any = Field(description="The list to iterate (usually `{{ some_node.items }}`).")
    mode: Literal["sequential", "parallel"] = Field(
        default="sequential", description="Run items one after another, or concurrently."
    )
    max_concurrency: int = Field(
        default=4, ge=1, le=64, description="Parallel mode: how many items run at once."
    )
    max_iterations: int = Field(
        default=1000,
        ge=1,
        description="More items than this fails the node (`max_iterations_exceeded`) before "
        "any item runs.",
    )
    on_error: Literal["stop", "continue"] = Field(
        default="stop",
        description="`stop`: the first failing item fails the loop; `continue`: record it in "
        "`errors`, use null as its result and go on.",
    )


def error_dict(exc: BaseException) -> dict[str, Any]:
    out = exc.to_dict() if isinstance(exc, PlaitError) else {"message": str(exc)}
    out.setdefault("code", "error")
    out["type"] = type(exc).__name__
    return out


class Loop(NodeType):
    """Run the body (the `loop_body` edge) once per item of `over`; results in item order.

    Output (on port `done`): `{"results": [...], "errors": [{index, error}], "count": n}`.
    The body sees `loop.item`, `loop.index`, `loop.total`.
    """

    name = "loop"
    category = "logic"
    Config = LoopConfig
    outputs = (
        Port(name="body", type=DataType.ANY, description="to the first body node (loop_body)"),
        Port(name="done", type=DataType.OBJECT, description="{results, errors, count}"),
    )
    inputs = (
        Port(name="input", type=DataType.ANY),
        Port(name="return", type=DataType.ANY, description="from the last body node"),
    )

    def execute(self, ctx: NodeContext, config: LoopConfig, input: Any) -> dict[str, Any]:
        items = config.over
        if not isinstance(items, list | tuple):
            raise NodeError(
                f"loop `over` must be a list, got {type(items).__name__}",
                code="not_a_list",
                retryable=False,
                field="over",
            )
        total = len(items)
        # the workspace-wide cap (settings engine.max_loop_iterations) bounds every loop
        cap = min(config.max_iterations, int(ctx.limits.get("max_loop_iterations") or total))
        if total > cap:
            raise NodeError(
                f"loop over {total} items exceeds max_iterations={cap}",
                code="max_iterations_exceeded",
                retryable=False,
                items=total,
                max_iterations=cap,
            )
        loops = [LoopInfo(item=item, index=i, total=total) for i, item in enumerate(items)]
        results: list[Any] = [None] * total
        errors: list[dict[str, Any]] = []
        if config.mode == "parallel" and total > 1:
            self._parallel(ctx, config, loops, results, errors)
        else:
            for loop in loops:
                ctx.check_cancelled()
                try:
                    results[loop.index] = ctx.run_loop_body(loop)
                except Exception as exc:
                    self._failed(config, loop.index, exc, errors)
        errors.sort(key=lambda e: e["index"])
        return {"results": results, "errors": errors, "count": total}

    @staticmethod
    def _failed(
        config: LoopConfig, index: int, exc: Exception, errors: list[dict[str, Any]]
    ) -> None:
        if config.on_error == "stop":
            retryable = exc.retryable if isinstance(exc, NodeError) else True
            raise NodeError(
                f"loop item {index} failed: {exc}",
                code="loop_item_failed",
                retryable=retryable,
                index=index,
                error=error_dict(exc),
            ) from exc
        errors.append({"index": index, "error": error_dict(exc)})

    def _parallel(
        self,
        ctx: NodeContext,
        config: LoopConfig,
        loops: list[LoopInfo],
        results: list[Any],
        errors: list[dict[str, Any]],
    ) -> None:
        def body(loop: LoopInfo) -> Any:
            ctx.check_cancelled()
            return ctx.run_loop_body(loop)

        workers = min(config.max_concurrency, len(loops))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"loop-{ctx.node_id}")
        futures: dict[Future[Any], int] = {}
        try:
            # each item runs in a copy of this context: the engine's per-run context variables
            # (e.g. what a human question needs to pause the run) must reach the body
            futures = {
                pool.submit(contextvars.copy_context().run, body, loop): loop.index
                for loop in loops
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=futures.__getitem__):
                    index = futures[fut]
                    exc = fut.exception()
                    if exc is None:
                        results[index] = fut.result()
                    elif isinstance(exc, Exception):
                        self._failed(config, index, exc, errors)
                    else:
                        raise exc  # a control signal (cancel, suspend): stop everything
                if pending:
                    ctx.check_cancelled()
        finally:
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
