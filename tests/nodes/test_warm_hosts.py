"""Warm sandbox hosts (settings ``sandbox.reuse: workflow``): one forked, isolated host runs
many snippets of one workflow. What persists (module state), what does not (cwd, temp dir, env,
variables, output), what ends a host (anything left behind, limits, age), and that nothing
crosses between workflows or reaches agent tools."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from nodes import warm_hosts
from nodes.code import Code
from nodes.sandboxed import CodeExecute
from nodes.warm_hosts import HOSTS
from tests.nodes.fakes import DEFAULT_LIMITS, FakeContext, run_node
from tests.support.processes import pid_alive
from workspace.errors import NodeError, NodeTimeout, SandboxError
from workspace.sdk.signals import RunCancelled

WARM = {"prefork": True, "reuse": "workflow"}
PID = "import os\nreturn os.getpid()"


def run_code(code: str, *, workflow: str = "wf-a", **limits: Any) -> Any:
    ctx = FakeContext(limits={**DEFAULT_LIMITS, **WARM, **limits}, workflow=workflow)
    output = run_node(Code, {"code": code}, ctx).output
    return output["output"] if list(output) == ["output"] else output


@pytest.fixture(autouse=True)
def fresh_hosts() -> Any:
    HOSTS.close()
    yield
    HOSTS.close()


def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def test_one_host_serves_a_workflow_and_only_that_workflow() -> None:
    first = run_code(PID)
    assert run_code(PID) == first
    assert run_code(PID, workflow="wf-b") != first
    assert run_code(PID, workflow="wf-a") == first
    # a different memory limit or network setting is another host
    assert run_code(PID, memory_mb=256) != first


def test_module_state_persists_but_each_snippet_is_fresh_otherwise() -> None:
    code = """
import os, sys, tempfile
seen = getattr(sys, "plait_test_marker", None)
sys.plait_test_marker = "set by an earlier snippet"
env = sorted(os.environ)
os.environ["LEFT"] = "behind"
open("scratch.txt", "w").write("x")
return {"seen": seen, "cwd": os.getcwd(), "home": os.environ["HOME"],
        "tmp": tempfile.gettempdir(), "files": sorted(os.listdir(".")),
        "env": env, "names": sorted(k for k in globals() if k == "stash")}
"""
    first = run_code(code)
    stash_code = "stash = 1\n" + code
    second = run_code(stash_code)
    third = run_code(code)
    assert first["seen"] is None
    assert second["seen"] == third["seen"] == "set by an earlier snippet"  # like a warm Lambda
    for out in (first, second, third):
        assert out["cwd"] == out["home"] == out["tmp"]
        assert out["files"] == ["scratch.txt"]  # its own temp dir, nothing from the others
        assert "LEFT" not in out["env"]  # the environment is reset
        assert out["env"] == ["HOME", "LANG", "LC_ALL", "PATH", "TMPDIR"]
    assert first["cwd"] == second["cwd"] == third["cwd"]  # the host's dir, emptied each time
    assert os.listdir(first["cwd"]) == []
    HOSTS.close()
    assert not Path(first["cwd"]).exists()
    assert third["names"] == []  # variables do not persist: each snippet has its own globals


@pytest.mark.parametrize(
    "left_behind",
    [
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
        "import subprocess\nsubprocess.Popen(['sleep', '30'])",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(30)\n    os._exit(0)",
        "global f\nf = open('kept.txt', 'w')",
        "import signal\nsignal.signal(signal.SIGUSR1, lambda *a: None)",
        "import signal\nsignal.alarm(60)",
        "import os\nos.umask(0)",
    ],
    ids=["thread", "process", "orphan", "file", "handler", "alarm", "umask"],
)
def test_a_snippet_that_leaves_something_behind_ends_its_host(left_behind: str) -> None:
    host = run_code(PID)
    assert run_code(left_behind + "\nimport os\nreturn os.getpid()") == host  # it still answers
    assert wait_gone(host)
    assert run_code(PID) != host


def test_cpu_limit_is_per_snippet() -> None:
    host = run_code(PID, cpu_s=1)
    busy = (
        "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end:\n    pass"
    )
    for _ in range(3):  # 1.8 s of CPU in one host: each snippet has its own second
        run_code(busy, cpu_s=1)
    assert run_code(PID, cpu_s=1) == host
    with pytest.raises(NodeTimeout, match="CPU limit"):
        run_code("while True:\n    pass", cpu_s=1, timeout_s=20)
    assert wait_gone(host)
    assert run_code("return 5", cpu_s=1) == 5


def test_memory_limit_ends_the_host() -> None:
    host = run_code(PID, memory_mb=256)
    with pytest.raises(SandboxError) as info:
        run_code("x = bytearray(1024 * 1024 * 1024)\nreturn 1", memory_mb=256)
    assert info.value.code == "memory_limit"
    assert wait_gone(host)
    assert run_code("return 6", memory_mb=256) == 6


def test_wall_clock_kills_the_host_and_what_it_started() -> None:
    host = run_code(PID)
    shared = Path(tempfile.mkdtemp(prefix="plait-test-"))  # reachable by nobody
    shared.chmod(0o777)
    pidfile = shared / "child.pid"
    code = f"""
import subprocess, time
p = subprocess.Popen(["sleep", "60"])
open({str(pidfile)!r}, "w").write(str(p.pid))
time.sleep(60)
"""
    try:
        with pytest.raises(NodeTimeout):
            run_code(code, timeout_s=1)
        assert wait_gone(host)
        assert wait_gone(int(pidfile.read_text()))
    finally:
        shutil.rmtree(shared)
    assert run_code("return 3") == 3


def test_cancel_kills_the_host() -> None:
    host = run_code(PID)
    ctx = FakeContext(limits={**DEFAULT_LIMITS, **WARM}, workflow="wf-a", cancel_after=3)
    with pytest.raises(RunCancelled):
        run_node(Code, {"code": "import time\ntime.sleep(30)"}, ctx)
    assert wait_gone(host)
    assert run_code("return 4") == 4


def test_a_host_killed_while_idle_is_replaced() -> None:
    host = run_code(PID)
    os.kill(host, signal.SIGKILL)
    assert wait_gone(host)
    assert run_code(PID) != host


def test_errors_keep_the_host() -> None:
    host = run_code(PID)
    with pytest.raises(NodeError) as info:
        run_code("raise ValueError('boom')")
    assert info.value.code == "code_error"
    with pytest.raises(NodeError) as info:
        run_code("return object()")
    assert info.value.code == "bad_return"
    assert run_code(PID) == host


def test_parallel_snippets_get_hosts_of_their_own() -> None:
    def one(i: int) -> list[int]:
        return list(run_code(f"import os, time\ntime.sleep(0.05)\nreturn [{i}, os.getpid()]"))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    assert [r[0] for r in results] == list(range(32))
    assert 1 < len({r[1] for r in results}) <= 8  # never two snippets in one host at once


def test_a_host_is_replaced_after_max_snippets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_hosts, "MAX_SNIPPETS", 3)
    pids = [run_code(PID) for _ in range(6)]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] == pids[5]


def test_idle_hosts_are_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    host = run_code(PID)
    monkeypatch.setattr(warm_hosts, "IDLE_S", 0.0)
    time.sleep(0.01)
    assert run_code(PID, workflow="wf-b") != host  # this call expires the idle one
    assert wait_gone(host)


def test_never_reuse_forks_each_snippet() -> None:
    pids = {run_code(PID, reuse="never") for _ in range(3)}
    assert len(pids) == 3


def test_agent_code_tools_never_share_a_host() -> None:
    """Code an LLM wrote (code_execute) may carry one caller's prompt into state another
    caller's run would see: it always gets a fresh fork."""
    ctx = FakeContext(limits={**DEFAULT_LIMITS, **WARM}, workflow="wf-a")
    pids = {run_node(CodeExecute, {"code": PID}, ctx).output["output"] for _ in range(3)}
    assert len(pids) == 3
