"""The code node and its subprocess sandbox."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nodes.code import Code
from nodes.isolation import drop_uid
from tests.nodes.fakes import DEFAULT_LIMITS, FakeContext, run_node
from tests.support.processes import pid_alive
from workspace.errors import NodeError, NodeTimeout, SandboxError
from workspace.sdk import LoopInfo
from workspace.sdk.signals import RunCancelled

WORLD_PYTHON = shutil.which("python3", path="/usr/bin")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the snippet can write to even when it runs as ``nobody``."""
    path = Path(tempfile.mkdtemp(prefix="plait-test-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_code(code: str, ctx: FakeContext | None = None, **config: Any) -> dict[str, Any]:
    return run_node(Code, {"code": code, **config}, ctx or FakeContext()).output


# ---------------------------------------------------------------------------------- values


def test_returned_dict_is_the_output_with_types_kept() -> None:
    out = run_code(
        "return {'items': [1, 2], 'n': 3, 'f': 1.5, 'ok': True, 'none': None, 'd': {'k': 'v'}}"
    )
    assert out == {"items": [1, 2], "n": 3, "f": 1.5, "ok": True, "none": None, "d": {"k": "v"}}
    assert type(out["n"]) is int and type(out["items"]) is list


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("return [1, 'a', None]", {"output": [1, "a", None]}),
        ("return 42", {"output": 42}),
        ("return 'text'", {"output": "text"}),
        ("return (1, 2)", {"output": [1, 2]}),
        ("return None", {"output": None}),
        ("x = 1", {"output": None}),
        ("", None),
    ],
)
def test_non_dict_returns_are_wrapped(code: str, expected: Any) -> None:
    if expected is None:
        with pytest.raises(NodeError) as err:
            run_code(code)
        assert err.value.code == "missing_code"
        return
    assert run_code(code) == expected


def test_snippet_sees_scope_variables() -> None:
    ctx = FakeContext(
        trigger={"text": "hi"},
        outputs={"fetch": {"items": [3, 4]}, "classify": {"category": "bug"}},
        loop=LoopInfo(item={"id": 9}, index=2, total=5),
    )
    code = """
return {
    "input": input,
    "trigger": trigger["text"],
    "fetch": fetch["items"],
    "via_outputs": outputs["classify"]["category"],
    "via_alias": node_outputs["fetch"]["items"][0],
    "loop": [loop["item"]["id"], loop["index"], loop["total"]],
    "run": run["id"],
}
"""
    out = run_node(Code, {"code": code}, ctx, input={"x": 1}).output
    assert out == {
        "input": {"x": 1},
        "trigger": "hi",
        "fetch": [3, 4],
        "via_outputs": "bug",
        "via_alias": 3,
        "loop": [9, 2, 5],
        "run": "run1",
    }


def test_indented_snippet_and_helpers() -> None:
    code = """
        def double(x):
            return x * 2
        import json, math
        return {"v": double(21), "j": json.dumps([1]), "pi": round(math.pi, 2)}
    """
    assert run_code(code) == {"v": 42, "j": "[1]", "pi": 3.14}


def test_code_is_a_raw_field() -> None:
    assert Code.raw_fields == frozenset({"code"})
    assert Code.content_fields == ("code",)
    assert run_code("return '{{ not rendered }}'") == {"output": "{{ not rendered }}"}


def test_capture_stdout_only_when_asked() -> None:
    assert run_code("print('hello')\nreturn {'a': 1}") == {"a": 1}
    out = run_code("print('hello')\nreturn {'a': 1}", capture_stdout=True)
    assert out == {"a": 1, "logs": "hello\n"}


def test_printing_to_fd1_cannot_corrupt_the_result() -> None:
    code = "import os, sys\nos.write(1, b'garbage{')\nsys.__stdout__.write('x')\nreturn 1"
    assert run_code(code) == {"output": 1}


# ---------------------------------------------------------------------------------- errors


def test_exception_reports_type_message_and_line() -> None:
    with pytest.raises(NodeError) as err:
        run_code("a = 1\nb = 0\nreturn a / b")
    e = err.value
    assert e.code == "code_error"
    assert "ZeroDivisionError" in e.message and "line 3" in e.message
    assert e.details["line"] == 3
    assert "return a / b" in e.details["traceback"]


def test_exception_in_nested_function_points_at_the_raise() -> None:
    code = "def f(x):\n    raise KeyError(x)\n\nreturn f('k')"
    with pytest.raises(NodeError) as err:
        run_code(code)
    assert err.value.details["line"] == 2
    assert err.value.details["type"] == "KeyError"


def test_syntax_error_with_line() -> None:
    with pytest.raises(NodeError) as err:
        run_code("x = 1\nif x\n    pass")
    assert err.value.code == "code_error"
    assert err.value.details["line"] == 2
    assert err.value.retryable is False


def test_stdout_goes_to_error_details() -> None:
    with pytest.raises(NodeError) as err:
        run_code("print('debug me')\nraise RuntimeError('x')")
    assert "debug me" in err.value.details["stdout"]


@pytest.mark.parametrize(
    ("code", "type_name"),
    [("return {1, 2}", "set"), ("return object()", "object"), ("return {'a': {1}}", "dict")],
)
def test_non_json_return_values(code: str, type_name: str) -> None:
    with pytest.raises(NodeError) as err:
        run_code(code)
    assert err.value.code == "bad_return"
    assert type_name in err.value.message


def test_system_exit_is_an_error_not_a_crash() -> None:
    with pytest.raises(NodeError) as err:
        run_code("import sys\nsys.exit(3)")
    assert err.value.code == "code_error" and "SystemExit" in err.value.message


# --------------------------------------------------------------------------------- sandbox


def test_timeout_kills_the_child_and_its_children(shared_dir: Path) -> None:
    pidfile = shared_dir / "pids"
    code = f"""
import os, subprocess
child = subprocess.Popen(["sleep", "60"])
with open({str(pidfile)!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{child.pid}}")
while True:
    pass
"""
    started = time.monotonic()
    with pytest.raises(NodeTimeout) as err:
        run_code(code, timeout_s=1)
    elapsed = time.monotonic() - started
    assert err.value.code == "timeout"
    assert elapsed < 2.5, elapsed
    pids = [int(p) for p in pidfile.read_text().split()]
    deadline = time.monotonic() + 2
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in pids)


def test_settings_timeout_caps_the_config_timeout() -> None:
    ctx = FakeContext(limits={**DEFAULT_LIMITS, "timeout_s": 0.5})
    started = time.monotonic()
    with pytest.raises(NodeTimeout):
        run_code("import time\ntime.sleep(30)", ctx, timeout_s=20)
    assert time.monotonic() - started < 2


def test_cpu_limit() -> None:
    ctx = FakeContext(limits={**DEFAULT_LIMITS, "cpu_s": 1})
    with pytest.raises(NodeTimeout) as err:
        run_code("while True:\n    pass", ctx, timeout_s=10)
    assert "CPU" in err.value.message


def test_memory_limit_gives_a_clear_error() -> None:
    with pytest.raises(SandboxError) as err:
        run_code("data = bytearray(2 * 1024 ** 3)\nreturn len(data)")
    assert err.value.code == "memory_limit"
    assert "memory limit of 512 MB" in err.value.message


def test_cancellation_kills_the_child_and_reraises(shared_dir: Path) -> None:
    pidfile = shared_dir / "pid"
    code = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    ctx = FakeContext(cancel_after=5)  # cancelled after ~0.5 s of polling
    started = time.monotonic()
    with pytest.raises(RunCancelled):
        run_code(code, ctx)
    assert time.monotonic() - started < 3
    assert pidfile.exists() and not pid_alive(int(pidfile.read_text()))


def test_no_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_TEST_SECRET", "canary")
    code = """
import os
def parent_environ():
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError as exc:
        return type(exc).__name__
return {"env": dict(os.environ), "parent": parent_environ()}
"""
    out = run_code(code)
    assert "PLAIT_TEST_SECRET" not in out["env"]
    assert "canary" not in repr(out)
    assert set(out["env"]) <= {"PATH", "LANG", "LC_ALL", "HOME", "TMPDIR"}


def test_private_temp_dir_is_cwd_home_and_removed() -> None:
    code = """
import os, tempfile
open("scratch.txt", "w").write("x")
st = os.stat(".")
return {"cwd": os.getcwd(), "home": os.environ["HOME"], "tmp": tempfile.gettempdir(),
        "mode": oct(st.st_mode & 0o777), "files": os.listdir(".")}
"""
    fork = FakeContext(limits={**DEFAULT_LIMITS, "reuse": "never"})  # warm: test_warm_hosts
    out = run_code(code, fork)
    assert out["cwd"] == out["home"] == out["tmp"]
    assert out["cwd"] != os.getcwd()
    assert out["mode"] == "0o700"
    assert out["files"] == ["scratch.txt"]
    assert not os.path.exists(out["cwd"])
    again = run_code("import os\nreturn os.getcwd()", fork)["output"]
    assert again != out["cwd"]


def test_site_packages_are_not_importable() -> None:
    with pytest.raises(NodeError) as err:
        run_code("import pydantic")
    assert "ModuleNotFoundError" in err.value.message


def test_network_blocked_by_default() -> None:
    code = """
import socket, urllib.request
results = {}
for name, fn in {
    "socket": lambda: socket.socket(),
    "connect": lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
    "dns": lambda: socket.getaddrinfo("example.com", 80),
    "urllib": lambda: urllib.request.urlopen("http://127.0.0.1:9", timeout=1),
}.items():
    try:
        fn()
        results[name] = "ok"
    except Exception as exc:
        results[name] = type(exc).__name__ + ": " + str(exc)
return results
"""
    out = run_code(code)
    for name, result in out.items():
        assert result != "ok", name
        assert "network access is disabled" in result, (name, result)


def test_network_needs_both_config_and_settings() -> None:
    code = "import socket\ns = socket.socket()\ns.close()\nreturn 'ok'"
    with pytest.raises(NodeError):  # settings forbid it
        run_code(code, allow_network=True)
    allowed = FakeContext(limits={**DEFAULT_LIMITS, "allow_network": True})
    assert run_code(code, allowed, allow_network=True) == {"output": "ok"}
    with pytest.raises(NodeError):  # node does not ask for it
        run_code(code, allowed)


@pytest.mark.skipif(
    os.geteuid() != 0 or WORLD_PYTHON is None, reason="needs root and a world-runnable python"
)
def test_root_worker_runs_snippets_as_nobody(tmp_path: Path) -> None:
    assert WORLD_PYTHON is not None
    secret = tmp_path / "key"
    secret.write_text("topsecret")
    secret.chmod(0o600)
    assert drop_uid(WORLD_PYTHON) == 65534
    ctx = FakeContext(limits={**DEFAULT_LIMITS, "python": WORLD_PYTHON})
    code = f"""
try:
    return open({str(secret)!r}).read()
except OSError as exc:
    return type(exc).__name__
"""
    assert run_code(code, ctx) == {"output": "PermissionError"}


# a snippet looking for the private dirs of the snippets running beside it (same uid)
SNOOP = """
import glob, os
mine = os.getcwd()
parent = os.path.dirname(mine)
seen = {"mine": mine}
try:
    seen["parent"] = sorted(os.listdir(parent))
except OSError as exc:
    seen["parent"] = type(exc).__name__
found = [d for d in glob.glob(parent + "/*") + glob.glob("/tmp/plait-code-*/*") if d != mine]
for pid in filter(str.isdigit, os.listdir("/proc")):
    for name in ("cwd", "root"):
        try:
            target = os.readlink(f"/proc/{pid}/{name}")
        except OSError:
            continue
        if target.startswith(parent) and target != mine:
            found.append(target)
    try:
        env = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
    except OSError:
        continue
    found += [v for v in env.split(chr(0)) if parent in v and mine not in v]
for path in found:
    try:
        seen[path] = open(os.path.join(path, "secret.txt")).read()
    except OSError as exc:
        seen[path] = type(exc).__name__
seen["found"] = found
return seen
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or WORLD_PYTHON is None, reason="needs root and a world-runnable python"
)
@pytest.mark.parametrize(
    "mode", [{}, {"reuse": "never"}, {"prefork": False, "reuse": "never"}], ids=str
)
def test_a_snippet_cannot_find_the_private_dir_of_another(mode: dict[str, Any]) -> None:
    """All snippets run as ``nobody``: the dirs' parent (0711) hides them from each other."""
    from concurrent.futures import ThreadPoolExecutor

    limits = {**DEFAULT_LIMITS, "python": WORLD_PYTHON, **mode}
    holder = "import os, time\nopen('secret.txt', 'w').write('s3cr3t')\ntime.sleep(4)\n"
    holder += "return os.getcwd()"
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(run_code, holder, FakeContext(limits=limits, workflow="a"))
        time.sleep(1.5)
        seen = run_code(SNOOP, FakeContext(limits=limits, workflow="b"))
        parent = os.path.dirname(seen["mine"])
        others = [d for d in os.listdir(parent) if os.path.join(parent, d) != seen["mine"]]
        assert others, "the holder's dir should be beside the snoop's while it runs"
        assert held.result(timeout=30)["output"].startswith(parent + "/")
    assert seen["parent"] == "PermissionError"
    assert seen["found"] == []
    assert "s3cr3t" not in repr(seen)


def test_parallel_snippets_do_not_interfere() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: run_code(f"return {i} * 2")["output"], range(8)))
    assert results == [i * 2 for i in range(8)]
