"""``plait``: workspace, workflow and run commands.

Exit codes: 0 success / run succeeded, 1 run failed or cancelled, 2 invalid input (DSL errors,
bad arguments), 3 run waiting for a human, 4 not found / conflict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from workspace.errors import (
    ConfigurationError,
    ConflictError,
    DSLError,
    NotFoundError,
    PlaitError,
    ValidationError,
)
from workspace.settings import load_settings

EXIT_FAILED, EXIT_INVALID, EXIT_WAITING, EXIT_NOT_FOUND = 1, 2, 3, 4


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _workspace(ctx: click.Context, *, inline: bool = False) -> Any:
    from workspace.runtime.workspace import Workspace

    opts = ctx.obj
    if "ws" not in opts:
        settings = _settings(ctx)
        target = opts.get("url") or settings.database_url or settings.workspace_dir
        opts["ws"] = Workspace.open(target, settings=settings, inline=inline)
        ctx.call_on_close(opts["ws"].close)
    return opts["ws"]


def _settings(ctx: click.Context) -> Any:
    """Settings from the environment, with ``--dir`` as the workspace folder."""
    settings = load_settings()
    folder = ctx.obj.get("dir")
    if folder:
        settings = settings.model_copy(update={"workspace_dir": Path(folder)})
    return settings


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}", EXIT_INVALID)
    except UnicodeDecodeError as exc:
        _fail(
            f"cannot read {path}: not UTF-8 text ({exc.reason} at byte {exc.start})", EXIT_INVALID
        )


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    if text.startswith("@"):
        text = _read(text[1:])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{what} is not valid JSON: {exc}", EXIT_INVALID)


class PlaitGroup(click.Group):
    """Turns Plait errors into clear messages and exit codes: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DSLError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_INVALID)
        except (NotFoundError, ConflictError) as exc:
            _fail(f"{exc.message} [{exc.code}]", EXIT_NOT_FOUND)
        except (ValidationError, ConfigurationError) as exc:
            _fail(f"{exc.message} [{exc.code}]", EXIT_INVALID)
        except PlaitError as exc:  # the store or another part failed underneath
            _fail(f"{exc.message} [{exc.code}]", EXIT_FAILED)
        except OSError as exc:  # e.g. a workspace folder that cannot be created
            where = f" ({exc.filename})" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}", EXIT_INVALID)


@click.group(cls=PlaitGroup)
@click.option(
    "--dir",
    "dir_",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace folder (default: $PLAIT_WORKSPACE_DIR or the current folder).",
)
@click.option("--url", default=None, help="Database URL (default: $PLAIT_DATABASE_URL).")
@click.version_option(package_name="plait")
@click.pass_context
def cli(ctx: click.Context, dir_: str | None, url: str | None) -> None:
    """Plait: notebook- and chat-first LLM agent workflows."""
    ctx.obj = {"dir": dir_, "url": url}
