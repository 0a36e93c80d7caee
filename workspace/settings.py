"""One typed settings tree, read at the edge (CLI, server, worker) and passed down.

Environment variables use the prefix ``PLAIT_``; nested groups use ``__``
(``PLAIT_SANDBOX__TIMEOUT_S``).
Nothing here runs at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
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


class EngineSettings(BaseModel):
    default_run_timeout_s: float | None = None
    default_node_timeout_s: float | None = None
    max_loop_iterations: int = 10_000
    max_subworkflow_depth: int = 8
    graph_cache_size: int = 256


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

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.workspace_dir / 'plait.db').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
