"""JupyterLab in headless Chromium (Playwright): open the human-in-the-loop tutorial, run all
cells, click the approve button of the waiting run's live view, see the run succeed.

Needs Debian's chromium (/usr/bin/chromium); skipped with the reason when it is absent unless
PLAIT_REQUIRE_BROWSER=1 (CI), where its absence fails. The screenshot is written to
$PLAIT_TEST_ARTIFACTS (default: the test's tmp folder)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.notebook.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"
TUTORIAL = Path(__file__).resolve().parents[2] / "notebooks" / "03_human_in_the_loop.ipynb"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("PLAIT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " and PLAIT_REQUIRE_BROWSER=1")
        pytest.skip(reason)


def test_approve_in_jupyterlab(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    shutil.copy(TUTORIAL, tmp_path / TUTORIAL.name)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 (closed below)
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    artifacts = Path(os.environ.get("PLAIT_TEST_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        _wait_http(f"{url}/api/status?token={TOKEN}", tmp_path / "lab.log")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            try:
                page.goto(f"{url}/lab/tree/{TUTORIAL.name}?token={TOKEN}")
                page.locator(".jp-Notebook").wait_for(timeout=90_000)
                accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
                # JupyterLab may ask which kernel to start: the notebook's own
                _accept_if_asked(accept, PlaywrightTimeout, 10_000)
                page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All").click()
                _accept_if_asked(accept, PlaywrightTimeout, 15_000)  # "Restart?"
                views = page.locator(".plait-run-view")
                first = views.first
                expect(first.locator(".plait-status[data-status='waiting']")).to_be_visible(
                    timeout=120_000
                )
                expect(first).to_contain_text("Refund 25 EUR to Ada?")
                # the later cells ran too: the rejected run, re-attached by `%plait show`
                expect(views).to_have_count(2, timeout=120_000)
                expect(views.nth(1).locator(".plait-status")).to_have_attribute(
                    "data-status", "succeeded", timeout=60_000
                )
                first.locator("input[type='text']").first.fill("Sorry for the wait!")
                first.scroll_into_view_if_needed()
                page.screenshot(path=str(artifacts / "jupyterlab-waiting.png"))
                first.locator("button.plait-approve").click()
                expect(first.locator(".plait-status[data-status='succeeded']")).to_be_visible(
                    timeout=60_000
                )
                expect(first.locator(".plait-output")).to_contain_text(
                    "Refunded 25 EUR. Sorry for the wait!"
                )
                expect(first.locator("button.plait-approve")).to_have_count(0)
                first.scroll_into_view_if_needed()
                page.screenshot(path=str(artifacts / "jupyterlab-approved.png"), full_page=False)
            except Exception:
                page.screenshot(path=str(artifacts / "jupyterlab-failure.png"))
                raise
            finally:
                browser.close()
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)
        log.close()


def _accept_if_asked(button: Any, timeout_error: type[Exception], timeout_ms: int) -> None:
    try:
        button.wait_for(timeout=timeout_ms)
    except timeout_error:
        return  # nothing asked
    button.click()


def _wait_http(url: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"JupyterLab did not start:\n{log.read_text(errors='replace')[-3000:]}")
