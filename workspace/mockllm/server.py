"""``MockLLMServer``: the scripted mock LLM on a real port, served by uvicorn in a thread.

    with MockLLMServer(load_script(path)) as llm:
        ChatOpenAI(base_url=llm.openai_base_url, api_key="x", model="mock-scripted")
        ChatAnthropic(base_url=llm.anthropic_base_url, api_key="x", model="mock-scripted")
        llm.requests()   # what the clients sent

``plait mock-llm --script FILE`` serves the same app in the foreground.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from workspace.mockllm.app import create_mock_app
from workspace.mockllm.responder import Recorded, Responder
from workspace.mockllm.script import Script

__all__ = ["MockLLMServer"]


class MockLLMServer:
    def __init__(self, script: Script, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.responder = Responder(script)
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            create_mock_app(self.responder), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def requests(self) -> list[Recorded]:
        return self.responder.requests()

    def load(self, script: Script) -> None:
        self.responder.load(script)

    def start(self, timeout_s: float = 10) -> MockLLMServer:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="plait-mock-llm",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the mock LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> MockLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
