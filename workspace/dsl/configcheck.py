"""Node config checks on save: keys, types (pydantic), templates, paths, missing content.

Template strings (containing ``{{`` or ``{%``) are exempt from type checks on save — they are
rendered at run time — but their Jinja syntax is checked here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from workspace.domain.graph import ATTACHMENT_KINDS, Node, WorkflowGraph
from workspace.dsl import typeinfo as ti
from workspace.dsl.source import join_index, join_key
from workspace.expressions import (
    PathError,
    is_single_expression,
    is_template,
    parse_path,
    template_syntax_error,
)
from workspace.sdk import NodeRegistry, NodeType

#: Config keys holding a workflow slug, by canonical node type.
WORKFLOW_REF_FIELDS = {"subworkflow": ("workflow", "slug")}
#: Config keys naming a credential (any node type).
CREDENTIAL_FIELDS = ("credential", "credential_id")

#: (code, message, path, at_key)
Finding = tuple[str, str, str, bool]


def contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_template(v) for v in value)
    return False


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not value)


def _sub_path(base: str, value: Any, loc: tuple[Any, ...]) -> str:
    """Extend ``base`` along ``loc`` inside ``value`` (union-member tags are skipped)."""
    path, current = base, value
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path, current = join_key(path, part), current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path, current = join_index(path, part), current[part]
        elif (
            isinstance(current, dict)
            and isinstance(part, str)
            and part.isidentifier()
            and (not part[:1].isupper())
        ):
            path, current = join_key(path, part), None
    return path


def attachment_nodes(graph: WorkflowGraph) -> set[str]:
    """Nodes attached to an agent (tools get their arguments from the model at call time)."""
    return {e.source for e in graph.edges if e.kind in ATTACHMENT_KINDS}


def missing_content_of(node: Node, node_type: NodeType) -> list[dict[str, Any]]:
    return [
        {
            "node_id": node.id,
            "field": f,
            "reason": "content",
            "message": f"step {node.id!r} ({node.type}) has no {f!r} yet",
        }
        for f in node_type.content_fields
        if _empty(node.config.get(f))
    ]


def reference_findings(
    node: Node, known_workflows: set[str] | None, known_credentials: set[str] | None
) -> list[dict[str, Any]]:
    """References to workflows/credentials that are not known (when the caller knows them)."""
    out: list[dict[str, Any]] = []
    checks: list[tuple[tuple[str, ...], set[str] | None, str]] = [
        (WORKFLOW_REF_FIELDS.get(node.type, ()), known_workflows, "workflow"),
        (CREDENTIAL_FIELDS, known_credentials, "credential"),
    ]
    for fields, known, reason in checks:
        if known is None:
            continue
        for f in fields:
            value = node.config.get(f)
            if isinstance(value, str) and value and not is_template(value) and value not in known:
                out.append(
                    {
                        "node_id": node.id,
                        "field": f,
                        "reason": reason,
                        "message": f"{reason} {value!r} does not exist (yet)",
                    }
                )
    return out


def missing_content(
    graph: WorkflowGraph,
    registry: NodeRegistry,
    *,
    known_workflows: set[str] | None = None,
    known_credentials: set[str] | None = None,
) -> list[dict[str, Any]]:
    """What an incomplete (draft) workflow still lacks; the engine refuses to run it if any.

    Each entry: ``{"node_id", "field", "reason": "content"|"workflow"|"credential", "message"}``.
    """
    out: list[dict[str, Any]] = []
    attached = attachment_nodes(graph)
    for node in graph.nodes:
        if node.type not in registry:
            continue
        if node.id not in attached:
            out += missing_content_of(node, registry.get(node.type))
        out += reference_findings(node, known_workflows, known_credentials)
    return out


def check_config(
    node: Node,
    node_type: NodeType,
    path_of: Callable[[str], str],
    node_path: str,
    *,
    attached: bool = False,
) -> list[Finding]:
    """Unknown keys, pydantic errors (templates exempt), template syntax and routing paths.

    ``attached``: the node is a tool/model/memory attachment; its required fields may be
    supplied at call time (an agent's tool arguments), so missing ones are not errors."""
    findings: list[Finding] = []
    config = node.config
    allowed = ti.config_keys(node_type.Config)
    known: dict[str, Any] = {}
    for key, value in config.items():
        if allowed is not None and key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            findings.append(
                (
                    "unknown_key",
                    f"unknown key {key!r} for step type {node.type!r}{hint}",
                    path_of(key),
                    True,
                )
            )
        else:
            known[key] = value
    content = set(node_type.content_fields)
    try:
        node_type.Config.model_validate(known)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            etype, value = err["type"], err.get("input")
            if etype == "extra_forbidden" and len(loc) <= 1:
                continue  # reported above as an unknown step key
            if etype == "missing" and len(loc) == 1 and (loc[0] in content or attached):
                continue  # reported as missing content / given by the agent at call time
            if isinstance(value, str) and is_template(value):
                continue
            if (not loc or etype in ("value_error", "assertion_error")) and contains_template(
                value
            ):
                continue
            if loc and isinstance(loc[0], str) and loc[0] in config:
                path = _sub_path(path_of(loc[0]), config[loc[0]], loc[1:])
            elif loc:
                path = join_key(node_path, str(loc[0]))
            else:
                path = node_path
            msg, code = err["msg"], "invalid_config"
            if etype == "missing":
                msg = f"missing required key {str(loc[-1])!r}"
            elif etype == "extra_forbidden":
                msg, code = f"unknown key {str(loc[-1])!r}", "unknown_key"
            findings.append((code, msg, path, etype in ("missing", "extra_forbidden")))
    for key, value in config.items():
        if (
            key in node_type.raw_fields
            and isinstance(value, str)
            and not (is_single_expression(value))
        ):
            continue  # a code snippet or similar: the node renders (or not) itself
        findings += _template_findings(value, path_of(key))
    findings += _path_findings(config, path_of)
    return findings


def _template_findings(value: Any, path: str) -> list[Finding]:
    if isinstance(value, str):
        if is_template(value):
            err = template_syntax_error(value)
            if err:
                return [("template_syntax", err, path, False)]
        return []
    out: list[Finding] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _template_findings(v, join_key(path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _template_findings(v, join_index(path, i))
    return out


def _path_findings(config: dict[str, Any], path_of: Callable[[str], str]) -> list[Finding]:
    """Routing ``field`` paths (``rules[].field`` and a top-level ``field``) must parse."""
    out: list[Finding] = []
    candidates: list[tuple[Any, str]] = []
    if "field" in config:
        candidates.append((config["field"], path_of("field")))
    rules = config.get("rules")
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            if isinstance(rule, dict) and "field" in rule:
                candidates.append(
                    (rule["field"], join_key(join_index(path_of("rules"), i), "field"))
                )
    for value, path in candidates:
        if not isinstance(value, str) or is_template(value):
            continue
        try:
            parse_path(value)
        except PathError as exc:
            out.append(("bad_path", str(exc), path, False))
    return out
