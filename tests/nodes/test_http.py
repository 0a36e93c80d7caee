"""http_request against a real local HTTP server (http.server in a thread on 127.0.0.1:0)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pydantic
import pytest

from nodes.http import HttpRequest
from tests.nodes.fakes import DEFAULT_LIMITS, FakeContext, run_node
from workspace.errors import NodeError, NodeTimeout


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Custom", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, json.dumps({"error": f"status {code}"}).encode())
            return
        if path == "/slow":
            time.sleep(1.5)
        if path == "/text":
            self._send(200, "plain ü text".encode(), "text/plain; charset=utf-8")
            return
        if path == "/badjson":
            self._send(200, b"{not json", "application/json")
            return
        if path == "/big":
            self._send(200, b"x" * 5000, "text/plain")
            return
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/echo?redirected=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = {
            "method": self.command,
            "path": path,
            "query": {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.query).items()},
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": raw.decode("utf-8", errors="replace"),
        }
        self._send(200, json.dumps(payload).encode(), "application/vnd.api+json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _echo


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out on /slow break the pipe; that is the point


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def call(config: dict[str, Any], ctx: FakeContext | None = None) -> dict[str, Any]:
    return run_node(HttpRequest, config, ctx or FakeContext(node_id="fetch")).output


def test_get_json_with_idempotency_key_and_query(server: str) -> None:
    ctx = FakeContext(node_id="fetch", run_id="r42", iteration="loop[1]")
    out = call({"url": f"{server}/echo", "query": {"q": "x y", "n": 2}}, ctx)
    assert out["status_code"] == 200 and out["ok"] is True
    body = out["body"]
    assert body["method"] == "GET"
    assert body["query"] == {"q": "x y", "n": "2"}
    assert body["headers"]["idempotency-key"] == "r42:fetch:loop[1]"
    assert out["headers"]["x-custom"] == "yes"
    assert out["headers"]["content-type"] == "application/vnd.api+json"


def test_user_idempotency_key_wins(server: str) -> None:
    out = call({"url": f"{server}/echo", "headers": {"idempotency-key": "mine"}})
    assert out["body"]["headers"]["idempotency-key"] == "mine"


def test_post_json_body_templated(server: str) -> None:
    ctx = FakeContext(node_id="post", outputs={"draft": {"title": "Hi", "n": 3}})
    config = {"method": "post", "url": f"{server}/echo", "body": {"t": "{{ draft.title }}", "n": 1}}
    body = call(config, ctx)["body"]
    assert body["method"] == "POST"
    assert json.loads(body["body"]) == {"t": "Hi", "n": 1}
    assert body["headers"]["content-type"] == "application/json"


def test_text_and_form_bodies(server: str) -> None:
    body = call({"method": "PUT", "url": f"{server}/echo", "body": "raw text"})["body"]
    assert body["body"] == "raw text"
    form = call(
        {"method": "POST", "url": f"{server}/echo", "body": {"a": "1"}, "body_format": "form"}
    )
    assert form["body"]["body"] == "a=1"
    assert form["body"]["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_text_response_is_not_decoded_as_json(server: str) -> None:
    out = call({"url": f"{server}/text"})
    assert out["body"] == "plain ü text"
    assert call({"url": f"{server}/badjson"})["body"] == "{not json"


def test_auth_modes(server: str) -> None:
    bearer = call({"url": f"{server}/echo", "auth": {"type": "bearer", "token": "t0k"}})
    assert bearer["body"]["headers"]["authorization"] == "Bearer t0k"
    basic = call(
        {"url": f"{server}/echo", "auth": {"type": "basic", "username": "u", "password": "p"}}
    )
    assert basic["body"]["headers"]["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    header = call({"url": f"{server}/echo", "auth": {"type": "header", "token": "k"}})
    assert header["body"]["headers"]["x-api-key"] == "k"
    with pytest.raises(pydantic.ValidationError):
        HttpRequest.Config.model_validate({"url": "http://x", "auth": {"type": "oauth"}})


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_fails_not_retryable(server: str, status: int) -> None:
    with pytest.raises(NodeError) as err:
        call({"url": f"{server}/status/{status}?token=secret"})
    e = err.value
    assert e.code == "http_status"
    assert e.retryable is False
    assert e.details["status_code"] == status
    assert f"status {status}" in e.details["body"]
    assert "secret" not in e.message and "secret" not in json.dumps(e.details)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_5xx_and_429_fail_retryable(server: str, status: int) -> None:
    with pytest.raises(NodeError) as err:
        call({"url": f"{server}/status/{status}"})
    assert err.value.code == "http_status"
    assert err.value.retryable is True


def test_status_handling_options(server: str) -> None:
    out = call({"url": f"{server}/status/404", "raise_for_status": False})
    assert out["status_code"] == 404 and out["ok"] is False
    assert out["body"] == {"error": "status 404"}
    ok = call({"url": f"{server}/status/404", "expected_status": [404]})
    assert ok["status_code"] == 404
    with pytest.raises(NodeError) as err:
        call({"url": f"{server}/echo", "expected_status": [201]})
    assert err.value.code == "http_status"


def test_redirects(server: str) -> None:
    assert call({"url": f"{server}/redirect"})["body"]["query"] == {"redirected": "1"}
    out = call({"url": f"{server}/redirect", "follow_redirects": False})
    assert out["status_code"] == 302 and out["ok"] is False


def test_timeout(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(NodeTimeout) as err:
        call({"url": f"{server}/slow", "timeout_s": 0.3})
    assert err.value.retryable is True
    assert time.monotonic() - started < 1.4


def test_settings_deadline_caps_timeout(server: str) -> None:
    ctx = FakeContext(node_id="f", limits={**DEFAULT_LIMITS, "timeout_s": 0.3})
    with pytest.raises(NodeTimeout):
        call({"url": f"{server}/slow", "timeout_s": 60}, ctx)


def test_connection_error_is_retryable() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NodeError) as err:
        call({"url": f"http://127.0.0.1:{port}/"})
    assert err.value.code == "http_error"
    assert err.value.retryable is True


def test_bad_urls() -> None:
    for url in ("ftp://example.com/x", "example.com", "file:///etc/passwd"):
        with pytest.raises(NodeError) as err:
            call({"url": url})
        assert err.value.code == "bad_url"


def test_response_size_limit(server: str) -> None:
    with pytest.raises(NodeError) as err:
        call({"url": f"{server}/big", "max_response_bytes": 1000})
    assert err.value.code == "response_too_large"


def test_head_request(server: str) -> None:
    out = call({"method": "HEAD", "url": f"{server}/echo"})
    assert out["status_code"] == 200 and out["body"] is None  # empty JSON body


def test_flags() -> None:
    assert HttpRequest.side_effects is True
    assert HttpRequest.aliases == ("http",)
