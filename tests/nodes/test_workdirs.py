"""Snippet dirs: hidden under a per-process 0711 parent, which a later worker removes once the
process that made it is gone (killed with -9, it could not)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from nodes import workdirs


@pytest.fixture
def temp_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(workdirs, "_SNIPPET_DIRS", workdirs._SnippetDirs())
    return tmp_path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_dirs_live_under_a_0711_parent_named_after_this_process(temp_base: Path) -> None:
    first, second = workdirs.new_workdir(None), workdirs.new_workdir(None)
    parent = Path(first).parent
    assert parent == Path(second).parent and parent.parent == temp_base
    assert parent.name.startswith(f"plait-code-{os.getpid()}@{socket.gethostname()}-")
    assert stat.S_IMODE(parent.stat().st_mode) == 0o711
    assert stat.S_IMODE(Path(first).stat().st_mode) == 0o700
    assert len(Path(first).name) == 32 and first != second


def test_a_new_worker_removes_the_dirs_of_dead_workers_only(temp_base: Path) -> None:
    host = socket.gethostname()
    dead = temp_base / f"plait-code-{_dead_pid()}@{host}-abc"
    (dead / ("f" * 32)).mkdir(parents=True)
    (dead / ("f" * 32) / "left.txt").write_text("x")
    alive = temp_base / f"plait-code-{os.getppid()}@{host}-abc"  # a live process (our parent)
    alive.mkdir()
    elsewhere = temp_base / f"plait-code-{_dead_pid()}@not-{host}-abc"  # another host's worker
    elsewhere.mkdir()
    other = temp_base / "plait-code-notapid"  # not ours to judge
    other.mkdir()

    workdirs.new_workdir(None)  # this process's first dir: sweeps first
    assert not dead.exists()
    assert alive.exists() and other.exists() and elsewhere.exists()
    assert workdirs.sweep_dead() == 0
