"""``plait mock-llm``: serve the scripted mock LLM (OpenAI- and Anthropic-compatible)."""

from __future__ import annotations

from pathlib import Path

import click

from workspace.cli.app import EXIT_INVALID, _fail, cli
from workspace.errors import ValidationError


@cli.command("mock-llm")
@click.option(
    "--script",
    "script_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML script: `rules: [{match: REGEX, content: TEXT | tool_calls: [...]}]`.",
)
@click.option("--demo", is_flag=True, help="Serve the bundled demo script (plait up --demo).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8399, show_default=True)
def mock_llm(script_path: Path | None, demo: bool, host: str, port: int) -> None:
    """Serve a scripted mock LLM (OpenAI Chat Completions at /v1, Anthropic Messages at /):
    answers come from the script, never from a model."""
    import uvicorn

    from workspace.mockllm import load_script
    from workspace.mockllm.app import create_mock_app
    from workspace.mockllm.demo import demo_script_text

    if (script_path is None) == (not demo):
        _fail("give --script FILE or --demo", EXIT_INVALID)
    try:
        script = load_script(script_path if script_path is not None else demo_script_text())
    except ValidationError as exc:
        _fail(exc.message, EXIT_INVALID)
    where = script_path or "the bundled demo script"
    base = f"http://{host}:{port}"
    click.echo(f"scripted mock LLM ({len(script.rules)} rules from {where}) — not a model")
    click.echo(f"  OpenAI-compatible     base_url={base}/v1")
    click.echo(f"  Anthropic-compatible  base_url={base}")
    click.echo(f"  recorded requests     {base}/_mock/requests")
    uvicorn.run(
        create_mock_app(script), host=host, port=port, log_level="warning", access_log=False
    )
