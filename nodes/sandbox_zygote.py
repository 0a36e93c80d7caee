"""The sandbox zygote (fork server). Standard library only.

Started by :mod:`nodes.zygote` as ``python -I -S -c <this source> <fd> <source of
sandbox_runner>`` with a clean environment, as the unprivileged sandbox user, with one
``SOCK_SEQPACKET`` control socket on file descriptor ``<fd>``. At start it leaves its parent's
user namespace (when the kernel allows; mapping only its own uid, so that children can make
namespaces of their own), makes itself non-dumpable (no snippet can attach to it or read its
memory), imports the runner and the standard-library modules snippets commonly use, and reports
``{"ready": pid, ...}``.

Then, per request (one JSON datagram with four file descriptors: the child's stdin, stdout and
stderr, and a reply socket), it forks ONE child and answers on the reply socket
``pid <pid>\\n`` at once and ``status <wait status>\\n`` when the child ends. The child:

1. starts a new session (its own process group: the worker SIGKILLs the group);
2. unless network is allowed, loses ``socket(2)`` for good (a seccomp filter, the runner's
   ``deny_sockets``; a new network namespace where seccomp is unavailable), then enters a NEW
   user namespace of its own (no capability outside it, none over its siblings or the zygote);
3. applies the request's rlimits (address space, CPU, file size, open files, no core dumps,
   process count);
4. moves into its private temp dir (cwd, ``HOME``, ``TMPDIR``; made by the worker);
5. runs the snippet with the runner's ``main`` and exits. Nothing it does reaches the zygote:
   a fresh fork each time, so no state is shared between snippets.

A request with ``"serve": N`` makes the child a **warm host** instead (:mod:`nodes.warm_hosts`):
the same isolation, then the runner's ``serve`` runs up to N snippets one after another, framed
on its stdin/stdout, until its stdin closes. Its RLIMIT_CPU hard limit is ``cpu_budget_s``.

When the control socket reaches EOF (the worker exited or was killed) the zygote SIGKILLs the
process groups of its live children and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import selectors
import signal
import socket
import sys
import types
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
MB = 1024 * 1024
#: standard-library modules imported once here, so a snippet's ``import json`` costs nothing
WARM = (  # noqa: SIM905 (one line per group reads better than 34 quoted names)
    "ast base64 collections contextlib copy csv dataclasses datetime decimal enum fractions "
    "functools hashlib hmac html itertools json math operator random re shutil socket statistics "
    "string tempfile textwrap time traceback typing unicodedata urllib.parse uuid zoneinfo"
).split()

_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
    return bool(_libc.unshare(flags) == 0)


def _own_user_namespace() -> bool:
    """Leave the parent's user namespace, mapping our own uid/gid only (without a mapping
    a child could not create a user namespace of its own)."""
    uid, gid = os.geteuid(), os.getegid()
    if not _unshare(CLONE_NEWUSER):
        return False
    try:
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    except OSError:
        pass  # still in a namespace of our own; children fall back to a plain netns
    return True


def _isolate_child(runner: types.ModuleType, request: dict[str, Any]) -> None:
    """Namespaces, seccomp and rlimits of one snippet child (called right after fork)."""
    os.setsid()
    # without network: sockets denied by seccomp (microseconds), else a network namespace
    # (its creation and the kernel's teardown cost ~1.3 ms of CPU per snippet)
    netns = not request["network"] and not runner.deny_sockets()
    flags = CLONE_NEWUSER | (CLONE_NEWNET if netns else 0)
    if not _unshare(flags) and netns:
        _unshare(CLONE_NEWNET)  # no user namespaces: a plain netns works when privileged

    def limit(which: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        _, cur = resource.getrlimit(which)
        if cur != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur), min(hard, cur)
        resource.setrlimit(which, (soft, hard))

    limit(resource.RLIMIT_AS, request["memory_mb"] * MB)
    # a warm host's hard limit is its lifetime budget; it moves the soft one per snippet
    limit(resource.RLIMIT_CPU, request["cpu_s"], request.get("cpu_budget_s", request["cpu_s"] + 1))
    limit(resource.RLIMIT_FSIZE, request["max_file_mb"] * MB)
    limit(resource.RLIMIT_NOFILE, request["max_open_files"])
    limit(resource.RLIMIT_CORE, 0)
    if request.get("nproc") is not None:
        limit(resource.RLIMIT_NPROC, request["nproc"])
    workdir = request["workdir"]
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    import tempfile

    tempfile.tempdir = None  # never a cached dir of the zygote


def _child(runner: types.ModuleType, request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: never returns (the zygote's loop must not run twice)."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stdin, stdout, stderr, _reply = fds
        for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        _isolate_child(runner, request)
        if request.get("serve"):
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans it leaves come back
            runner.serve(request["serve"])  # ends with os._exit(0)
        runner.main()  # ends with os._exit(0)
        code = 0
    except BaseException:
        try:
            import traceback

            os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        finally:
            code = 71
    finally:
        os._exit(code)


def _reply(sock: socket.socket, text: str) -> None:
    # OSError: the worker gave up on this child (timeout, cancel): nobody is listening
    with contextlib.suppress(OSError):
        sock.sendall(text.encode("ascii"))


def serve(runner: types.ModuleType, control: socket.socket) -> None:
    children: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ, "control")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    fd_space = socket.CMSG_SPACE(4 * 4)
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "child":
                    os.read(wake_r, 4096)
                    _reap(children)
                    continue
                msg, ancdata, _flags, _addr = control.recvmsg(1 << 16, fd_space)
                if not msg:
                    return  # EOF: the worker is gone
                fds: list[int] = []
                for level, kind, data in ancdata:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.extend(memoryview(data).cast("i"))
                _fork(runner, json.loads(msg), fds, children)
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _fork(
    runner: types.ModuleType,
    request: dict[str, Any],
    fds: list[int],
    children: dict[int, socket.socket],
) -> None:
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        return
    pid = os.fork()
    if pid == 0:
        _child(runner, request, fds)
    for fd in fds[:3]:
        os.close(fd)
    reply = socket.socket(fileno=fds[3])
    children[pid] = reply
    _reply(reply, f"pid {pid}\n")


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        reply = children.pop(pid, None)
        with contextlib.suppress(OSError):  # what the snippet left running in its group
            os.killpg(pid, signal.SIGKILL)
        if reply is not None:
            _reply(reply, f"status {status}\n")
            reply.close()


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        userns = _own_user_namespace()
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        runner = types.ModuleType("sandbox_runner")
        exec(compile(sys.argv[2], "sandbox_runner", "exec"), runner.__dict__)
        import importlib

        for name in WARM:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        import socket as _s  # noqa: F401  (the runner's block_network needs it)
    except BaseException as exc:
        control.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        raise
    control.sendall(json.dumps({"ready": os.getpid(), "userns": userns}).encode())
    serve(runner, control)


if __name__ == "__main__":
    main()
