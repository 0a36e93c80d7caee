"""The ``http_request`` node (alias ``http``): one HTTP call with httpx."""

from __future__ import annotations

import json
import math
import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workspace.domain import DataType
from workspace.errors import NodeError, NodeTimeout
from workspace.sdk import NodeContext, NodeType, Port

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: str = Field(description="Sent as `Authorization: Bearer <token>`.")


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str
    password: str


class HeaderAuth(_Strict):
    type: Literal["header"]
    header: str = Field(default="X-API-Key", description="Header name.")
    token: str = Field(description="Header value.")


Auth = Annotated[BearerAuth | BasicAuth | HeaderAuth, Field(discriminator="type")]


class HttpConfig(_Strict):
    method: Method = Field(default="GET", description="HTTP method.")
    url: str = Field(min_length=1, description="http:// or https:// URL (template).")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters.")
    body: Any = Field(
        default=None, description="Request body: an object/list (JSON) or a string (text)."
    )
    body_format: Literal["auto", "json", "text", "form"] = Field(
        default="auto",
        description="`auto`: objects/lists as JSON, strings as text; `form`: url-encoded.",
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Total time limit (capped by the node deadline)."
    )
    auth: Auth | None = Field(
        default=None,
        description="Inline auth `{type: bearer|basic|header, ...}`. Credential references "
        "replace inline secrets when the credential store lands.",
    )
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")
    expected_status: list[int] | None = Field(
        default=None, description="Status codes that count as success (overrides 2xx/3xx)."
    )
    raise_for_status: bool = Field(
        default=True, description="Fail the node on 4xx/5xx (code `http_status`)."
    )
    max_response_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Fail if the response body is larger."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v

    @field_validator("headers", mode="before")
    @classmethod
    def _str_headers(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in v.items()}
        return v


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def _body_kwargs(config: HttpConfig) -> dict[str, Any]:
    body, fmt = config.body, config.body_format
    if body is None:
        return {}
    if fmt == "form":
        if not isinstance(body, dict):
            raise NodeError("form bodies must be objects", code="bad_body", retryable=False)
        return {"data": body}
    if fmt == "json" or (fmt == "auto" and not isinstance(body, str | bytes)):
        return {"json": body}
    return {"content": body if isinstance(body, bytes) else str(body)}


def _decode(resp: httpx.Response, content: bytes) -> Any:
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    text = content.decode(resp.charset_encoding or "utf-8", errors="replace")
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            return text
    return text


class HttpRequest(NodeType):
    """Make an HTTP request. Sends `Idempotency-Key: <run>:<node>:<iteration>`.

    Output: `{"status_code", "headers", "body", "ok"}` (`body` JSON-decoded for JSON
    responses). Fails with `http_status` (retryable for 5xx/429), `http_error`, `timeout`.
    """

    name = "http_request"
    aliases = ("http",)
    category = "tool"
    Config = HttpConfig
    side_effects = True
    outputs = (
        Port(name="output", type=DataType.OBJECT, description="{status_code, headers, body, ok}"),
    )

    def execute(self, ctx: NodeContext, config: HttpConfig, input: Any) -> dict[str, Any]:
        url = config.url.strip()
        if urlsplit(url).scheme not in ("http", "https"):
            raise NodeError(
                f"url must start with http:// or https:// (got {url[:40]!r})",
                code="bad_url",
                retryable=False,
                field="url",
            )
        headers = dict(config.headers)
        if not any(k.lower() == "idempotency-key" for k in headers):
            headers["Idempotency-Key"] = ctx.idempotency_key
        auth: httpx.Auth | None = None
        if isinstance(config.auth, BearerAuth):
            headers["Authorization"] = f"Bearer {config.auth.token}"
        elif isinstance(config.auth, HeaderAuth):
            headers[config.auth.header] = config.auth.token
        elif isinstance(config.auth, BasicAuth):
            auth = httpx.BasicAuth(config.auth.username, config.auth.password)
        ceiling = ctx.limits.get("timeout_s") or math.inf
        timeout = min(config.timeout_s, float(ceiling))
        ctx.check_cancelled()
        where = _redacted(url)
        try:
            status, resp_headers, body = self._send(config, url, headers, auth, timeout)
        except httpx.TimeoutException:
            raise NodeTimeout(
                f"{config.method} {where} timed out after {timeout:g}s", url=where
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise NodeError(f"bad url: {exc}", code="bad_url", retryable=False) from None
        except httpx.HTTPError as exc:
            raise NodeError(
                f"{config.method} {where} failed: {type(exc).__name__}: {exc}",
                code="http_error",
                url=where,
            ) from None
        if config.expected_status is not None:
            ok = status in config.expected_status
        else:
            ok = 200 <= status < 400 or not config.raise_for_status
        if not ok:
            excerpt = body if isinstance(body, str) else json.dumps(body, default=str)
            raise NodeError(
                f"{config.method} {where} returned HTTP {status}",
                code="http_status",
                retryable=status >= 500 or status in (408, 429),
                status_code=status,
                url=where,
                body=excerpt[:2000] if excerpt else excerpt,
            )
        return {
            "status_code": status,
            "headers": resp_headers,
            "body": body,
            "ok": 200 <= status < 300,
        }

    @staticmethod
    def _send(
        config: HttpConfig,
        url: str,
        headers: dict[str, str],
        auth: httpx.Auth | None,
        timeout: float,
    ) -> tuple[int, dict[str, str], Any]:
        deadline = time.monotonic() + timeout
        with (
            httpx.Client(timeout=timeout, follow_redirects=config.follow_redirects) as client,
            client.stream(
                config.method,
                url,
                params=config.query or None,
                headers=headers,
                auth=auth,
                **_body_kwargs(config),
            ) as resp,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > config.max_response_bytes:
                    raise NodeError(
                        f"response larger than {config.max_response_bytes} bytes",
                        code="response_too_large",
                        retryable=False,
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("total time limit exceeded")
                chunks.append(chunk)
            content = b"".join(chunks)
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            return resp.status_code, resp_headers, _decode(resp, content)
