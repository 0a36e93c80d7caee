"""``create_mock_app``: the scripted mock LLM as an ASGI app (OpenAI- and Anthropic-compatible).

Routes:

| route | what |
|---|---|
| `POST /v1/chat/completions` | OpenAI Chat Completions (stream or not; tools; usage) |
| `POST /v1/messages` | Anthropic Messages (stream or not; tools; usage) |
| `GET /v1/models` | the script's models (Anthropic's format when `anthropic-version` is sent) |
| `GET /_mock/requests` | every request recorded so far (API keys as fingerprints) |
| `POST /_mock/reset` | forget recorded requests and rule use counts |
| `PUT /_mock/script` | follow another script (YAML or JSON body) |
| `GET /_mock/health` | `{"status": "ok", "scripted": true}` |

Every response carries `X-Plait-Mock: scripted`: nothing pretends to be a real model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from workspace.errors import ValidationError
from workspace.mockllm import anthropic_wire, openai_wire
from workspace.mockllm.conversation import Turn, anthropic_turn, openai_turn
from workspace.mockllm.responder import Recorded, Reply, Responder, key_fingerprint
from workspace.mockllm.script import ErrorReply, Script, load_script

__all__ = ["create_mock_app"]

MARK = {"X-Plait-Mock": "scripted"}


def _openai_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _anthropic_key(request: Request) -> str | None:
    return request.headers.get("x-api-key") or _openai_key(request)


class _Api:
    """One provider's request handling: parse, authorize, answer, record."""

    def __init__(
        self,
        provider: str,
        responder: Responder,
        parse: Callable[[dict[str, Any]], Turn],
        key_of: Callable[[Request], str | None],
        error_body: Callable[[int, str], dict[str, Any]],
    ) -> None:
        self.provider = provider
        self.responder = responder
        self.parse = parse
        self.key_of = key_of
        self.error_body = error_body

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            self.error_body(status, message),
            status_code=status,
            headers={**MARK, **(headers or {})},
        )

    async def handle(
        self,
        request: Request,
        render: Callable[[Reply, str], dict[str, Any]],
        stream: Callable[[Reply, Turn], Iterator[str]],
    ) -> Response:
        key = self.key_of(request)
        try:
            body = await request.json()
        except ValueError:
            body = None

        def record(model: str, rule: int | None, status: int) -> None:
            self.responder.record(
                Recorded(
                    provider=self.provider,
                    path=request.url.path,
                    model=model,
                    body=body,
                    rule=rule,
                    status=status,
                    key=key_fingerprint(key),
                )
            )

        if not isinstance(body, dict):
            record("", None, 400)
            return self.error(400, "the request body must be a JSON object")
        expected = self.responder.script.api_key
        if expected is not None and key != expected:
            record(str(body.get("model") or ""), None, 401)
            return self.error(401, "invalid API key (scripted mock LLM)")
        try:
            turn = self.parse(body)
        except ValueError as exc:
            record(str(body.get("model") or ""), None, 400)
            return self.error(400, str(exc))
        found = self.responder.answer(turn)
        if found is None:
            record(turn.model, None, 400)
            latest = turn.latest.text if turn.latest else ""
            return self.error(
                400,
                "scripted mock LLM: no rule of the script matches the latest "
                f"{turn.latest.role if turn.latest else 'user'} message {latest[:200]!r}",
            )
        index, answer = found
        if isinstance(answer, ErrorReply):
            record(turn.model, index, answer.status)
            headers = {}
            if answer.retry_after is not None:
                headers["retry-after"] = f"{answer.retry_after:g}"
            return self.error(answer.status, answer.message, headers)
        record(turn.model, index, 200)
        if answer.delay_ms:
            await asyncio.sleep(answer.delay_ms / 1000)
        if not turn.stream:
            return JSONResponse(render(answer, turn.model), headers=MARK)

        async def sse() -> AsyncIterator[str]:
            for piece in stream(answer, turn):
                yield piece
                await asyncio.sleep(0)  # a real stream: one write per piece

        return StreamingResponse(sse(), media_type="text/event-stream", headers=MARK)


def create_mock_app(script: Script | Responder) -> FastAPI:
    responder = script if isinstance(script, Responder) else Responder(script)
    app = FastAPI(title="Plait mock LLM (scripted)", docs_url=None, redoc_url=None)
    app.state.responder = responder
    openai = _Api(
        "openai",
        responder,
        openai_turn,
        _openai_key,
        lambda status, message: openai_wire.error_body(status, message),
    )
    anthropic = _Api(
        "anthropic", responder, anthropic_turn, _anthropic_key, anthropic_wire.error_body
    )

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await openai.handle(
            request,
            openai_wire.completion,
            lambda reply, turn: openai_wire.chunks(
                reply, turn.model, include_usage=turn.include_usage
            ),
        )

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        return await anthropic.handle(
            request,
            anthropic_wire.message,
            lambda reply, turn: anthropic_wire.events(reply, turn.model),
        )

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        names = list(responder.script.models)
        api = anthropic if "anthropic-version" in request.headers else openai
        key = api.key_of(request)
        expected = responder.script.api_key
        status = 401 if expected is not None and key != expected else 200
        responder.record(
            Recorded(api.provider, request.url.path, "", None, None, status, key_fingerprint(key))
        )
        if status == 401:
            return api.error(401, "invalid API key (scripted mock LLM)")
        if api is anthropic:
            return JSONResponse(anthropic_wire.models_list(names), headers=MARK)
        return JSONResponse(openai_wire.models_list(names), headers=MARK)

    @app.get("/_mock/requests")
    async def recorded() -> Response:
        return JSONResponse([r.to_dict() for r in responder.requests()], headers=MARK)

    @app.post("/_mock/reset")
    async def reset() -> Response:
        responder.reset()
        return JSONResponse({"status": "reset"}, headers=MARK)

    @app.put("/_mock/script")
    async def replace_script(request: Request) -> Response:
        text = (await request.body()).decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text.lstrip().startswith("{") else text
            new = load_script(data)
        except (ValueError, ValidationError) as exc:
            message = exc.message if isinstance(exc, ValidationError) else str(exc)
            return JSONResponse({"error": message}, status_code=400, headers=MARK)
        responder.load(new)
        return JSONResponse({"status": "loaded", "rules": len(new.rules)}, headers=MARK)

    @app.get("/_mock/health")
    async def health() -> Response:
        return JSONResponse({"status": "ok", "scripted": True}, headers=MARK)

    return app
