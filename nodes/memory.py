"""Memory node types (SPEC §3 Memory): ``memory_write``, ``memory_read``, ``identify_user``.

Usable as steps and as agent tools. They reach long-term memory through ``ctx.memory``
(:mod:`workspace.sdk.memory`): the platform builds the addresses, so a node can only reach the
memory of its own owner, and as a tool the model can never choose whose memory (``user``
is the workflow author's field, not the model's).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port

Scope = Literal["run", "user", "workflow", "global"]
Kind = Literal["fact", "episode"]

_SCOPE_HELP = (
    "`run` (this run), `user` (the run's user, or the one identify_user found), `workflow` "
    "(every run of this workflow) or `global` (every workflow of the same owner)."
)
_USER_HELP = (
    "Whose `user` memory (template, e.g. `{{ who.user_id }}`); default: the user identified "
    "in this run, else the run's user. Never set by a model."
)


class MemoryWriteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(
        default=None,
        description="A fact's key (writing it again replaces the fact). Without a key the "
        "value is recorded as an episode.",
    )
    value: Any = Field(default=None, description="What to remember (text or any JSON value).")
    kind: Kind | None = Field(
        default=None, description="`fact` (needs a key) or `episode`; default: fact if a key."
    )
    scope: Scope = Field(default="user", description="Where: " + _SCOPE_HELP)
    tags: list[str] = Field(default_factory=list, description="Words to find it by.")
    user: str | None = Field(default=None, description=_USER_HELP)

    @model_validator(mode="after")
    def _fact_needs_key(self) -> MemoryWriteConfig:
        if self.kind == "fact" and not self.key:
            raise ValueError("a fact needs a `key`")
        return self


class MemoryWrite(NodeType):
    """Remember a fact (by key) or record an episode in long-term memory.
    Output: `{"output": "remembered", "item": {id, kind, scope, key, value, ...}}`."""

    name = "memory_write"
    category = "memory"
    Config = MemoryWriteConfig
    side_effects = True
    content_fields = ("value",)
    tool_fields = frozenset({"key", "value", "kind", "scope", "tags"})
    outputs = (
        Port(name="output", type=DataType.STRING, description="`remembered`"),
        Port(name="item", type=DataType.OBJECT, description="the stored item"),
    )

    def execute(self, ctx: NodeContext, config: MemoryWriteConfig, input: Any) -> dict[str, Any]:
        value = config.value if config.value is not None else input
        if value is None or value == "":
            raise NodeError(
                "memory_write has nothing to remember (no value, no input)",
                code="missing_value",
                retryable=False,
                field="value",
            )
        tags = config.tags
        if config.kind == "episode" or not config.key:
            item = ctx.memory.record(value, scope=config.scope, user=config.user, tags=tags)
        else:
            item = ctx.memory.remember(
                config.key, value, scope=config.scope, user=config.user, tags=tags
            )
        return {"output": "remembered", "item": item}


class MemoryReadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(default=None, description="Read the fact with this key.")
    query: str | None = Field(
        default=None, description="Search by these words (or by meaning, with an embedder)."
    )
    scope: Scope | Literal["all"] = Field(
        default="all",
        description="Where to look: `all` (run, user, workflow, global; for a key: user) or "
        + _SCOPE_HELP,
    )
    kind: Kind | None = Field(default=None, description="Only facts or only episodes.")
    limit: int = Field(default=5, ge=1, le=100, description="Most items returned.")
    mode: Literal["auto", "keyword", "semantic"] = Field(
        default="auto", description="`auto`: by meaning when an embedder is configured."
    )
    user: str | None = Field(default=None, description=_USER_HELP)

    @model_validator(mode="after")
    def _one_way(self) -> MemoryReadConfig:
        if self.key and self.query:
            raise ValueError("give `key` or `query`, not both")
        return self


class MemoryRead(NodeType):
    """Read long-term memory: a fact by `key`, a search by `query`, or the latest items.
    Output: `{"output": value | [items], "found": bool, "items": [...]}`."""

    name = "memory_read"
    category = "memory"
    Config = MemoryReadConfig
    tool_fields = frozenset({"key", "query", "scope", "kind", "limit"})

    def execute(self, ctx: NodeContext, config: MemoryReadConfig, input: Any) -> dict[str, Any]:
        memory = ctx.memory
        if config.key:
            scope = "user" if config.scope == "all" else config.scope
            item = memory.recall(config.key, scope=scope, user=config.user)
            return {
                "output": None if item is None else item["value"],
                "found": item is not None,
                "items": [] if item is None else [item],
            }
        if config.query:
            scopes: Any = (
                ("run", "user", "workflow", "global") if config.scope == "all" else (config.scope,)
            )
            items = memory.search(
                config.query,
                scopes=scopes,
                kind=config.kind,
                limit=config.limit,
                user=config.user,
                mode=config.mode,
            )
        else:
            scope = "user" if config.scope == "all" else config.scope
            if scope == "user" and not (config.user or memory.current_user()):
                items = []
            else:
                items = memory.recent(
                    scope=scope, kind=config.kind, limit=config.limit, user=config.user
                )
        return {"output": items, "found": bool(items), "items": items}


class IdentifyUserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        default="chat", min_length=1, description="The channel: `chat`, `telegram`, `email` ..."
    )
    external_id: Any = Field(
        default=None,
        description="The person's id on that channel (template), e.g. "
        "`{{ trigger.user }}`; default: the trigger's `user` / `user_id` / `from.id`.",
    )
    user: str | None = Field(
        default=None,
        description="Link the identity to this user (e.g. after the person proved who they "
        "are); default: the user it is linked to, else a new one.",
    )
    display_name: str | None = Field(default=None, description="A name to keep with it.")
    create: bool = Field(default=True, description="Make a new user for an unknown identity.")


def _trigger_identity(trigger: Any) -> Any:
    if not isinstance(trigger, dict):
        return None
    for key in ("user_id", "user"):
        if trigger.get(key) not in (None, ""):
            return trigger[key]
    sender = trigger.get("from")
    if isinstance(sender, dict) and sender.get("id") is not None:
        return sender["id"]
    return None


class IdentifyUser(NodeType):
    """Map a channel identity (Telegram id, chat login, e-mail) to one user across channels;
    later memory steps of the run use that user, the run's own context is left unchanged.
    Output: `{"output": user_id, "user_id", "known": bool, "identities": [...]}`."""

    name = "identify_user"
    category = "memory"
    Config = IdentifyUserConfig
    side_effects = True
    tool_fields = frozenset({"channel", "external_id", "display_name"})
    outputs = (
        Port(name="output", type=DataType.STRING, description="the user id"),
        Port(name="user_id", type=DataType.STRING, description="the user id"),
        Port(name="known", type=DataType.BOOLEAN, description="whether it was known before"),
    )

    def execute(self, ctx: NodeContext, config: IdentifyUserConfig, input: Any) -> dict[str, Any]:
        external = config.external_id
        if external is None or external == "":
            external = _trigger_identity(ctx.trigger)
        if external is None or external == "" or isinstance(external, dict | list):
            raise NodeError(
                "identify_user needs `external_id` (the trigger has no user / user_id / from.id)",
                code="missing_identity",
                retryable=False,
                field="external_id",
            )
        found = ctx.memory.identify(
            config.channel,
            str(external),
            user=config.user,
            display_name=config.display_name,
            create=config.create,
        )
        return {"output": found["user_id"], **found}
