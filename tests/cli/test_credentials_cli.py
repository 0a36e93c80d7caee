"""``plait credentials`` in subprocesses: secrets from stdin / a variable, never printed;
rotation; a worker holding another key refuses to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import Plait
from workspace.queue.testing import redis_test_url, redis_unavailable_reason

CANARY = "sk-canary-cli-5e6f7a8b9c0d"


@pytest.fixture
def plait(tmp_path: Path) -> Plait:
    return Plait(tmp_path)


def test_create_list_rotate_without_ever_printing_the_secret(plait: Plait) -> None:
    made = plait("credentials", "create", "llm", "--kind", "openai", input=CANARY + "\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "llm  openai  …9c0d"
    os.environ["PLAIT_TEST_CANARY_VAR"] = CANARY
    try:
        env_made = plait(
            "credentials",
            "create",
            "hook",
            "--kind",
            "token",
            "--secret-env",
            "PLAIT_TEST_CANARY_VAR",
        )
    finally:
        del os.environ["PLAIT_TEST_CANARY_VAR"]
    assert env_made.returncode == 0, env_made.stderr
    listed = plait("credentials", "list", "--json")
    items = json.loads(listed.stdout)
    assert [(i["name"], i["secret"]) for i in items] == [("hook", "…9c0d"), ("llm", "…9c0d")]
    rotated = plait("credentials", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("re-encrypted 2 credentials with key ")
    again = plait("credentials", "list")
    assert again.returncode == 0 and "llm  openai  …9c0d" in again.stdout
    for out in (made, env_made, listed, rotated, again):
        assert CANARY not in out.stdout + out.stderr
    key_file = plait.workdir / "ws" / ".plait" / "secret.key"
    assert len(key_file.read_text().split()) == 2  # the new key and the old one


def test_errors_are_clear(plait: Plait) -> None:
    bad = plait("credentials", "create", "x y", "--kind", "token", input="secret\n")
    assert bad.returncode == 2 and "credential name" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = plait("credentials", "delete", "nope")
    assert missing.returncode == 4 and "credential 'nope' not found" in missing.stderr
    unset = plait("credentials", "create", "y", "--kind", "token", "--secret-env", "PLAIT_NOPE")
    assert unset.returncode == 2 and "PLAIT_NOPE is empty or unset" in unset.stderr


def test_a_worker_with_another_key_refuses_to_start(plait: Plait, tmp_path: Path) -> None:
    reason = redis_unavailable_reason()
    if reason:
        pytest.skip(reason)
    assert plait("credentials", "create", "t", "--kind", "token", input=CANARY).returncode == 0
    other = subprocess.run(
        [sys.executable, "-m", "workspace.cli.main", "credentials", "new-key"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {
        **os.environ,
        "PLAIT_SECRETS__KEY": other,
        "PLAIT_REDIS_URL": redis_test_url(),
        "PYTHONWARNINGS": "error",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "workspace.cli.main", "--dir", str(tmp_path / "ws"), "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert worker.returncode == 2, worker.stderr
    assert "secret_key_mismatch" in worker.stderr and "Traceback" not in worker.stderr
