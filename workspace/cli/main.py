"""Console entry point ``plait``."""

from __future__ import annotations

from workspace.cli import runs, schedules, server, workflows  # noqa: F401  (registers commands)
from workspace.cli.app import cli


def main() -> None:
    cli(prog_name="plait")


if __name__ == "__main__":
    main()
