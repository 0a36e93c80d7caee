"""``WebhookReceiver``: turns an HTTP request into a stored run (SPEC §6).

Checks, in order: the workflow and its ``trigger_webhook`` node exist and accept the method;
the body fits the size limit; authentication (none, a header token, or HMAC-SHA256 over
``timestamp.body`` with a replay window); then the run is stored together with its dedupe key
(the event-id header, else a hash of the body) in ONE transaction, and handed to the workers.
Only then does the caller answer 202, so an accepted request is never lost: if the queue is
down, the sweeper sends the stored run once it is back. A repeated delivery returns the first
delivery's run. In ``sync`` mode the receiver waits (bounded) for the run's reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from workspace.domain.events import EventType, run_event
from workspace.domain.run import Run, RunStatus
from workspace.errors import AccessDenied, ConfigurationError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from workspace.runtime.workspace import Workspace

WEBHOOK_TYPE = "trigger_webhook"


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookResult:
    run: Run
    duplicate: bool
    #: ``sync`` mode: True when the run reached a stable point within the timeout
    completed: bool = False


class WebhookReceiver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def receive(self, slug: str, trigger_id: str, request: WebhookRequest) -> WebhookResult:
        ws = self.ws
        rt = ws.settings.runtime
        found = ws.store.workflows.find_latest(slug)
        if found is None:
            raise NotFoundError(f"no workflow {slug!r}", code="workflow_not_found")
        wf, number = found
        if number is None:
            raise NotFoundError(f"workflow {slug!r} is not published", code="not_published")
        version = ws.version(wf.id, number)
        node = next((n for n in version.graph.nodes if n.id == trigger_id), None)
        if node is None or node.type != WEBHOOK_TYPE:
            raise NotFoundError(
                f"workflow {slug!r} has no webhook trigger {trigger_id!r}", code="trigger_not_found"
            )
        config = self._config(node.config)
        methods = [m.upper() for m in getattr(config, "methods", ["POST"])]
        if request.method.upper() not in methods:
            raise ValidationError(
                f"this webhook accepts {', '.join(methods)}, not {request.method.upper()}",
                code="method_not_allowed",
            )
        if len(request.body) > rt.webhook_max_body_bytes:
            raise ValidationError(
                f"body of {len(request.body)} bytes exceeds the limit of "
                f"{rt.webhook_max_body_bytes}",
                code="payload_too_large",
            )
        self._authenticate(config, request, wf.owner)
        payload = _payload(request)
        key = self._dedupe_key(config, request)
        run = ws.planner.prepare_for(
            wf,
            number,
            {
                "payload": payload,
                "headers": _public_headers(config, request),
                "query": request.query,
            },
            trigger=trigger_id,
        )
        queued = run_event(run, EventType.RUN_QUEUED, trigger=trigger_id)
        # the run, its dedupe key and its run_queued event: one transaction
        stored, new = ws.sink.create_delivered(
            ws.store.deliveries,
            run,
            [queued],
            workflow_id=wf.id,
            trigger_id=trigger_id,
            key=key,
            ttl_s=float(getattr(config, "dedupe_ttl_s", rt.webhook_dedupe_ttl_s)),
        )
        if not new:
            return WebhookResult(stored, duplicate=True)
        # the run is committed: its task goes to the workers after the answer (a process that
        # dies first leaves a queued run, which the sweeper sends again)
        ws.submit(stored, soon=True)
        if getattr(config, "mode", "async") != "sync":
            return WebhookResult(stored, duplicate=False)
        timeout = float(getattr(config, "sync_timeout_s", rt.webhook_sync_timeout_s))
        done = ws.wait(stored.id, timeout_s=timeout).run
        stable = done.status.terminal or done.status in (RunStatus.WAITING, RunStatus.PAUSED)
        return WebhookResult(done, duplicate=False, completed=stable)

    def _config(self, raw: dict[str, Any]) -> BaseModel:
        model = self.ws.registry.get(WEBHOOK_TYPE).Config
        try:
            return model.model_validate(raw)
        except PydanticValidationError as exc:
            raise ConfigurationError(
                f"the webhook trigger is misconfigured: {exc}", code="trigger_misconfigured"
            ) from None

    def _secret(self, name: str | None, owner: str | None) -> bytes:
        """The token / HMAC secret a trigger names: a credential its workflow's owner may use,
        else one from the server's settings (``PLAIT_RUNTIME__WEBHOOK_SECRETS``)."""
        if name:
            try:
                return self.ws.credentials.reveal_for(name, owner)[1].encode()
            except NotFoundError:
                pass
        value = self.ws.settings.runtime.webhook_secrets.get(name or "")
        if value is None:
            # the workflow names a secret this server does not have: refuse, never accept
            raise AccessDenied(
                f"the webhook's secret {name!r} is not configured on this server",
                code="secret_missing",
            )
        return value.get_secret_value().encode()

    def _authenticate(self, config: BaseModel, request: WebhookRequest, owner: str | None) -> None:
        auth = getattr(config, "auth", "none")
        if auth == "none":
            return
        header = str(getattr(config, "header_name", "") or "").lower()
        given = request.headers.get(header)
        if not given:
            raise AccessDenied(f"missing {header} header", code="unauthorized")
        secret = self._secret(getattr(config, "secret", None), owner)
        if auth == "header":
            if not hmac.compare_digest(given.encode(), secret):
                raise AccessDenied("invalid webhook token", code="unauthorized")
            return
        ts_header = str(getattr(config, "timestamp_header", "X-Plait-Timestamp")).lower()
        stamp = request.headers.get(ts_header, "")
        try:
            sent_at = float(stamp)
        except ValueError:
            sent_at = math.nan
        if not math.isfinite(sent_at):  # "nan" would pass any window check, forever
            raise AccessDenied(f"missing or malformed {ts_header} header", code="bad_signature")
        window = float(getattr(config, "replay_window_s", 300))
        if abs(time.time() - sent_at) > window:
            raise AccessDenied(
                f"signature timestamp outside the {window:g} s replay window",
                code="stale_signature",
            )
        expected = sign(secret, stamp, request.body)
        candidate = given.removeprefix("sha256=")
        if not hmac.compare_digest(candidate.encode(), expected.encode()):
            raise AccessDenied("invalid webhook signature", code="bad_signature")

    def _dedupe_key(self, config: BaseModel, request: WebhookRequest) -> str:
        header = getattr(config, "dedupe_header", None)
        if header:
            event_id = request.headers.get(str(header).lower())
            if event_id:
                return f"id:{event_id}"
        return "sha256:" + hashlib.sha256(request.body).hexdigest()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The HMAC-SHA256 hex signature of ``timestamp.body`` (what senders put in the header)."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _payload(request: WebhookRequest) -> Any:
    if not request.body:
        return None
    ctype = request.headers.get("content-type", "")
    text = request.body.decode("utf-8", errors="replace")
    if "json" in ctype or (not ctype and text[:1] in "{["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"body is not valid JSON: {exc}", code="bad_json") from None
    return text


_HIDDEN_HEADERS = {"authorization", "cookie", "proxy-authorization"}


def _public_headers(config: BaseModel, request: WebhookRequest) -> dict[str, str]:
    """Headers the workflow may see: never credentials or the webhook's own token."""
    hidden = set(_HIDDEN_HEADERS)
    if getattr(config, "auth", "none") == "header":
        hidden.add(str(getattr(config, "header_name", "")).lower())
    return {k: v for k, v in request.headers.items() if k not in hidden}
