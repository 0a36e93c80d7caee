"""The jupyter-server extension: enabled by the installed package, token-protected handlers
under /plait/ on a real ``jupyter server``, and ``start_workers`` running ``plait up`` with it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.notebook.conftest import free_port
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-1234"


def test_the_installed_package_enables_the_extension() -> None:
    config = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "kernel_ext.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"kernel_ext": True}}
    }
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"kernel_ext\s+enabled", listing), listing
    assert re.search(r"kernel_ext\s+OK", listing), listing


@contextmanager
def jupyter_server(folder: Path, *args: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PLAIT_WORKSPACE_DIR"] = str(folder / "ws")
    log = open(folder / "jupyter.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={folder}",
            *args,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/status", params={"token": TOKEN}, timeout=2).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError((folder / "jupyter.log").read_text(errors="replace")[-3000:])
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def _workspace_with_example(folder: Path) -> None:
    with Workspace.open(folder / "ws", settings=Settings(workspace_dir=folder / "ws")) as ws:
        ws.import_dsl((ROOT / "examples" / "human_approval.yaml").read_text())


def _until(check, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_handlers_under_plait_need_the_token(tmp_path: Path) -> None:
    _workspace_with_example(tmp_path)
    with jupyter_server(tmp_path) as url, ExitStack() as stack:
        assert httpx.get(f"{url}/plait/workflows").status_code == 403
        assert (
            httpx.post(f"{url}/plait/workflows/expense-approval/runs", json={}).status_code == 403
        )
        auth = stack.enter_context(
            httpx.Client(base_url=url, headers={"Authorization": f"token {TOKEN}"}, timeout=30)
        )
        items = auth.get("/plait/workflows").json()["items"]
        assert [w["slug"] for w in items] == ["expense-approval"]
        detail = auth.get("/plait/workflows/expense-approval").json()
        assert detail["latest_version"] == 1 and "type: human" in detail["dsl"]
        assert {
            "source": "review",
            "target": "pay",
            "kind": "route",
            "route": "approved",
        } in detail["edges"]
        missing = auth.get("/plait/workflows/nosuch")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        started = auth.post(
            "/plait/workflows/expense-approval/runs", json={"input": {"amount": 7, "employee": "x"}}
        )
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        run = _until(
            lambda: (r := auth.get(f"/plait/runs/{run_id}").json())["status"] == "waiting" and r
        )
        token = run["pending"]["requests"][0]["token"]
        bad = auth.post(f"/plait/runs/{run_id}/resume", json={"answer": "approve"})
        assert bad.status_code == 422 and bad.json()["code"] == "token_required"
        assert auth.post(f"/plait/runs/{run_id}/resume", content=b"[").status_code == 400
        assert auth.post(
            f"/plait/runs/{run_id}/resume", json={"token": token, "answer": "approve"}
        ).is_success
        done = _until(
            lambda: (r := auth.get(f"/plait/runs/{run_id}").json())["status"] == "succeeded" and r
        )
        assert done["output"]["text"] == "Paid 7 EUR to x."
        assert [s["node_id"] for s in done["steps"]][-1] == "confirm"
        assert (
            auth.get("/plait/runs", params={"workflow": "expense-approval"}).json()["items"][0][
                "id"
            ]
            == run_id
        )


def test_start_workers_runs_plait_up_with_the_server(tmp_path: Path) -> None:
    _workspace_with_example(tmp_path)
    api = free_port()
    with (
        jupyter_server(
            tmp_path, "--PlaitExtension.start_workers=True", f"--PlaitExtension.api_port={api}"
        ) as url,
        ExitStack() as stack,
    ):
        ready = _until(lambda: _ready(f"http://127.0.0.1:{api}/readyz"), timeout_s=120)
        assert ready["checks"]["workers"]["count"] >= 1
        auth = stack.enter_context(
            httpx.Client(base_url=url, headers={"Authorization": f"token {TOKEN}"}, timeout=60)
        )
        run_id = auth.post(
            "/plait/workflows/expense-approval/runs", json={"input": {"amount": 1, "employee": "y"}}
        ).json()["run_id"]
        _until(lambda: auth.get(f"/plait/runs/{run_id}").json()["status"] == "waiting")
    # the server stopped: so did `plait up` (its API no longer answers)
    _until(lambda: _ready(f"http://127.0.0.1:{api}/readyz") is None, timeout_s=60)


def _ready(url: str) -> dict | None:  # type: ignore[type-arg]
    try:
        r = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None
