"""Workspace and workflow commands: init, db upgrade, validate, import, export, node-types."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from workspace.cli.app import EXIT_INVALID, _read, _workspace, cli
from workspace.settings import load_settings


@cli.command()
@click.argument("directory", required=False, default=None)
@click.pass_context
def init(ctx: click.Context, directory: str | None) -> None:
    """Create a workspace folder (DIRECTORY, else --dir, else the current one) and its database."""
    from workspace.store import upgrade_database

    folder = Path(directory or ctx.find_root().obj.get("dir") or ".").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings().model_copy(update={"workspace_dir": folder})
    url = settings.resolved_database_url()
    upgrade_database(url)
    click.echo(f"workspace ready in {folder.resolve()} ({url})")


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every migration (works from an empty database)."""
    from workspace.store import upgrade_database

    opts = ctx.find_root().obj
    settings = load_settings()
    if opts.get("url"):
        url = opts["url"]
    else:
        if opts.get("dir"):
            settings = settings.model_copy(update={"workspace_dir": Path(opts["dir"])})
        settings.workspace_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
    upgrade_database(url)
    click.echo(f"database at head: {url.split('@')[-1]}")


@cli.command()
@click.argument("file")
@click.option("--draft", is_flag=True, help="Accept steps without content; list what is missing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def validate(file: str, draft: bool, as_json: bool) -> None:
    """Check a DSL file; prints every problem with line and column (exit 2 when invalid)."""
    from workspace import dsl
    from workspace.sdk.registry import NodeRegistry

    text = _read(file)
    report = dsl.validate(text, NodeRegistry.discover(), draft=draft, filename=file)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for p in report.errors:
            click.echo(p.render(file), err=True)
        for p in report.warnings:
            click.echo("warning: " + p.render(file), err=True)
        if report.missing:
            click.echo(f"missing: {json.dumps(report.missing)}")
        if report.valid and report.graph is not None:
            graph = report.graph
            click.echo(f"{file}: valid ({len(graph.nodes)} nodes, {len(graph.edges)} edges)")
    sys.exit(0 if report.valid else EXIT_INVALID)


@cli.command("import")
@click.argument("file")
@click.pass_context
def import_(ctx: click.Context, file: str) -> None:
    """Save and publish a DSL file; prints the slug."""
    ws = _workspace(ctx)
    version = ws.import_dsl(_read(file), filename=file)
    wf = ws.store.workflows.get_by_id(version.workflow_id)
    click.echo(wf.slug)
    click.echo(f"version {version.number} {version.content_hash[:19]}", err=True)


@cli.command()
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.option(
    "--version", "version", type=int, default=None, help="Version number (default latest)."
)
@click.pass_context
def export(ctx: click.Context, slug: str, fmt: str, version: int | None) -> None:
    """Print a stored workflow as DSL (round-trips through `plait import`)."""
    click.echo(_workspace(ctx).export(slug, format=fmt, version=version), nl=False)


@cli.command("node-types")
@click.option("--json", "as_json", is_flag=True)
def node_types(as_json: bool) -> None:
    """List node types with their ports and config schema."""
    from workspace.sdk.registry import NodeRegistry

    specs = NodeRegistry.discover().specs()
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in specs], indent=2))
        return
    for s in specs:
        ins = ", ".join(f"{p.name}:{p.type.value}" for p in s.inputs) or "-"
        outs = ", ".join(f"{p.name}:{p.type.value}" for p in s.outputs) or "-"
        flags = [f for f, on in (("routes", s.routes), ("side-effects", s.side_effects)) if on]
        alias = f" (aliases: {', '.join(s.aliases)})" if s.aliases else ""
        click.echo(f"{s.name:<18} {s.category:<8} in[{ins}] out[{outs}] {' '.join(flags)}{alias}")
        if s.description:
            click.echo(f"{'':<18} {s.description}")
