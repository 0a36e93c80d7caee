"""Run commands: run, resume, recover, runs, show, cancel."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from workspace.cli.app import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_WAITING,
    _fail,
    _json_arg,
    _read,
    _workspace,
    cli,
)
from workspace.cli.render import event_line, short, waiting_lines
from workspace.domain.run import RunStatus
from workspace.runtime.dispatch import STABLE_EVENTS

_EXIT = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.WAITING: EXIT_WAITING,
    RunStatus.FAILED: EXIT_FAILED,
    RunStatus.CANCELLED: EXIT_FAILED,
}


def _finish(handle: Any, as_json: bool) -> None:
    handle.refresh()
    if as_json:
        click.echo(json.dumps(handle.summary(), default=str, ensure_ascii=False))
    else:
        run = handle.run
        click.echo(f"run {run.id} {run.status.value}")
        if run.status == RunStatus.WAITING:
            for line in waiting_lines(handle):
                click.echo(line)
            if handle.pending:
                click.echo(
                    f"  answer with: plait resume {run.id} --answer approve|reject|JSON"
                    " [--feedback TEXT]"
                )
        elif run.status == RunStatus.FAILED:
            err = run.error or {}
            click.echo(
                f"  {err.get('code')}: {err.get('message')}"
                + (f" (node {err['node_id']})" if err.get("node_id") else "")
            )
        else:
            click.echo(json.dumps(run.output, indent=2, default=str, ensure_ascii=False))
    sys.exit(_EXIT.get(handle.status, EXIT_FAILED))


def _live(ws: Any, as_json: bool) -> Any:
    if as_json:
        return lambda: None

    def show(ev: Any) -> None:
        line = event_line(ev)
        if line:
            click.echo(line)

    return ws.subscribe(show)


@cli.command()
@click.argument("target")
@click.option("--input", "input_", default=None, help="Trigger payload as JSON (or @file.json).")
@click.option("--trigger", default=None, help="Trigger node id (default: the first trigger).")
@click.option("--inline", is_flag=True, help="Run in this process even if workers are up.")
@click.option("--json", "as_json", is_flag=True, help="Print only one JSON object.")
@click.pass_context
def run(
    ctx: click.Context,
    target: str,
    input_: str | None,
    trigger: str | None,
    inline: bool,
    as_json: bool,
) -> None:
    """Run a workflow file or a stored slug; exit 0 succeeded, 1 failed, 3 waiting.

    Runs go to the workers when the workspace has them (``plait up`` / ``plait worker``),
    else run in this process; ``--inline`` always runs here."""
    ws = _workspace(ctx, inline=inline)
    payload = _json_arg(input_, "--input")
    path = Path(target)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        text = _read(target)
        version = ws.import_dsl(text, filename=target)
        slug = ws.store.workflows.get_by_id(version.workflow_id).slug
    else:
        slug = target
    if ws.remote:  # the workers drive it: follow its events from the stream
        handle = ws.run(slug, payload, trigger=trigger, wait=False)
        for ev in ws.events(handle.id):
            line = None if as_json else event_line(ev)
            if line:
                click.echo(line)
            if ev.type in STABLE_EVENTS:
                break
        _finish(handle.refresh(), as_json)
    unsubscribe = _live(ws, as_json)
    try:
        handle = ws.run(slug, payload, trigger=trigger)
    finally:
        unsubscribe()
    _finish(handle, as_json)


@cli.command()
@click.argument("run_id")
@click.option("--answer", required=True, help="approve | reject | JSON answer")
@click.option("--node", default=None, help="Which waiting node to answer (default: the first).")
@click.option(
    "--feedback",
    default=None,
    help="Comment sent with the answer (what to revise, with --answer request_revision).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def resume(
    ctx: click.Context,
    run_id: str,
    answer: str,
    node: str | None,
    feedback: str | None,
    as_json: bool,
) -> None:
    """Answer a waiting human step and continue the run."""
    ws = _workspace(ctx)
    handle = ws.get_run(run_id)
    pending = [p for p in handle.pending if node is None or p["node_id"] == node]
    if not pending:
        _fail(
            f"run {run_id} is {handle.status.value} and has no open request"
            + (f" at {node}" if node else ""),
            EXIT_INVALID,
        )
    try:
        value: Any = json.loads(answer)
    except json.JSONDecodeError:
        value = answer
    if feedback is not None:
        if isinstance(value, dict):
            value = {**value, "feedback": feedback}
        elif isinstance(value, str):
            value = {"action": value, "feedback": feedback}
        else:
            _fail(
                "--feedback goes with an action (approve, reject, ...) or a JSON object",
                EXIT_INVALID,
            )
    unsubscribe = _live(ws, as_json)
    try:
        handle = ws.resume(run_id, pending[0]["token"], value)
    finally:
        unsubscribe()
    _finish(handle, as_json)


@cli.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def recover(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Continue a run interrupted by a crash from its last checkpoint."""
    ws = _workspace(ctx)
    unsubscribe = _live(ws, as_json)
    try:
        handle = ws.recover(run_id)
    finally:
        unsubscribe()
    _finish(handle, as_json)


@cli.command()
@click.argument("run_id")
@click.pass_context
def cancel(ctx: click.Context, run_id: str) -> None:
    """Cancel a run (and its child runs)."""
    handle = _workspace(ctx).cancel(run_id)
    click.echo(f"run {handle.id} {handle.status.value}")


@cli.command("runs")
@click.option("--workflow", default=None, help="Only runs of this workflow slug.")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def runs_(ctx: click.Context, workflow: str | None, limit: int, as_json: bool) -> None:
    """List recent runs, newest first."""
    runs = _workspace(ctx).runs(workflow, limit=limit)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    for r in runs:
        click.echo(
            f"{r.id}  {r.workflow_slug:<24} v{r.version_number:<3} {r.status.value:<10} "
            f"{r.created_at:%Y-%m-%d %H:%M:%S}"
        )


@cli.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", "with_events", is_flag=True, help="Also print the event log.")
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool, with_events: bool) -> None:
    """Inspect a run: status, steps, output (and events)."""
    handle = _workspace(ctx).get_run(run_id)
    if as_json:
        data = handle.summary()
        if with_events:
            data["events"] = [e.model_dump(mode="json") for e in handle.events]
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
        return
    r = handle.run
    click.echo(f"run {r.id}  {r.workflow_slug} v{r.version_number}  {r.status.value}")
    click.echo(f"  trigger {r.trigger_id}  created {r.created_at:%Y-%m-%d %H:%M:%S}")
    if r.rerun_of:
        click.echo(f"  re-run of {r.rerun_of} from {r.rerun_from_node}")
    for s in handle.steps:
        it = f" [{s.iteration}]" if s.iteration else ""
        extra = (
            f"  {s.error.get('code')}: {short(s.error.get('message', ''))}"
            if s.error
            else (f"  {short(s.output)}" if s.output is not None else "")
        )
        click.echo(f"  {s.status.value:<10} {s.node_id}{it}{extra}")
    if r.status == RunStatus.WAITING:
        for waiting in waiting_lines(handle):
            click.echo(waiting)
    if r.error:
        click.echo(f"  error: {r.error.get('code')}: {r.error.get('message')}")
    if r.output is not None:
        click.echo("  output: " + short(r.output, 400))
    if with_events:
        for e in handle.events:
            line = event_line(e)
            if line:
                click.echo(line)
