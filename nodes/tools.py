"""Small tool nodes (also attachable to agents): ``calculator`` and ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nodes.safe_math import MathError, evaluate
from nodes.timeutil import UNIT_SECONDS, check_timezone, normalise_unit, parse_datetime, zone
from workspace.domain import DataType
from workspace.errors import NodeError
from workspace.sdk import NodeContext, NodeType, Port


class CalculatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: Any = Field(
        description="Arithmetic expression, e.g. `2 * (3 + 4) ** 2` or `sqrt({{ x }})`: numbers, "
        "+ - * / // % ** (or ^), parentheses, pi/e/tau and math functions (sqrt, log, sin, "
        "round, min, max, ...)."
    )


class Calculator(NodeType):
    """Evaluate an arithmetic expression safely (no Python eval). Output: `{"output": number}`."""

    name = "calculator"
    category = "tool"
    Config = CalculatorConfig
    outputs = (Port(name="output", type=DataType.NUMBER, description="the result"),)

    def execute(self, ctx: NodeContext, config: CalculatorConfig, input: Any) -> dict[str, Any]:
        expr = config.expression
        if isinstance(expr, int | float) and not isinstance(expr, bool):
            return {"output": expr}
        if not isinstance(expr, str):
            raise NodeError(
                f"expression must be a string, got {type(expr).__name__}",
                code="bad_expression",
                retryable=False,
                field="expression",
            )
        try:
            return {"output": evaluate(expr)}
        except MathError as exc:
            raise NodeError(
                f"cannot evaluate {expr[:100]!r}: {exc}",
                code="bad_expression",
                retryable=False,
                field="expression",
            ) from None


DateUnit = Literal["seconds", "minutes", "hours", "days", "weeks"]


class DatetimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["now", "parse", "format", "add", "diff"] = Field(
        default="now",
        description="`now`; `parse` value (ISO or `input_format`); `format` value with "
        "`format`; `add` `amount` `unit`s to value; `diff`: time from value to `other`, in unit.",
    )
    timezone: str = Field(default="UTC", description="IANA zone for results and naive inputs.")
    value: Any = Field(default=None, description="ISO 8601 string or epoch seconds (default: now).")
    other: Any = Field(default=None, description="`diff`: the second datetime (default: now).")
    format: str | None = Field(
        default=None, description="strftime format of the result (default ISO 8601)."
    )
    input_format: str | None = Field(
        default=None, description="`parse`: strptime format of `value` (default ISO 8601)."
    )
    amount: float = Field(default=0, description="`add`: how many units (negative = back).")
    unit: DateUnit = Field(default="seconds", description="Unit of `amount` and `diff`.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("unit", mode="before")
    @classmethod
    def _unit(cls, v: Any) -> Any:
        return normalise_unit(v)

    @model_validator(mode="after")
    def _needs(self) -> DatetimeConfig:
        if self.operation == "format" and not self.format:
            raise ValueError("operation `format` needs `format`")
        if self.operation == "parse" and self.value is None:
            raise ValueError("operation `parse` needs `value`")
        return self


class Datetime(NodeType):
    """Current time, parsing, formatting and arithmetic on dates. Output: `{"output": ...}`
    (an ISO 8601 string, a formatted string, or a number for `diff`)."""

    name = "datetime"
    category = "tool"
    Config = DatetimeConfig

    def execute(self, ctx: NodeContext, config: DatetimeConfig, input: Any) -> dict[str, Any]:
        tz = zone(config.timezone)
        now = datetime.now(UTC).astimezone(tz)

        def when(value: Any, field: str) -> datetime:
            return now if value is None else parse_datetime(value, field=field, tz=tz)

        op = config.operation
        if op == "parse" and config.input_format:
            try:
                parsed = datetime.strptime(str(config.value), config.input_format)
            except ValueError as exc:
                raise NodeError(
                    f"value: {exc}", code="bad_datetime", retryable=False, field="value"
                ) from None
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
        elif op == "diff":
            delta = when(config.other, "other") - when(config.value, "value")
            return {"output": delta.total_seconds() / UNIT_SECONDS[config.unit]}
        else:
            moment = when(config.value, "value")
        if op == "add":
            moment = moment + timedelta(seconds=config.amount * UNIT_SECONDS[config.unit])
        moment = moment.astimezone(tz)
        return {"output": moment.strftime(config.format) if config.format else moment.isoformat()}
