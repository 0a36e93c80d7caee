"""``plait notebook export|import``: a workflow as a Jupyter notebook and back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from workspace.cli.app import EXIT_INVALID, _fail, _read, _workspace, cli


@cli.group()
def notebook() -> None:
    """Workflows as notebooks (one %%workflow skeleton cell, one %%step cell per step)."""


@notebook.command("export")
@click.argument("slug")
@click.option("-o", "--output", "output", required=True, help="The .ipynb file to write.")
@click.option("--version", type=int, default=None, help="Version number (default latest).")
@click.pass_context
def export_notebook(ctx: click.Context, slug: str, output: str, version: int | None) -> None:
    """Write a workflow as a notebook (import it back with `plait notebook import`)."""
    data = _workspace(ctx).export_notebook(slug, version=version)
    path = Path(output)
    try:
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}", EXIT_INVALID)
    steps = sum(1 for c in data["cells"] if str(c["source"]).startswith("%%step"))
    click.echo(f"{output}: {len(data['cells'])} cells ({steps} steps)")


@notebook.command("import")
@click.argument("file")
@click.option("--draft", is_flag=True, help="Save the draft only (do not publish).")
@click.pass_context
def import_notebook(ctx: click.Context, file: str, draft: bool) -> None:
    """Rebuild a workflow from a notebook's %%workflow and %%step cells; prints the slug."""
    result = _workspace(ctx).import_notebook(_read(file), publish=not draft)
    click.echo(result.workflow.slug)
    if result.version is not None:
        click.echo(f"version {result.version.number} {result.version.content_hash[:19]}", err=True)
    else:
        click.echo(f"draft saved from {result.cells} cells", err=True)
