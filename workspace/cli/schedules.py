"""``plait scheduler`` (the scheduler role) and ``plait schedules`` (list, pause, resume,
run-now)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from workspace.cli.app import _workspace, cli
from workspace.cli.server import _stop_on_signals
from workspace.domain.schedule import Schedule
from workspace.errors import PlaitError


@cli.command()
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Fire schedules (trigger_schedule nodes). With Redis any number may run: one leads."""
    from workspace.runtime.scheduler.service import serve_scheduler

    ws = _workspace(ctx)
    serve_scheduler(ws, _stop_on_signals())


def _control(ctx: click.Context) -> Any:
    from workspace.runtime.scheduler import ScheduleControl
    from workspace.runtime.scheduler.launcher import InlineLauncher, QueueLauncher

    ws = _workspace(ctx)
    # no workers: a run started here is driven here, before the command returns
    launcher = QueueLauncher(ws.queue) if ws.remote else InlineLauncher(ws, wait=True)
    return ScheduleControl(ws, launcher=launcher)


def _config(control: Any, schedule: Schedule) -> dict[str, Any] | None:
    try:
        out: dict[str, Any] = dataclasses.asdict(control.spec(schedule))
    except PlaitError:
        return None
    return out


def _cadence(config: dict[str, Any] | None) -> str:
    if config is None:
        return "?"
    if config.get("cron"):
        return f"cron '{config['cron']}' {config['timezone']}"
    return f"every {config['interval_s']:g}s"


def _state(schedule: Schedule) -> str:
    if schedule.done:
        return "done"
    return "paused" if schedule.paused else "active"


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@cli.group(invoke_without_command=True)
@click.option("--workflow", default=None, help="Only this workflow's schedules (slug).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def schedules(ctx: click.Context, workflow: str | None, as_json: bool) -> None:
    """List schedules; `plait schedules pause|resume|run-now ID` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    control = _control(ctx)
    for s in control.list(workflow=workflow, limit=10_000):
        config = _config(control, s)
        if as_json:
            body = {**s.model_dump(mode="json", exclude={"rev"}), "config": config}
            click.echo(json.dumps(body, ensure_ascii=False))
            continue
        last = f"{s.last_status or '-'} {s.last_run_id or ''}".strip()
        click.echo(
            f"{s.id}  {s.workflow_slug}/{s.trigger_id}  {_cadence(config)}  {_state(s)}  "
            f"next {_when(s.next_fire_at)}  fires {s.fires}  skipped {s.skipped}  "
            f"failures {s.failures}  last {last}"
        )


@schedules.command("pause")
@click.argument("schedule_id")
@click.pass_context
def pause(ctx: click.Context, schedule_id: str) -> None:
    """Stop firing (runs in flight go on)."""
    s = _control(ctx).pause(schedule_id)
    click.echo(f"schedule {s.id} paused")


@schedules.command("resume")
@click.argument("schedule_id")
@click.pass_context
def resume(ctx: click.Context, schedule_id: str) -> None:
    """Fire again (missed slots follow the schedule's catch_up policy)."""
    s = _control(ctx).resume(schedule_id)
    click.echo(f"schedule {s.id} resumed; next fire {_when(s.next_fire_at)}")


@schedules.command("run-now")
@click.argument("schedule_id")
@click.pass_context
def run_now(ctx: click.Context, schedule_id: str) -> None:
    """Start a run of the schedule at once; prints the run id."""
    run = _control(ctx).run_now(schedule_id)
    click.echo(run.id)
