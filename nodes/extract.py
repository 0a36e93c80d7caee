"""``extractor`` (structured output validated against a JSON schema, with repair retries) and
``output_parser`` (json / regex / list, applied for real) (SPEC §3 AI)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import jsonschema
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.agent import default_text
from nodes.llm import ask, message_text
from workspace.domain import DataType, EdgeKind
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_json(text: str) -> Any:
    """JSON from a model's answer: the whole text, a fenced block, or the first {...} / [...]
    span. Raises ValueError saying why."""
    candidates = [text.strip()]
    fenced = _FENCE.match(text)
    if fenced:
        candidates.insert(0, fenced.group(1))
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    error = "no JSON found"
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError as exc:
            error = str(exc)
    raise ValueError(error)


def schema_problems(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ][:10]


class ExtractorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: dict[str, Any] = Field(
        alias="schema", description="JSON Schema the extracted value must satisfy."
    )
    prompt: Any = Field(default=None, description="Text to extract from (template).")
    instructions: str | None = Field(default=None, description="Extra guidance for the model.")
    max_repairs: int = Field(
        default=2, ge=0, le=10, description="Times the model may fix an invalid answer."
    )

    @field_validator("schema_")
    @classmethod
    def _schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(v)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON schema: {exc.message}") from None
        return v


class Extractor(NodeType):
    """An LLM extracts structured data; the answer is validated against `schema` and sent
    back for repair with the validation errors. Output: `{"output": value, "repairs": n}`."""

    name = "extractor"
    category = "ai"
    Config = ExtractorConfig
    attachments = frozenset({EdgeKind.LLM})
    outputs = (Port(name="output", type=DataType.ANY, description="the extracted value"),)
    side_effects = True  # journaled: a resumed run does not pay for it again

    def execute(self, ctx: NodeContext, config: ExtractorConfig, input: Any) -> dict[str, Any]:
        text = config.prompt if config.prompt is not None else default_text(ctx, input)
        system = (
            "Extract the requested data from the user's text. Answer with JSON only "
            "(no prose, no code fence) that satisfies this JSON Schema:\n"
            + json.dumps(config.schema_)
        )
        if config.instructions:
            system += f"\n{config.instructions}"
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(str(text))]
        model = ctx.chat_model()
        problems: list[str] = []
        for repair in range(config.max_repairs + 1):
            reply = ask(ctx, model, messages, stream=False)
            answer = message_text(reply)
            try:
                value = parse_json(answer)
                problems = schema_problems(value, config.schema_)
            except ValueError as exc:
                problems = [f"not JSON: {exc}"]
            if not problems:
                return {"output": value, "repairs": repair}
            ctx.emit("node_retrying", {"repair": repair + 1, "problems": problems})
            messages += [
                reply,
                HumanMessage(
                    "Your answer is invalid:\n- " + "\n- ".join(problems)
                    + "\nAnswer again with corrected JSON only."
                ),
            ]  # fmt: skip
        raise NodeError(
            f"no valid answer after {config.max_repairs} repairs: {'; '.join(problems)}",
            code="extraction_failed",
            node_id=ctx.node_id,
            problems=problems,
        )


class OutputParserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["json", "regex", "list"] = Field(description="How to parse the text.")
    text: Any = Field(default=None, description="Text to parse (template; default: the input).")
    pattern: str | None = Field(
        default=None, description="regex: named groups become keys; else the groups' list."
    )
    separator: str | None = Field(
        default=None, description="list: split on this (default: lines, bullets stripped)."
    )
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="json: validate against this JSON Schema."
    )

    @model_validator(mode="after")
    def _pattern(self) -> OutputParserConfig:
        if self.format == "regex":
            if not self.pattern:
                raise ValueError("regex format needs `pattern`")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"invalid pattern: {exc}") from None
        return self


class OutputParser(NodeType):
    """Parse text (usually an AI answer) as JSON, with a regex, or as a list.
    Output: `{"output": parsed}`; text that does not parse fails the node."""

    name = "output_parser"
    category = "ai"
    Config = OutputParserConfig
    outputs = (Port(name="output", type=DataType.ANY, description="the parsed value"),)

    def execute(self, ctx: NodeContext, config: OutputParserConfig, input: Any) -> dict[str, Any]:
        text = config.text if config.text is not None else default_text(ctx, input)
        text = str(text)

        def fail(why: str) -> NodeError:
            return NodeError(
                f"cannot parse as {config.format}: {why}", code="parse_failed",
                node_id=ctx.node_id, retryable=False,
            )  # fmt: skip

        if config.format == "json":
            try:
                value = parse_json(text)
            except ValueError as exc:
                raise fail(str(exc)) from None
            if config.schema_ is not None:
                problems = schema_problems(value, config.schema_)
                if problems:
                    raise fail("; ".join(problems))
            return {"output": value}
        if config.format == "regex":
            match = re.search(config.pattern or "", text, re.S)
            if match is None:
                raise fail(f"pattern {config.pattern!r} does not match")
            named = match.groupdict()
            return {"output": named if named else list(match.groups()) or match.group(0)}
        parts = text.split(config.separator) if config.separator else text.splitlines()
        items = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", p).strip() for p in parts]
        return {"output": [i for i in items if i]}
