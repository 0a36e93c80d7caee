"""The node type base class every built-in and third-party node derives from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from workspace.domain.graph import DataType, EdgeKind
from workspace.sdk.context import NodeContext
from workspace.sdk.spec import NodeTypeSpec, PortSpec

Port = PortSpec


class NoConfig(BaseModel):
    """Config model for node types that take no configuration."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class RevisionRequest:
    """Send the run back to ``target``, an earlier node on the path to this one (SPEC §4.5):
    it runs again with ``feedback`` (``{{ revision.feedback }}``), and so does everything from
    there down to this node, which then runs again too."""

    target: str
    feedback: Any = None
    answered_by: str | None = None


@dataclass
class NodeResult:
    """What an executor returns: an output dict (keys = output ports) and, for routing nodes,
    the route value it emitted. Returning a plain dict means ``NodeResult(output=that)``.
    ``revision`` asks for a revision round (the node's step still records its output)."""

    output: dict[str, Any] = field(default_factory=dict)
    route: str | None = None
    revision: RevisionRequest | None = None


class NodeType:
    """Subclass, set the class attributes, implement :meth:`execute`.

    * ``Config`` — pydantic model validated against the node's (rendered) config at run time and
      against the raw config on save (template strings are exempt from type checks on save).
    * ``raw_fields`` — config fields the engine must NOT render as templates before calling
      :meth:`execute` (code snippets, loop bodies, paths); the node renders them itself if needed.
    * ``routes`` / ``static_routes`` — a routing node returns ``NodeResult(route=...)``; route
      edges leaving it are validated against :meth:`route_values`.
    * ``side_effects`` — the engine journals the node's result under its idempotency key so that a
      resumed run never repeats it.
    * ``attachments`` — attachment edge kinds (llm/tool/memory) this node accepts.
    """

    name: ClassVar[str]
    category: ClassVar[str] = "logic"
    description: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[BaseModel]] = NoConfig
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec(name="input", type=DataType.ANY),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec(name="output", type=DataType.ANY),)
    routes: ClassVar[bool] = False
    static_routes: ClassVar[tuple[str, ...] | None] = None
    side_effects: ClassVar[bool] = False
    is_trigger: ClassVar[bool] = False
    #: waits for something outside the run (a human, a timer): ``timeout_s`` is then its answer
    #: deadline and the engine does not run it under a compute time limit
    pauses: ClassVar[bool] = False
    attachments: ClassVar[frozenset[EdgeKind]] = frozenset()
    raw_fields: ClassVar[frozenset[str]] = frozenset()
    #: config keys whose value is "missing content" in a draft (e.g. a code node without code)
    content_fields: ClassVar[tuple[str, ...]] = ()
    #: as an agent's tool, the config fields the model may fill (None: every field the
    #: attachment leaves open); the others only the workflow's author sets (network, user)
    tool_fields: ClassVar[frozenset[str] | None] = None
    #: config keys naming an earlier node on the path to this one (checked on save), e.g. the
    #: ``revision_target`` of a human node
    upstream_fields: ClassVar[tuple[str, ...]] = ()

    def start_gate(self, config: dict[str, Any]) -> str | None:
        """With this raw config, must the node be answered before the run does any work (a
        human's ``approve_to_start``)? Returns the route on which the run may start (any other
        result ends it, ``cancelled``); None: not a start gate."""
        return None

    def route_values(self, config: dict[str, Any]) -> set[str] | None:
        """Route values this node can emit given its raw config; None = not known statically."""
        return set(self.static_routes) if self.static_routes is not None else None

    def execute(self, ctx: NodeContext, config: Any, input: Any) -> NodeResult | dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def spec(cls) -> NodeTypeSpec:
        return NodeTypeSpec(
            name=cls.name,
            category=cls.category,
            description=cls.description or (cls.__doc__ or "").strip().split("\n\n")[0],
            aliases=cls.aliases,
            inputs=cls.inputs,
            outputs=cls.outputs,
            config_schema=cls.Config.model_json_schema(),
            routes=cls.routes,
            static_routes=cls.static_routes,
            side_effects=cls.side_effects,
            is_trigger=cls.is_trigger,
            attachments=tuple(sorted(k.value for k in cls.attachments)),
        )
