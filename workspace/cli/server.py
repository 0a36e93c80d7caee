"""``plait up``, ``plait api``, ``plait worker``, ``plait keys``: the runtime's entry points."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import click

from workspace.cli.app import EXIT_INVALID, _fail, _settings, _workspace, cli
from workspace.cli.supervisor import Supervisor

ADMIN_NAME = "admin"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8321).")
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the REST API, webhooks and event streams (FastAPI + uvicorn)."""
    import uvicorn

    from workspace.api import create_app

    ws = _workspace(ctx)
    server = ws.settings.server
    uvicorn.run(
        create_app(ws),
        host=host or server.host,
        port=port if port is not None else server.port,
        log_level=ws.settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )


@cli.command()
@click.option("--threads", type=int, default=None, help="Worker threads (default 8).")
@click.pass_context
def worker(ctx: click.Context, threads: int | None) -> None:
    """Run workflow runs from the task queue (needs Redis: PLAIT_REDIS_URL or `plait up`)."""
    from workspace.runtime.worker import serve_worker

    ws = _workspace(ctx)
    stop = _stop_on_signals()
    serve_worker(ws, stop, threads=threads)


@cli.command()
@click.option("--host", default=None, help="Interface of the API server (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port of the API server (default 8321).")
@click.option("--workers", "n_workers", type=int, default=2, show_default=True)
@click.option(
    "--demo",
    is_flag=True,
    help="Also start the scripted mock LLM with a demo credential and a demo agent workflow "
    "(no API key needed; answers are scripted, not a model's).",
)
@click.pass_context
def up(ctx: click.Context, host: str | None, port: int | None, n_workers: int, demo: bool) -> None:
    """Start the API server, workers, the scheduler and (when PLAIT_REDIS_URL is unset) an
    embedded Redis; Ctrl-C stops them all."""
    from workspace.runtime.connect import embedded_redis
    from workspace.runtime.workspace import Workspace
    from workspace.store import open_store

    settings = _settings(ctx)
    folder = Path(settings.workspace_dir).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    target = ctx.obj.get("url") or settings.database_url or folder
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = embedded_redis(folder)
        redis_url = embedded.ensure()
    demo_port = _free_port() if demo else None
    with Workspace.open(target, settings=settings, redis_url=redis_url) as ws:
        secret = _first_admin_key(ws)
        if demo_port is not None:
            _install_demo(ws, demo_port)
    host = host or settings.server.host
    port = port if port is not None else settings.server.port
    env = {**os.environ, "PLAIT_REDIS_URL": redis_url, "PLAIT_WORKSPACE_DIR": str(folder)}
    base = [sys.executable, "-m", "workspace.cli.main"]
    if ctx.obj.get("url"):
        base += ["--url", ctx.obj["url"]]
    sup = Supervisor(echo=click.echo)
    stop = _stop_on_signals()
    store = open_store(
        ctx.obj.get("url")
        or settings.model_copy(update={"workspace_dir": folder}).resolved_database_url()
    )
    try:
        sup.add("api", [*base, "api", "--host", host, "--port", str(port)], env)
        for i in range(n_workers):
            sup.add(f"worker-{i + 1}", [*base, "worker"], env)
        sup.add("scheduler", [*base, "scheduler"], env)
        if demo_port is not None:
            sup.add("mock-llm", [*base, "mock-llm", "--demo", "--port", str(demo_port)], env)
        base_url = settings.server.public_url or f"http://{host}:{port}"
        click.echo(f"Plait is up in {folder}")
        click.echo(f"  API       {base_url}/api/v1   (docs: {base_url}/api/v1/docs)")
        click.echo(f"  webhooks  {base_url}/hooks/<workflow>/<trigger>")
        click.echo(f"  ready     {base_url}/readyz")
        click.echo(f"  redis     {'embedded ' if embedded else ''}{_safe(redis_url)}")
        click.echo(f"  workers   {n_workers}")
        click.echo("  scheduler 1 (fires trigger_schedule nodes; `plait schedules` lists them)")
        if demo_port is not None:
            click.echo(
                f"  demo      scripted mock LLM on http://127.0.0.1:{demo_port} (credential "
                "'demo', labelled demo (scripted): answers come from a script, not a model)"
            )
            click.echo(
                f"            curl -s -X POST {base_url}/hooks/demo-assistant/trigger_webhook "
                "-H 'Content-Type: application/json' -d '{\"text\": \"what is 6 times 7?\"}'"
            )
        if secret:
            click.echo(f"  admin API key (shown once, keep it): {secret}")
        click.echo("Ctrl-C stops everything.")
        _supervise(sup, stop, store.leases, embedded, env)
    finally:
        click.echo("stopping ...")
        sup.stop()
        store.close()
        if embedded is not None:
            embedded.stop()
        click.echo("stopped")


def _supervise(
    sup: Supervisor, stop: threading.Event, leases: Any, embedded: Any, env: dict[str, str]
) -> None:
    """Until ``stop``: restart dead children — a dead worker's runs are handed on at once
    (its leases end now, so the sweeper need not wait for them to lapse) — and keep the
    embedded Redis alive."""
    host = socket.gethostname()
    ticks = 0
    while not stop.wait(0.25):
        ticks += 1
        for name, pid in sup.check():
            if not name.startswith("worker-"):
                continue
            try:
                handed = leases.expire(f"{host}:{pid}:")
            except Exception as exc:  # the database is away: the leases lapse by themselves
                click.echo(f"{name} died; its leases could not be ended now: {exc}")
            else:
                if handed:
                    click.echo(f"{name} died; its {handed} run(s) are handed to other workers")
        if embedded is not None and ticks % 4 == 0 and not embedded.alive():
            click.echo("embedded Redis is not answering; restarting it")
            url = embedded.ensure()  # same address when it can: children reconnect
            if url != env["PLAIT_REDIS_URL"]:
                click.echo("embedded Redis is on a new address; restarting api and workers")
                env["PLAIT_REDIS_URL"] = url
                sup.restart_all(env)


def _install_demo(ws: Any, port: int) -> None:
    """The demo credential (pointing at this start's mock LLM port) and the demo workflow."""
    from workspace.mockllm.demo import (
        DEMO_CREDENTIAL,
        DEMO_SECRET,
        demo_workflow_text,
    )

    base_url = f"http://127.0.0.1:{port}/v1"
    if ws.credentials.repo.find(DEMO_CREDENTIAL) is None:
        ws.credentials.create(
            DEMO_CREDENTIAL,
            "openai",
            DEMO_SECRET,
            base_url=base_url,
            params={"model": "mock-scripted"},
            demo=True,
        )
    else:
        ws.credentials.update(DEMO_CREDENTIAL, base_url=base_url)
    ws.import_dsl(demo_workflow_text(), filename="demo_workflow.yaml")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _first_admin_key(ws: Any) -> str | None:
    """On first start: an admin user and its API key (returned to be shown once)."""
    from workspace.domain.access import Role, User, new_api_key

    if ws.store.access.list_users():
        return None
    admin = ws.store.access.create_user(User(name=ADMIN_NAME, role=Role.ADMIN))
    key, secret = new_api_key(admin.id, "created by plait up")
    ws.store.access.add_key(key)
    return secret


def _safe(url: str) -> str:
    """A Redis URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@cli.group()
def keys() -> None:
    """API keys (stored hashed; a secret is shown once)."""


@keys.command("create")
@click.option("--user", "user_name", default=ADMIN_NAME, show_default=True)
@click.option("--name", default="", help="A label for the key.")
@click.option("--admin", "make_admin", is_flag=True, help="Create the user as an admin.")
@click.pass_context
def keys_create(ctx: click.Context, user_name: str, name: str, make_admin: bool) -> None:
    """Create an API key (and the user, if new); prints the secret once."""
    from workspace.domain.access import Role, User, new_api_key

    ws = _workspace(ctx)
    user = ws.store.access.find_user(user_name)
    if user is None:
        role = Role.ADMIN if make_admin else Role.MEMBER
        user = ws.store.access.create_user(User(name=user_name, role=role))
    elif make_admin and not user.is_admin:
        _fail(f"user {user_name!r} exists and is not an admin", EXIT_INVALID)
    key, secret = new_api_key(user.id, name)
    ws.store.access.add_key(key)
    click.echo(secret)
