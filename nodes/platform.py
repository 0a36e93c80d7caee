"""Self-awareness tools (SPEC §3, §10): agents look at and extend Plait itself through
``ctx.platform``, as the owner of their workflow — ``whoami``, ``system_health``,
``workflow_discover``, ``platform_api`` (allow-listed reads), ``workflow_create`` and
``workflow_patch`` (drafts only, never published), ``spawn_and_await`` (child runs in
parallel, depth- and count-limited), ``scheduler_tools`` (list / pause / resume)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workspace.domain import DataType
from workspace.sdk import NodeContext, NodeType, Port


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _PlatformTool(NodeType):
    category = "platform"
    Config = _Config


class Whoami(_PlatformTool):
    """Who and where this agent is: node, run, workflow, version, owner, user, depth.
    Output: `{"output": {...}}`."""

    name = "whoami"

    def execute(self, ctx: NodeContext, config: _Config, input: Any) -> dict[str, Any]:
        return {"output": ctx.platform.whoami()}


class SystemHealth(_PlatformTool):
    """The platform's health: database, workers, queue, runs in flight, models and tools.
    Output: `{"output": {...}}`."""

    name = "system_health"

    def execute(self, ctx: NodeContext, config: _Config, input: Any) -> dict[str, Any]:
        return {"output": ctx.platform.health()}


class DiscoverConfig(_Config):
    query: str | None = Field(default=None, description="Words to look for (default: all).")
    limit: int = Field(default=20, ge=1, le=200, description="Most workflows listed.")


class WorkflowDiscover(_PlatformTool):
    """List or search the workflows of this workflow's owner, with their triggers and
    versions. Output: `{"output": [{slug, name, description, tags, latest_version,
    draft_author, triggers}], "count": n}`."""

    name = "workflow_discover"
    Config = DiscoverConfig
    outputs = (Port(name="output", type=DataType.ARRAY, description="the workflows"),)

    def execute(self, ctx: NodeContext, config: DiscoverConfig, input: Any) -> dict[str, Any]:
        found = ctx.platform.discover(config.query, limit=config.limit)
        return {"output": found, "count": len(found)}


class CreateConfig(_Config):
    dsl: str = Field(
        default="",
        description="The whole workflow as a Plait YAML DSL document (name, slug, trigger, "
        "steps). Saved as a new workflow's draft; never published.",
    )


class WorkflowCreate(_PlatformTool):
    """Write a new workflow from DSL as a draft (a person publishes it). Output:
    `{"output": message, "slug", "draft": true, "steps", "missing"}`."""

    name = "workflow_create"
    Config = CreateConfig
    side_effects = True
    raw_fields = frozenset({"dsl"})
    content_fields = ("dsl",)

    def execute(self, ctx: NodeContext, config: CreateConfig, input: Any) -> dict[str, Any]:
        return ctx.platform.create_workflow(config.dsl)


class PatchConfig(_Config):
    workflow: str = Field(default="", description="Slug of the workflow to change.")
    patches: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Fork-and-patch actions: add_step (after), remove_step, update_prompt, "
        "update_config, add_tool, remove_tool, update_trigger, update_model.",
    )
    into: str | None = Field(
        default=None,
        description="Slug of the new draft to write; default: the workflow itself, allowed "
        "only when its draft was written by an agent.",
    )


class WorkflowPatch(_PlatformTool):
    """Fork-and-patch a workflow into a draft (never published). Output:
    `{"output": message, "slug", "based_on", "draft": true, "steps", "missing"}`."""

    name = "workflow_patch"
    Config = PatchConfig
    side_effects = True
    raw_fields = frozenset({"patches"})
    content_fields = ("workflow",)

    def execute(self, ctx: NodeContext, config: PatchConfig, input: Any) -> dict[str, Any]:
        return ctx.platform.patch_workflow(config.workflow, config.patches, into=config.into)


class ChildRun(_Config):
    workflow: str = Field(description="Slug of a published workflow.")
    input: Any = Field(default=None, description="Its input.")


class SpawnConfig(_Config):
    runs: list[ChildRun] = Field(
        default_factory=list, description="The runs to start together: `[{workflow, input}]`."
    )
    timeout_s: float | None = Field(
        default=None, gt=0, description="Give up (and cancel them) after this long."
    )


class SpawnAndAwait(_PlatformTool):
    """Run several workflows in parallel as child runs and wait for all (depth-limited).
    Output: `{"output": [{workflow, run_id, status, output, error}], "succeeded": n}`."""

    name = "spawn_and_await"
    Config = SpawnConfig
    side_effects = True
    content_fields = ("runs",)
    tool_fields = frozenset({"runs"})

    def execute(self, ctx: NodeContext, config: SpawnConfig, input: Any) -> dict[str, Any]:
        results = ctx.platform.spawn(
            [r.model_dump() for r in config.runs], timeout_s=config.timeout_s
        )
        done = sum(1 for r in results if r["status"] == "succeeded")
        return {"output": results, "succeeded": done}


class SchedulerConfig(_Config):
    action: Literal["list", "pause", "resume"] = Field(
        default="list", description="`list` schedules, or `pause` / `resume` one."
    )
    schedule_id: str | None = Field(default=None, description="The schedule to pause/resume.")
    workflow: str | None = Field(default=None, description="`list`: only this workflow's.")


class SchedulerTools(_PlatformTool):
    """List, pause or resume the schedules of this workflow's owner. Output:
    `{"output": [schedules] | schedule}`."""

    name = "scheduler_tools"
    Config = SchedulerConfig
    side_effects = True

    def execute(self, ctx: NodeContext, config: SchedulerConfig, input: Any) -> dict[str, Any]:
        result = ctx.platform.schedules(
            config.action, schedule_id=config.schedule_id, workflow=config.workflow
        )
        return {"output": result}


ApiOperation = Literal[
    "workflows.list",
    "workflows.get",
    "workflows.versions",
    "runs.list",
    "runs.get",
    "node_types.list",
    "node_types.get",
    "schedules.list",
]


class ApiConfig(_Config):
    operation: ApiOperation = Field(description="The read operation.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Its parameters: `slug` (workflows.get/versions), `run_id` (runs.get), "
        "`workflow`/`status`/`limit` (runs.list), `name` (node_types.get), `query`.",
    )


class PlatformApi(_PlatformTool):
    """Read the platform through a small allow-listed API (workflows, runs, node types,
    schedules of this workflow's owner). Output: `{"output": result}`."""

    name = "platform_api"
    Config = ApiConfig

    def execute(self, ctx: NodeContext, config: ApiConfig, input: Any) -> dict[str, Any]:
        return {"output": ctx.platform.api(config.operation, config.params)}


PLATFORM_TYPES: list[type[NodeType]] = [
    Whoami,
    SystemHealth,
    WorkflowDiscover,
    WorkflowCreate,
    WorkflowPatch,
    SpawnAndAwait,
    SchedulerTools,
    PlatformApi,
]
