"""``plait credentials``: encrypted secrets for LLM providers, webhooks and HTTP calls.

A secret is never a command-line argument (shell history, ``ps``): it is read from standard
input, from an environment variable (``--secret-env``) or from a hidden prompt.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from workspace.cli.app import EXIT_FAILED, EXIT_INVALID, _fail, _json_arg, _workspace, cli
from workspace.domain.credentials import CredentialKind
from workspace.vault import new_key

KINDS = [k.value for k in CredentialKind]


def _secret(secret_env: str | None) -> str:
    if secret_env:
        from_env = os.environ.get(secret_env)
        if not from_env:
            _fail(f"environment variable {secret_env} is empty or unset", EXIT_INVALID)
        return from_env
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    prompted: str = click.prompt("secret", hide_input=True)
    return prompted


def _show(item: dict[str, Any]) -> str:
    label = f"  [{item['label']}]" if item.get("label") else ""
    where = f"  {item['base_url']}" if item.get("base_url") else ""
    return f"{item['name']}  {item['kind']}  {item['secret']}{where}{label}"


@cli.group()
def credentials() -> None:
    """Credentials: secrets stored encrypted (Fernet), shown only as a hint."""


@credentials.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--base-url", default=None, help="Provider URL (OpenAI-compatible servers).")
@click.option("--params", default=None, help="Non-secret parameters as JSON.")
@click.option("--secret-env", default=None, help="Read the secret from this variable.")
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    kind: str,
    base_url: str | None,
    params: str | None,
    secret_env: str | None,
) -> None:
    """Create a credential; the secret comes from stdin, --secret-env or a hidden prompt."""
    ws = _workspace(ctx)
    cred = ws.credentials.create(
        name, kind, _secret(secret_env), base_url=base_url, params=_json_arg(params, "--params")
    )
    click.echo(_show(cred.public()))


@credentials.command("update")
@click.argument("name")
@click.option("--rename", default=None)
@click.option("--base-url", default=None, help='New base URL ("" removes it).')
@click.option("--params", default=None, help="Replace the non-secret parameters (JSON).")
@click.option("--secret", "new_secret", is_flag=True, help="Replace the secret (stdin/prompt).")
@click.option("--secret-env", default=None, help="Replace the secret from this variable.")
@click.pass_context
def update(
    ctx: click.Context,
    name: str,
    rename: str | None,
    base_url: str | None,
    params: str | None,
    new_secret: bool,
    secret_env: str | None,
) -> None:
    """Change a credential."""
    ws = _workspace(ctx)
    secret = _secret(secret_env) if (new_secret or secret_env) else None
    cred = ws.credentials.update(
        name,
        secret=secret,
        new_name=rename,
        base_url=base_url,
        params=_json_arg(params, "--params"),
    )
    click.echo(_show(cred.public()))


@credentials.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List credentials (secrets are never shown)."""
    items = [c.public() for c in _workspace(ctx).credentials.list()]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        click.echo(_show(item))


@credentials.command("delete")
@click.argument("name")
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    _workspace(ctx).credentials.delete(name)
    click.echo(f"deleted {name}")


@credentials.command("test")
@click.argument("name")
@click.pass_context
def test(ctx: click.Context, name: str) -> None:
    """Contact the provider with the credential (lists its models); exit 1 if refused."""
    result = _workspace(ctx).credentials.test(name)
    click.echo(json.dumps(result, indent=2))
    if not result["ok"]:
        sys.exit(EXIT_FAILED)


@credentials.command("models")
@click.argument("name")
@click.pass_context
def models(ctx: click.Context, name: str) -> None:
    """The models the credential's provider lists."""
    for model in _workspace(ctx).credentials.models(name):
        click.echo(model)


@credentials.command("rotate-key")
@click.pass_context
def rotate_key(ctx: click.Context) -> None:
    """Re-encrypt every secret with a new key. With the key file (the default) a new key is
    generated and the old ones kept in the file for decryption; with PLAIT_SECRETS__KEY set,
    secrets are re-encrypted with that key (put the previous one in PLAIT_SECRETS__OLD_KEYS)."""
    ws = _workspace(ctx)
    from_settings = ws.settings.secrets.key is not None
    fingerprint, count = ws.credentials.rotate_key(generate=not from_settings)
    click.echo(f"re-encrypted {count} credentials with key {fingerprint}")
    if not from_settings:
        click.echo(f"key file: {ws.settings.secret_key_file()} (restart workers to pick it up)")


@credentials.command("new-key")
def new_key_() -> None:
    """Print a fresh Fernet key (for PLAIT_SECRETS__KEY)."""
    click.echo(new_key())
