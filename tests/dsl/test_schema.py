"""The published JSON Schema of the DSL never drifts from the code."""

from __future__ import annotations

import json
from pathlib import Path

from workspace.dsl import dsl_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "dsl.schema.json"


def test_committed_schema_is_current() -> None:
    current = json.dumps(dsl_json_schema(), indent=2, sort_keys=True) + "\n"
    committed = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    if committed != current:
        SCHEMA_FILE.write_text(current)
        raise AssertionError(f"{SCHEMA_FILE} was stale and has been regenerated; commit it")


def test_schema_describes_the_document() -> None:
    schema = dsl_json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "steps", "edges", "layout", "based_on", "patches"} <= set(schema["properties"])
    assert schema["$defs"]["EdgeSpec"]["required"] == ["from", "to"]
