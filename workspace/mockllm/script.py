"""The script a mock LLM server follows: ordered rules, the first that matches answers.

```yaml
rules:
  - match: "weather in (?P<city>\\w+)"        # regex, searched in the latest user/tool message
    tool_calls:                                 # parallel calls: several entries
      - {name: get_weather, arguments: {city: "\\g<city>"}}
  - match: "sunny"
    content: "It is sunny in \\g<0>."           # re.Match.expand: \\1, \\g<name>
    usage: {prompt_tokens: 12, completion_tokens: 5}
  - match: "flaky"
    times: 1                                    # used once, then the next rule is tried
    error: {status: 429, message: slow down, retry_after: 1}
```

Keys beyond the required ``match`` and ``content | tool_calls | error``: ``provider``
(``openai`` | ``anthropic``: only requests of that API), ``model`` (regex on the requested
model), ``role`` (``user`` | ``tool`` | ``any``, default ``any``: which latest message is
matched), ``times`` (how often the rule may answer), ``delay_ms`` (before answering),
``chunk_chars`` (size of streamed text pieces), ``usage`` (``prompt_tokens`` /
``completion_tokens``, or Anthropic's ``input_tokens`` / ``output_tokens``; estimated when
absent). A tool call's ``arguments`` may be a string, sent verbatim (a malformed call, to test
how clients cope). Top-level ``api_key``: requests must carry it (else 401); ``models``: what
``GET /v1/models`` lists (default ``[mock-scripted]``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from workspace.errors import ValidationError

__all__ = ["ErrorReply", "Rule", "Script", "ToolCall", "Usage", "load_script"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCall(_Strict):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class Usage(_Strict):
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _anthropic_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "input_tokens" in data:
                data.setdefault("prompt_tokens", data.pop("input_tokens"))
            if "output_tokens" in data:
                data.setdefault("completion_tokens", data.pop("output_tokens"))
        return data


class ErrorReply(_Strict):
    status: int = Field(ge=400, le=599)
    message: str = "scripted error"
    retry_after: float | None = Field(default=None, ge=0)


class Rule(_Strict):
    match: str
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    error: ErrorReply | None = None
    provider: Literal["openai", "anthropic"] | None = None
    model: str | None = None
    role: Literal["user", "tool", "any"] = "any"
    times: int | None = Field(default=None, ge=1)
    delay_ms: int = Field(default=0, ge=0, le=600_000)
    chunk_chars: int = Field(default=8, ge=1)
    usage: Usage = Field(default_factory=Usage)

    @field_validator("match", "model")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regex {v!r}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _one_answer(self) -> Rule:
        answers = [self.content is not None or bool(self.tool_calls), self.error is not None]
        if sum(answers) != 1:
            raise ValueError("a rule answers with `content` and/or `tool_calls`, or with `error`")
        return self

    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.match, re.DOTALL)


class Script(_Strict):
    rules: list[Rule] = Field(min_length=1)
    api_key: str | None = None
    models: list[str] = Field(default_factory=lambda: ["mock-scripted"], min_length=1)


def load_script(source: str | Path | dict[str, Any]) -> Script:
    """A script from a YAML file path, YAML text or a dict; ``ValidationError`` saying what is
    wrong (``code="mock_script_invalid"``)."""
    where = "<script>"
    data: Any = source
    if isinstance(source, Path):
        where = str(source)
        try:
            data = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(
                f"cannot read mock LLM script {where}: {exc.strerror}", code="mock_script_invalid"
            ) from None
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise ValidationError(
                f"mock LLM script {where} is not valid YAML: {exc}", code="mock_script_invalid"
            ) from None
    try:
        return Script.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValidationError(
            f"mock LLM script {where} is invalid: {problems}", code="mock_script_invalid"
        ) from None
