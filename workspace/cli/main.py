"""Console entry point ``plait``."""

from __future__ import annotations

from workspace.cli import (  # noqa: F401  (registers the commands)
    credentials,
    mockllm,
    notebook,
    runs,
    schedules,
    server,
    workflows,
)
from workspace.cli.app import cli


def main() -> None:
    cli(prog_name="plait")


if __name__ == "__main__":
    main()
