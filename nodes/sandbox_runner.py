"""Child side of the ``code`` node sandbox. Standard library only.

Executed as ``python -I -S -c <this source>`` (isolated mode, no site-packages) inside
a private temp dir with a clean environment and resource limits (see :mod:`nodes.sandbox`).

Protocol: one JSON request on stdin ``{"code", "variables", "allow_network", "max_capture"}``;
one JSON result on the ORIGINAL stdout (fd 1 is re-pointed at stderr before user code runs, so
nothing the snippet prints can corrupt it)::

    {"ok": true, "value": <json>, "stdout": "...", "stderr": "..."}
    {"ok": false, "error": {"kind", "type", "message", "line", "traceback"}, "stdout", "stderr"}

``kind`` is ``syntax``, ``exception``, ``memory`` or ``bad_return``.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import keyword
import os
import sys
import textwrap
import traceback
from typing import Any

FILENAME = "<code>"
NETWORK_OFF = "network access is disabled in this sandbox (set allow_network: true)"


class CappedText(io.TextIOBase):
    """A text sink that keeps at most ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit
        self._truncated = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self._limit - self._size
        if room > 0:
            self._parts.append(s[:room])
            self._size += min(room, len(s))
        if len(s) > room:
            self._truncated = True
        return len(s)

    def getvalue(self) -> str:
        text = "".join(self._parts)
        return text + "\n[... truncated]" if self._truncated else text


#: seccomp-BPF (Linux): audit arch, ``socket(2)`` and ``io_uring_setup(2)`` numbers per machine
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_sockets_denied = False


def deny_sockets() -> bool:
    """Deny ``socket(2)`` to this process and everything it starts, for good: a seccomp filter
    answers EPERM to ``socket`` (every address family: no TCP/UDP, no Unix-domain sockets
    to reach local services, no netlink), to ``io_uring_setup`` (whose rings can open sockets)
    and to every syscall of a foreign ABI (x32, i386 ``socketcall``). ``socketpair`` stays (it
    reaches nothing outside). Sets ``no_new_privs`` first, so setuid programs cannot lift it.

    Returns False where that is not possible (not Linux, another machine type, a kernel
    without seccomp filters): the caller then isolates the network with a namespace.
    Idempotent. Plain syscalls through ctypes: safe in a freshly forked child.
    """
    global _sockets_denied
    if _sockets_denied:
        return True
    arch = _SECCOMP_ARCH.get(os.uname().machine) if sys.platform == "linux" else None
    if arch is None:
        return False
    import ctypes

    audit_arch, nr_socket, nr_io_uring_setup = arch
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE|K, BPF_RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program = (  # (code, jump if true, jump if false, k); jumps skip that many instructions
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 0, 5, audit_arch),  # a foreign ABI -> deny
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
        (jge, 3, 0, 0x40000000),  # x32 syscalls -> deny
        (jeq, 2, 0, nr_socket),
        (jeq, 1, 0, nr_io_uring_setup),
        (ret, 0, 0, allow),
        (ret, 0, 0, deny),
    )

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint32),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    filters = (SockFilter * len(program))(*(SockFilter(*insn) for insn in program))
    fprog = SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    ulong = ctypes.c_ulong
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
        return False
    if libc.prctl(pr_set_seccomp, ulong(seccomp_mode_filter), ctypes.byref(fprog), 0, 0) != 0:
        return False
    _sockets_denied = True
    return True


def block_network() -> None:
    """Make every socket constructor and name lookup raise PermissionError with a message
    that says why. The enforcement is :func:`deny_sockets` (or, where seccomp is missing, the
    network namespace the parent made); this layer alone could be got around (ctypes)."""
    import _socket
    import socket

    class BlockedSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(NETWORK_OFF)

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(NETWORK_OFF)

    socket.socket = BlockedSocket  # type: ignore[misc]
    _socket.socket = BlockedSocket  # type: ignore[misc]
    for mod in (socket, _socket):
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
            if hasattr(mod, name):
                setattr(mod, name, denied)
    socket.create_connection = denied
    socket.create_server = denied


def _user_frames(exc: BaseException, lines: list[str]) -> tuple[int | None, str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
    text = []
    for f in frames:
        src = lines[f.lineno - 1].strip() if f.lineno and 0 < f.lineno <= len(lines) else ""
        name = "<snippet>" if f.name == "__plait_main__" else f.name
        text.append(f"  line {f.lineno}, in {name}\n    {src}")
    text.append(f"{type(exc).__name__}: {exc}")
    return (frames[-1].lineno if frames else None), "\n".join(text)


def _compile(code: str) -> Any:
    """The snippet as the body of a function ``__plait_main__`` (so ``return`` works), with the
    snippet's own line numbers."""
    tree = ast.parse(code, FILENAME, "exec")
    fields: dict[str, Any] = {
        "name": "__plait_main__",
        "args": ast.arguments(
            posonlyargs=[],
            args=[],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        ),
        "body": tree.body or [ast.Pass()],
        "decorator_list": [],
        "returns": None,
        "lineno": 1,
        "col_offset": 0,
    }
    if sys.version_info >= (3, 12):
        fields["type_params"] = []
    module = ast.Module(body=[ast.FunctionDef(**fields)], type_ignores=[])
    ast.fix_missing_locations(module)
    return compile(module, FILENAME, "exec")


def run(request: dict[str, Any]) -> dict[str, Any]:
    code = textwrap.dedent(request["code"])
    lines = code.splitlines()
    try:
        compiled = _compile(code)
    except SyntaxError as exc:
        return {
            "ok": False,
            "error": {
                "kind": "syntax",
                "type": "SyntaxError",
                "message": exc.msg,
                "line": exc.lineno,
                "traceback": f"  line {exc.lineno}\n    {(exc.text or '').strip()}",
            },
        }
    scope: dict[str, Any] = {"__builtins__": builtins, "__name__": "__plait_code__"}
    for name, value in request["variables"].items():
        if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__"):
            scope[name] = value
    try:
        exec(compiled, scope)
        value = scope["__plait_main__"]()
    except MemoryError as exc:
        line, tb = _user_frames(exc, lines)
        return {
            "ok": False,
            "error": {
                "kind": "memory",
                "type": "MemoryError",
                "message": str(exc),
                "line": line,
                "traceback": tb,
            },
        }
    except BaseException as exc:
        line, tb = _user_frames(exc, lines)
        return {
            "ok": False,
            "error": {
                "kind": "exception",
                "type": type(exc).__name__,
                "message": str(exc),
                "line": line,
                "traceback": tb,
            },
        }
    return {"ok": True, "value": value}


def run_captured(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request with ``print`` captured."""
    out, err = CappedText(request["max_capture"]), CappedText(request["max_capture"])
    sys.stdout, sys.stderr = out, err
    try:
        result = run(request)
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    result["stdout"], result["stderr"] = out.getvalue(), err.getvalue()
    return result


def encode(result: dict[str, Any]) -> str:
    """The result as JSON text (a value that is not JSON makes it a ``bad_return``)."""
    try:
        return json.dumps(result)
    except (TypeError, ValueError, RecursionError, OverflowError) as exc:
        value = result.pop("value", None)
        result["ok"] = False
        result["error"] = {
            "kind": "bad_return",
            "type": type(value).__name__,
            "message": str(exc),
            "line": None,
            "traceback": "",
        }
        return json.dumps(result, default=repr)


def _network_off(request: dict[str, Any]) -> None:
    if not request.get("allow_network", False):
        deny_sockets()  # already done by the zygote's child; the spawned path has a netns too
        block_network()


def main() -> None:
    """One snippet: the request on stdin (to EOF), the result on the original stdout."""
    import ctypes

    # not dumpable (as a zygote's child): our /proc files closed to other snippets (same user)
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    real_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    _network_off(request)
    real_out.write(encode(run_captured(request)))
    real_out.flush()
    os._exit(0)


class _Baseline:
    """What a warm host looks like between snippets; a snippet that leaves it otherwise (a
    thread, a child process, an open file, a signal handler, a timer) ends the host."""

    def __init__(self) -> None:
        import signal

        self.workdir = os.getcwd()
        self.fds = self._fds()
        self.env = dict(os.environ)
        self.umask = os.umask(0o077)
        os.umask(self.umask)
        self.signals = {s: signal.getsignal(s) for s in signal.valid_signals()}

    @staticmethod
    def _fds() -> set[str]:
        return set(os.listdir("/proc/self/fd"))

    def left_behind(self) -> str | None:
        import signal

        if len(os.listdir("/proc/self/task")) != 1:
            return "a thread"
        try:
            os.waitpid(-1, os.WNOHANG)  # answers (0, 0) while a child runs
            return "a child process"
        except ChildProcessError:
            pass  # none (this process is a subreaper: orphaned grandchildren count too)
        if self._fds() != self.fds:
            return "an open file"
        if signal.alarm(0) or any(signal.getitimer(t)[0] for t in (0, 1, 2)):
            return "a timer"
        if any(signal.getsignal(s) is not h for s, h in self.signals.items()):
            return "a signal handler"
        if os.umask(self.umask) != self.umask:
            return "a umask"
        return None

    def restore(self) -> str | None:
        """Back to the start: cwd, environment, an empty temp dir (else why not)."""
        os.chdir(self.workdir)
        if os.environ != self.env:
            os.environ.clear()
            os.environ.update(self.env)
        import shutil

        try:
            for entry in os.scandir(self.workdir):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
        except OSError:
            return "a file it could not remove"
        return None


def serve(max_snippets: int) -> None:
    """A warm host: snippets one after another in this process until stdin ends, the host
    has served ``max_snippets``, or a snippet leaves something behind (:class:`_Baseline`).

    Frames both ways: ``<length>\\n<json>``. The host starts in its private temp dir (cwd,
    ``HOME``, ``TMPDIR``), which is emptied after each snippet. A request carries ``cpu_s`` (the
    RLIMIT_CPU soft limit is moved to the CPU used so far plus that). A result carries
    ``recycle``: why this host ends after it, or null. Network is decided once, by the first
    request (the pool keys hosts by it).
    """
    import math
    import resource
    import tempfile

    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    baseline: _Baseline | None = None
    for served in range(1, max_snippets + 1):
        header = requests.readline()
        if not header:
            break
        request = json.loads(requests.read(int(header)).decode("utf-8"))
        if baseline is None:
            _network_off(request)
            baseline = _Baseline()
        used = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(used.ru_utime + used.ru_stime) + int(request["cpu_s"])
        resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))
        tempfile.tempdir = None
        result = run_captured(request)
        text = encode(result)
        why = (
            baseline.restore()
            or baseline.left_behind()
            or (
                "a MemoryError"
                if result.get("error", {}).get("kind") == "memory"
                else "enough snippets"
                if served == max_snippets
                else None
            )
        )
        frame = text[:-1] + f', "recycle": {json.dumps(why)}}}'
        data = frame.encode("utf-8")
        reply.write(b"%d\n%s" % (len(data), data))
        reply.flush()
        if why is not None:
            break
    os._exit(0)


if __name__ == "__main__":
    main()
