"""``build_engine``: the engine of a workspace, wired to the runtime's services (the ports the
engine and the node SDK see: child runs, models, conversations, memory, search, the platform,
error triggers) and to the workspace's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workspace.engine import Engine, EngineServices
from workspace.engine.conversations import CheckpointConversations
from workspace.expressions import Expressions
from workspace.runtime.children import InlineChildRunner
from workspace.runtime.error_triggers import ErrorTriggers
from workspace.runtime.models import WorkflowModels
from workspace.runtime.platform import PlatformService
from workspace.runtime.search import web_search_backend

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

__all__ = ["build_engine"]


def build_engine(ws: Workspace) -> Engine:
    settings, store = ws.settings, ws.store
    services = EngineServices(
        registry=ws.registry,
        runs=store.runs,
        sink=ws.sink,
        expressions=Expressions(),
        limits={
            **settings.sandbox.model_dump(),
            "max_loop_iterations": settings.engine.max_loop_iterations,
        },
        default_node_timeout_s=settings.engine.default_node_timeout_s,
        default_run_timeout_s=settings.engine.default_run_timeout_s,
    )
    services.child_runner = InlineChildRunner(ws, settings.engine.max_subworkflow_depth)
    services.models = WorkflowModels(ws.models, store.workflows)
    checkpointer = store.checkpointer()
    services.conversations = CheckpointConversations(checkpointer)
    services.memory = ws.memory
    services.search = web_search_backend(settings)
    services.platform = PlatformService(ws)
    # with workers, long waits and retry backoffs park the run instead of holding a thread
    if ws.queue is not None:
        services.suspend_after_s = settings.runtime.suspend_after_s
    services.failure_hook = ErrorTriggers(ws)  # a failed run starts its watchers
    return Engine(services, checkpointer, cache_size=settings.engine.graph_cache_size)
