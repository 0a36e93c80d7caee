"""``Responder``: picks the script rule that answers a turn and records every request."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from workspace.mockllm.conversation import Turn
from workspace.mockllm.script import ErrorReply, Rule, Script

__all__ = ["Recorded", "Reply", "ResolvedCall", "Responder", "key_fingerprint"]


@dataclass(frozen=True)
class ResolvedCall:
    id: str
    name: str
    #: the arguments as JSON text (verbatim when the script gave a string)
    arguments: str


@dataclass(frozen=True)
class Reply:
    rule: int
    content: str | None
    tool_calls: list[ResolvedCall]
    prompt_tokens: int
    completion_tokens: int
    delay_ms: int = 0
    chunk_chars: int = 8


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (the API key only as a fingerprint)."""

    provider: str
    path: str
    model: str
    body: Any
    rule: int | None
    status: int
    key: str | None
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_fingerprint(key: str | None) -> str | None:
    """A short, non-reversible name of an API key (``sha256:`` + 12 hex digits)."""
    if not key:
        return None
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _expand(value: Any, match: re.Match[str]) -> Any:
    if isinstance(value, str):
        return match.expand(value)
    if isinstance(value, list):
        return [_expand(v, match) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, match) for k, v in value.items()}
    return value


class Responder:
    def __init__(self, script: Script) -> None:
        self._lock = threading.Lock()
        self._script = script
        self._uses = [0] * len(script.rules)
        self._requests: list[Recorded] = []

    @property
    def script(self) -> Script:
        return self._script

    def load(self, script: Script) -> None:
        """Follow another script from now on (rule use counts start again)."""
        with self._lock:
            self._script = script
            self._uses = [0] * len(script.rules)

    def reset(self) -> None:
        """Forget the recorded requests and rule use counts."""
        with self._lock:
            self._uses = [0] * len(self._script.rules)
            self._requests.clear()

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def answer(self, turn: Turn) -> tuple[int, Reply | ErrorReply] | None:
        """The first rule that matches (and still has uses left), resolved; None if none."""
        with self._lock:
            for index, rule in enumerate(self._script.rules):
                match = self._matches(rule, turn)
                if match is None:
                    continue
                if rule.times is not None and self._uses[index] >= rule.times:
                    continue
                self._uses[index] += 1
                if rule.error is not None:
                    return index, rule.error
                return index, self._reply(index, rule, match, turn)
        return None

    @staticmethod
    def _matches(rule: Rule, turn: Turn) -> re.Match[str] | None:
        if rule.provider is not None and rule.provider != turn.provider:
            return None
        if rule.model is not None and not re.search(rule.model, turn.model):
            return None
        message = turn.message(rule.role)
        if message is None:
            return None
        return rule.pattern().search(message.text)

    @staticmethod
    def _reply(index: int, rule: Rule, match: re.Match[str], turn: Turn) -> Reply:
        content = match.expand(rule.content) if rule.content is not None else None
        calls = []
        for call in rule.tool_calls or []:
            args = _expand(call.arguments, match)
            text = args if isinstance(args, str) else json.dumps(args)
            calls.append(
                ResolvedCall(
                    id=call.id or f"call_{uuid.uuid4().hex[:20]}", name=call.name, arguments=text
                )
            )
        out_chars = len(content or "") + sum(len(c.name) + len(c.arguments) for c in calls)
        usage = rule.usage
        return Reply(
            rule=index,
            content=content,
            tool_calls=calls,
            prompt_tokens=(
                usage.prompt_tokens
                if usage.prompt_tokens is not None
                else turn.input_chars // 4 + 1
            ),
            completion_tokens=(
                usage.completion_tokens
                if usage.completion_tokens is not None
                else out_chars // 4 + 1
            ),
            delay_ms=rule.delay_ms,
            chunk_chars=rule.chunk_chars,
        )
