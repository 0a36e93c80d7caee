"""Discovery through the ``plait.nodes`` entry point; specs and JSON schemas of every type;
the import rule of nodes/."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pydantic
import pytest

from nodes.catalog import BUILTIN_TYPES
from workspace.sdk import NodeRegistry, NodeType

EXPECTED = {
    "agent",
    "ai_model",
    "memory",
    "categorizer",
    "router",
    "extractor",
    "output_parser",
    "trigger_manual",
    "trigger_chat",
    "trigger_webhook",
    "trigger_schedule",
    "trigger_workflow",
    "trigger_error",
    "trigger_telegram",
    "switch",
    "assertion",
    "code",
    "transform",
    "merge",
    "filter",
    "loop",
    "wait",
    "human",
    "subworkflow",
    "reply",
    "http_request",
    "calculator",
    "datetime",
    "memory_read",
    "memory_write",
    "identify_user",
    "code_execute",
    "run_command",
    "web_search",
    "whoami",
    "system_health",
    "workflow_discover",
    "workflow_create",
    "workflow_patch",
    "spawn_and_await",
    "scheduler_tools",
    "platform_api",
}
NODES_DIR = Path(__file__).resolve().parents[2] / "nodes"


def test_discover_finds_every_builtin_type() -> None:
    registry = NodeRegistry.discover()
    assert set(registry.names()) >= EXPECTED
    assert {t.name for t in BUILTIN_TYPES} == EXPECTED
    assert registry.canonical_name("http") == "http_request"
    assert registry.canonical_name("workflow") == "subworkflow"
    assert registry.canonical_name("reply_chat") == "reply"
    assert isinstance(registry.get("switch"), NodeType)


@pytest.mark.parametrize("node_type", BUILTIN_TYPES, ids=lambda t: t.name)
def test_spec_and_json_schema(node_type: type[NodeType]) -> None:
    spec = node_type.spec()
    assert spec.name == node_type.name
    assert spec.description, "every type needs a description (first docstring paragraph)"
    schema = spec.config_schema
    json.dumps(schema)  # JSON-able
    assert schema["type"] == "object"
    assert schema.get("additionalProperties") is False, "configs must forbid unknown keys"
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{node_type.name}.{name} has no description"
    json.dumps(spec.model_dump(mode="json"))
    with pytest.raises(pydantic.ValidationError):
        node_type.Config.model_validate({"definitely_not_a_field": 1})


@pytest.mark.parametrize("node_type", BUILTIN_TYPES, ids=lambda t: t.name)
def test_flags_are_consistent(node_type: type[NodeType]) -> None:
    if node_type.is_trigger:
        assert node_type.inputs == () and node_type.category == "trigger"
    if node_type.static_routes is not None:
        assert node_type.routes
    assert set(node_type.raw_fields) <= set(node_type.Config.model_fields)
    assert set(node_type.content_fields) <= set(node_type.Config.model_fields)


def test_pausing_types() -> None:
    assert {t.name for t in BUILTIN_TYPES if t.pauses} == {"human", "wait"}


def test_routing_types() -> None:
    routing = {t.name for t in BUILTIN_TYPES if t.routes}
    assert routing == {"switch", "assertion", "human", "categorizer", "router"}
    side_effects = {t.name for t in BUILTIN_TYPES if t.side_effects}
    # an agent's or extractor's result is journaled: resuming never pays for it twice
    assert side_effects == {
        "subworkflow",
        "http_request",
        "agent",
        "extractor",
        "memory_write",
        "identify_user",
        "run_command",
        "workflow_create",
        "workflow_patch",
        "spawn_and_await",
        "scheduler_tools",
    }


ALLOWED_ROOTS = {"workspace.sdk", "workspace.domain", "workspace.errors", "nodes"}


@pytest.mark.parametrize("path", sorted(NODES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_nodes_import_only_the_sdk_domain_and_errors(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in ("workspace", "nodes"):
                assert any(name == r or name.startswith(r + ".") for r in ALLOWED_ROOTS), (
                    f"{path.name} imports {name}"
                )


def test_modules_stay_small() -> None:
    """Past ~400 lines a module holds more than one concept (the code-shape standard)."""
    for path in NODES_DIR.glob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 400, f"{path.name} has {lines} lines"
