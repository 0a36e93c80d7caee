"""Parent side of the ``code`` node sandbox: run a Python snippet in a limited subprocess.

Two ways to get the child, with the same guarantees (SPEC §9: clean env, private temp dir,
rlimits, namespaces, uid drop):

* **pre-forked** (default, ``prefork``): a fresh fork of this process's warm zygote
  (:mod:`nodes.zygote`, :mod:`nodes.sandbox_zygote`), about 1-3 ms instead of ~45 ms;
* **spawned** (fallback when no zygote can start, or ``prefork=False``):
  ``python -I -S -c <source of nodes/sandbox_runner.py>`` with the isolation of
  :mod:`nodes.isolation` applied by ``Popen``.

Either way the child runs :mod:`nodes.sandbox_runner` (isolated mode, no site-packages: snippets
may import the standard library only). This module enforces the wall-clock limit, polls for
cancellation, SIGKILLs the child's whole process group on timeout / cancel / exit, deletes the
temp dir, and maps the runner's result to a value or a NodeError.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nodes.isolation import ProcessLimits, drop_uid, popen_kwargs, process_cap
from nodes.warm_hosts import HOSTS, exchange_warm
from nodes.workdirs import new_workdir
from nodes.zygote import Zygote, ZygoteUnavailable, exchange
from nodes.zygote_pool import ZYGOTES
from workspace.errors import NodeError, NodeTimeout, SandboxError

log = logging.getLogger("nodes.sandbox")
_T = TypeVar("_T")

RUNNER = Path(__file__).with_name("sandbox_runner.py")
POLL_S = 0.1


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 30.0
    memory_mb: int = 512
    cpu_s: int = 30
    allow_network: bool = False
    max_capture: int = 64 * 1024
    #: interpreter for snippets (settings ``sandbox.python``; default: see default_python)
    python: str = sys.executable
    #: settings ``sandbox.allow_root``: run snippets as root when no uid drop is possible
    allow_root: bool = False
    #: settings ``sandbox.prefork``: fork snippets from a warm zygote (else spawn each)
    prefork: bool = True
    #: settings ``sandbox.reuse``: ``workflow`` = a warm host serves many snippets of one
    #: workflow (:mod:`nodes.warm_hosts`); ``never`` = a fresh fork per snippet
    reuse: str = "workflow"

    @classmethod
    def from_settings(
        cls, limits: Mapping[str, Any], *, timeout_s: float | None, allow_network: bool
    ) -> SandboxLimits:
        ceiling = float(limits.get("timeout_s") or cls.timeout_s)
        return cls(
            timeout_s=min(timeout_s, ceiling) if timeout_s else ceiling,
            memory_mb=int(limits.get("memory_mb") or cls.memory_mb),
            cpu_s=int(limits.get("cpu_s") or cls.cpu_s),
            allow_network=bool(allow_network and limits.get("allow_network", False)),
            python=str(limits.get("python") or default_python()),
            allow_root=bool(limits.get("allow_root", False)),
            prefork=bool(limits.get("prefork", True)),
            reuse=str(limits.get("reuse") or cls.reuse),
        )


@dataclass(frozen=True)
class SandboxOutcome:
    value: Any
    stdout: str
    stderr: str


@functools.cache
def default_python() -> str:
    """The worker's own interpreter, unless the worker is root and that interpreter cannot be
    run by ``nobody`` (pyenv under /root): then the first system interpreter that can."""
    if os.geteuid() != 0 or drop_uid(sys.executable) is not None:
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.path.exists(candidate) and drop_uid(candidate) is not None:
            return candidate
    return sys.executable


@functools.cache
def _runner_source() -> str:
    # passed with -c so the child never needs read access to this package's directory
    return RUNNER.read_text(encoding="utf-8")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_snippet(
    code: str,
    variables: Mapping[str, Any],
    limits: SandboxLimits,
    *,
    check_cancelled: Callable[[], None] = lambda: None,
    workflow: str | None = None,
) -> SandboxOutcome:
    """Run ``code`` (a function body) with ``variables`` bound; return its JSON value.

    ``workflow`` (the calling run's workflow) lets a warm host of that workflow run it when
    ``limits.reuse`` is ``workflow``; without it every snippet gets a fresh fork.

    Raises :class:`NodeTimeout` (wall clock or CPU limit), :class:`SandboxError` (the sandbox
    itself failed, or the memory limit was hit) or :class:`NodeError` with code ``code_error``
    (the snippet raised or has a syntax error) / ``bad_return`` (value is not JSON).
    Control signals raised by ``check_cancelled`` propagate after the child is killed.
    """
    fields = {
        "code": code,
        "variables": dict(variables),
        "allow_network": limits.allow_network,
        "max_capture": limits.max_capture,
    }
    if os.geteuid() == 0 and drop_uid(limits.python) is None and not limits.allow_root:
        raise SandboxError(
            "refusing to run a code snippet as root: the interpreter "
            f"{limits.python} cannot be run by the unprivileged user, so the snippet could "
            "read and write the workspace database. Set PLAIT_SANDBOX__PYTHON to a "
            "world-readable interpreter (e.g. /usr/bin/python3), run the worker as a normal "
            "user, or set PLAIT_SANDBOX__ALLOW_ROOT=true to accept the risk.",
            retryable=False,
        )
    process = ProcessLimits(memory_mb=limits.memory_mb, cpu_s=limits.cpu_s)
    if limits.reuse == "workflow" and workflow:
        result = _run_warm(fields, limits, process, check_cancelled, workflow)
        if result is not None:
            return _outcome(*result, limits)
    workdir = new_workdir(drop_uid(limits.python))
    try:
        result = _run_forked(_encode(fields), workdir, limits, process, check_cancelled)
        if result is None:
            result = _run_spawned(_encode(fields), workdir, limits, process, check_cancelled)
        return _outcome(*result, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _encode(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, default=_jsonable).encode("utf-8")


def _run_warm(
    fields: dict[str, Any],
    limits: SandboxLimits,
    process: ProcessLimits,
    check_cancelled: Callable[[], None],
    workflow: str,
) -> tuple[int | None, bytes, bytes] | None:
    """Run the snippet in a warm host of ``workflow`` (in the host's own temp dir, emptied
    after each snippet); None when there is no working zygote."""
    if not limits.prefork:
        return None
    run_as = drop_uid(limits.python)
    uid = os.getuid() if run_as is None else run_as
    key = (limits.python, run_as, limits.allow_network, limits.memory_mb, workflow)
    request = _encode({**fields, "cpu_s": limits.cpu_s})
    host = _from_zygote(
        limits.python,
        run_as,
        lambda zygote: HOSTS.acquire(
            zygote,
            key,
            limits=process,
            nproc=process_cap(uid, process),
            network=limits.allow_network,
            workdir=lambda: new_workdir(run_as),
        ),
    )
    if host is None:
        return None
    try:
        code, out, err, alive = exchange_warm(host, request, limits.timeout_s, check_cancelled)
    except OSError as exc:  # the pipes to the host failed: a fresh fork runs it instead
        host.stop()
        log.warning("code sandbox: warm host %s failed (%s); forking instead", host.child.pid, exc)
        return None
    except BaseException:
        host.stop()
        raise
    if alive and out.endswith(_KEEP_HOST):
        HOSTS.release(host)
    else:
        host.stop()  # it died, or ends after this snippet (what it left behind, or age)
    return code, out, err


def _from_zygote(python: str, run_as: int | None, start: Callable[[Zygote], _T]) -> _T | None:
    """``start(zygote)`` with this process's zygote for ``python`` as ``run_as``; a zygote that
    died is replaced once. None when there is no working zygote."""
    for _attempt in range(2):
        zygote = ZYGOTES.get(python, run_as)
        if zygote is None:
            return None
        try:
            return start(zygote)
        except ZygoteUnavailable:
            ZYGOTES.discard(zygote)
    return None


#: how a warm host's result ends when the host may serve again
_KEEP_HOST = b', "recycle": null}'


def _run_forked(
    request: bytes,
    workdir: str,
    limits: SandboxLimits,
    process: ProcessLimits,
    check_cancelled: Callable[[], None],
) -> tuple[int | None, bytes, bytes] | None:
    """Run the snippet in a child of the zygote; None when there is no working zygote."""
    if not limits.prefork:
        return None
    run_as = drop_uid(limits.python)
    uid = os.getuid() if run_as is None else run_as
    child = _from_zygote(
        limits.python,
        run_as,
        lambda zygote: zygote.fork(
            workdir=workdir,
            limits=process,
            nproc=process_cap(uid, process),
            network=limits.allow_network,
        ),
    )
    if child is None:
        return None
    return exchange(child, request, limits.timeout_s, check_cancelled)


def _run_spawned(
    request: bytes,
    workdir: str,
    limits: SandboxLimits,
    process: ProcessLimits,
    check_cancelled: Callable[[], None],
) -> tuple[int | None, bytes, bytes]:
    """Run the snippet in a new interpreter (the path without a zygote)."""
    isolation = popen_kwargs(limits.python, workdir, process, allow_network=limits.allow_network)
    with subprocess.Popen(
        [limits.python, "-I", "-S", "-c", _runner_source()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **isolation,
    ) as proc:
        try:
            out, err = _communicate(proc, request, limits.timeout_s, check_cancelled)
        finally:
            _kill_group(proc)  # stragglers the snippet forked, or the child on error
    return proc.returncode, out, err


def _communicate(
    proc: subprocess.Popen[bytes],
    request: bytes,
    timeout_s: float,
    check_cancelled: Callable[[], None],
) -> tuple[bytes, bytes]:
    deadline = time.monotonic() + timeout_s
    data: bytes | None = request
    while True:
        remaining = deadline - time.monotonic()
        try:
            return proc.communicate(data, timeout=max(0.0, min(POLL_S, remaining)))
        except subprocess.TimeoutExpired:
            data = None
        if time.monotonic() >= deadline:
            _kill_group(proc)
            _drain(proc)
            raise NodeTimeout(
                f"code ran for more than {timeout_s:g}s and was killed", timeout_s=timeout_s
            )
        try:
            check_cancelled()
        except BaseException:
            _kill_group(proc)
            _drain(proc)
            raise


def _drain(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
        proc.communicate(timeout=2)


def _tail(data: bytes, limit: int = 4000) -> str:
    return data[-limit:].decode("utf-8", errors="replace")


def _outcome(rc: int | None, out: bytes, err: bytes, limits: SandboxLimits) -> SandboxOutcome:
    if rc == -signal.SIGXCPU:
        raise NodeTimeout(f"code exceeded its CPU limit of {limits.cpu_s}s", cpu_s=limits.cpu_s)
    if rc == -signal.SIGKILL:
        raise SandboxError(
            "the sandbox was killed (CPU hard limit or out of memory)",
            code="sandbox_killed",
            stderr=_tail(err),
        )
    try:
        result = json.loads(out.decode("utf-8")) if out else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        stderr = _tail(err)
        if "MemoryError" in stderr:
            raise SandboxError(
                f"code exceeded its memory limit of {limits.memory_mb} MB",
                code="memory_limit",
                retryable=False,
                stderr=stderr,
            )
        raise SandboxError(
            f"the sandbox exited without a result (exit status {rc})",
            exit_status=rc,
            stderr=stderr,
        )
    stdout, stderr = result.get("stdout", ""), result.get("stderr", "") + _tail(err)
    if result.get("ok"):
        return SandboxOutcome(result.get("value"), stdout, stderr)
    raise _error(result["error"], stdout, stderr, limits)


def _error(e: dict[str, Any], stdout: str, stderr: str, limits: SandboxLimits) -> NodeError:
    where = f" (line {e['line']})" if e.get("line") else ""
    details = {
        "type": e.get("type"),
        "line": e.get("line"),
        "traceback": e.get("traceback"),
        "stdout": stdout,
        "stderr": stderr,
    }
    kind = e.get("kind")
    if kind == "memory":
        return SandboxError(
            f"code exceeded its memory limit of {limits.memory_mb} MB{where}",
            code="memory_limit",
            retryable=False,
            **details,
        )
    if kind == "bad_return":
        return NodeError(
            f"code returned a value that is not JSON ({e.get('type')}): {e.get('message')}",
            code="bad_return",
            retryable=False,
            **details,
        )
    return NodeError(
        f"{e.get('type')}: {e.get('message')}{where}",
        code="code_error",
        retryable=kind != "syntax",
        **details,
    )


def _jsonable(value: Any) -> Any:
    """Make scope values JSON: dataclasses/pydantic models/dates/sets; else ``str``."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
