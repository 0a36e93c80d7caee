"""One typed settings tree, read at the edge (CLI, server, worker) and passed down.

Environment variables use the prefix ``PLAIT_``; nested groups use ``__``
(``PLAIT_SANDBOX__TIMEOUT_S``).
Nothing here runs at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseModel):
    """Limits for the ``code`` node's subprocess sandbox."""

    timeout_s: float = 30.0
    memory_mb: int = 512
    cpu_s: int = 30
    allow_network: bool = False
    python: str | None = Field(
        default=None,
        description="Interpreter for code snippets (default: the running one). When the worker "
        "runs as root and this interpreter is world-readable (e.g. /usr/bin/python3), snippets "
        "run as the unprivileged user 'nobody'.",
    )
    allow_root: bool = Field(
        default=False,
        description="Run snippets as root when no unprivileged interpreter is available "
        "(unsafe: a snippet could then change the workspace database).",
    )
    prefork: bool = Field(
        default=True,
        description="Fork each snippet from a warm sandbox zygote per worker (~5 ms) instead of "
        "starting a new interpreter (~45 ms); same isolation. Falls back to starting one when "
        "the zygote cannot run.",
    )
    reuse: Literal["workflow", "never"] = Field(
        default="workflow",
        description="'workflow': a warm sandbox host (same isolation) runs many snippets of one "
        "workflow one after another, ~0.2 ms each instead of ~4 ms of CPU per fork; module "
        "state persists between them (as in a warm serverless container), and a snippet that "
        "leaves a thread, process, open file, handler or timer behind ends its host. "
        "'never': a fresh fork per snippet, nothing shared.",
    )


class EngineSettings(BaseModel):
    default_run_timeout_s: float | None = None
    default_node_timeout_s: float | None = None
    max_loop_iterations: int = 10_000
    max_subworkflow_depth: int = 8
    graph_cache_size: int = 256


class RuntimeSettings(BaseModel):
    """Workers, leases, the sweeper and webhooks (SPEC §4.6, §6)."""

    worker_threads: int = Field(default=8, ge=1, description="Threads per worker process")
    lease_ttl_s: float = Field(default=3.0, gt=0, description="A driver's lease lasts this long")
    heartbeat_s: float = Field(default=1.0, gt=0, description="Leases are renewed this often")
    sweep_interval_s: float = Field(default=1.0, gt=0, description="Sweeper pass period")
    queued_grace_s: float = Field(
        default=30.0, gt=0, description="A queued run nobody claimed is re-enqueued after this"
    )
    suspend_after_s: float = Field(
        default=1.0,
        ge=0,
        description="Waits and retry backoffs longer than this park the run (status waiting, "
        "worker released, woken by the sweeper) when workers drive it; shorter ones sleep",
    )
    inline_timer_poll_s: float = Field(
        default=1.0,
        ge=0,
        description="Without workers, a process whose run waits with a deadline (a human "
        "step's timeout_s) checks for due timers this often; 0 turns it off",
    )
    webhook_dedupe_ttl_s: float = Field(default=86_400.0, gt=0)
    webhook_sync_timeout_s: float = Field(default=30.0, gt=0)
    webhook_max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_page_size: int = Field(default=200, ge=1)
    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Webhook tokens / HMAC secrets by the name a trigger's `secret` gives "
        '(JSON: PLAIT_RUNTIME__WEBHOOK_SECRETS=\'{"name": "value"}\'), used when no '
        "credential of that name is usable by the workflow's owner (`plait credentials`).",
    )


class SecretsSettings(BaseModel):
    """The key that encrypts stored credentials (SPEC §9)."""

    key: SecretStr | None = Field(
        default=None,
        description="Fernet key (primary). Unset: the workspace key file is used, created on "
        "first need. Every process of a workspace needs the same key.",
    )
    old_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Previous keys, still accepted for decryption while `plait credentials "
        "rotate-key` re-encrypts with the primary one.",
    )
    key_file: Path | None = Field(
        default=None, description="Key file (default <workspace_dir>/.plait/secret.key)."
    )
    test_timeout_s: float = Field(default=10.0, gt=0, description="Credential test timeout.")


class AISettings(BaseModel):
    """LLM providers: the model catalog's overrides (prices, windows, capabilities)."""

    models: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Catalog entries by model name, e.g. {"llama3.2": {"provider": "openai", '
        '"input_per_mtok": 0, "output_per_mtok": 0, "capabilities": ["tools"]}}; a known '
        "model keeps the fields an entry does not set.",
    )


class ToolSettings(BaseModel):
    """Agent tools that reach outside services."""

    searxng_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="SearXNG server for `web_search` (its JSON format enabled); unset: no "
        "web search",
    )
    search_timeout_s: float = Field(default=10.0, gt=0, description="Web search time limit.")


class SchedulerSettings(BaseModel):
    """The scheduler (SPEC §6): one leader fires schedules; the others stand by."""

    tick_s: float = Field(default=0.5, gt=0, description="How often the leader looks for due work")
    lock_ttl_s: float = Field(
        default=5.0,
        gt=0,
        description="The leader's lock lasts this long unless renewed (every tick); another "
        "scheduler takes over within about this long after the leader died",
    )
    misfire_grace_s: float = Field(
        default=30.0,
        gt=0,
        description="A slot fired later than this counts as missed (catch_up `skip` drops it)",
    )
    catch_up_cap: int = Field(
        default=100, ge=1, description="catch_up `run_all` fires at most this many missed slots"
    )
    retry_base_s: float = Field(
        default=10.0, gt=0, description="First retry backoff; doubles per failure, capped at 10x"
    )
    sync_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the leader reconciles every workflow's schedules with its "
        "latest version (publishing syncs at once; this catches anything else)",
    )
    fire_key_ttl_s: float = Field(
        default=7 * 86_400.0, gt=0, description="How long a fire's identity is kept for dedupe"
    )
    batch: int = Field(
        default=1000,
        ge=1,
        description="Due schedules handled per tick at most (the earliest due first; the rest "
        "next tick)",
    )
    lock_name: str = Field(
        default="scheduler", min_length=1, description="The leader lock's name in Redis"
    )


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8321, ge=0, le=65535)
    public_url: str | None = Field(
        default=None, description="Base URL users reach the server at (for printed links)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLAIT_", env_nested_delimiter="__", extra="ignore"
    )

    workspace_dir: Path = Field(default=Path("."), description="Folder holding plait.db and keys")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<workspace_dir>/plait.db"
    )
    redis_url: str | None = Field(default=None, description="Redis URL; default embedded server")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    ai: AISettings = Field(default_factory=AISettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)

    def secret_key_file(self) -> Path:
        return self.secrets.key_file or self.workspace_dir / ".plait" / "secret.key"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workspace_dir / 'plait.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
