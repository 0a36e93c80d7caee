"""YAML source → plain Python values plus a position index.

``parse_source`` never raises for any input text: every problem (syntax, duplicate keys,
unsupported tags, recursive aliases, oversized documents) becomes a :class:`Problem` with a
1-based line and column. Positions are keyed by *paths* such as ``steps[2].rules[0].route``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workspace.errors import Problem

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null"))
_KEEP_TEXT_TAGS = frozenset(
    {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:value"}
)
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
MAX_DEPTH = 100
MAX_NODES = 200_000

Pos = tuple[int, int]


def join_key(base: str, key: str) -> str:
    """``join_key("steps[0]", "url") == "steps[0].url"``; odd keys are quoted: ``a["b c"]``."""
    if _IDENT.match(key):
        return f"{base}.{key}" if base else key
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def join_index(base: str, index: int) -> str:
    return f"{base}[{index}]"


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document starts."""

    values: dict[str, Pos] = field(default_factory=dict)
    keys: dict[str, Pos] = field(default_factory=dict)

    def locate(self, path: str, *, key: bool = False) -> Pos | None:
        """Position of ``path`` (its key when ``key``), else of the nearest known ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        for i in range(len(path) - 1, 0, -1):
            if path[i] in ".[":
                prefix = path[:i]
                if prefix in self.keys and key:
                    return self.keys[prefix]
                if prefix in self.values:
                    return self.values[prefix]
        return self.values.get("")

    def problem(
        self,
        code: str,
        message: str,
        path: str = "",
        *,
        key: bool = False,
        severity: str = "error",
        **extra: Any,
    ) -> Problem:
        pos = self.locate(path, key=key)
        return Problem(
            message=message,
            code=code,
            path=path,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
            severity=severity,
            extra=extra,
        )


@dataclass
class SourceDocument:
    """A parsed document: ``data`` (plain values), positions and the problems found."""

    data: Any
    positions: SourceMap
    problems: list[Problem]
    text: str = ""

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


class _TooLarge(Exception):
    pass


def _pos(node: Node) -> Pos:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.problems: list[Problem] = []
        self.count = 0
        self.stack: set[int] = set()
        self.constructor = SafeConstructor()

    def problem(self, node: Node, code: str, message: str, path: str) -> None:
        line, col = _pos(node)
        self.problems.append(Problem(message=message, code=code, path=path, line=line, column=col))

    def build(self, node: Node, path: str, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        self.smap.values.setdefault(path, _pos(node))
        if depth > MAX_DEPTH:
            self.problem(node, "yaml_syntax", f"nesting deeper than {MAX_DEPTH} levels", path)
            return None
        if id(node) in self.stack:
            self.problem(node, "yaml_syntax", "recursive alias", path)
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.stack.add(id(node))
        try:
            if node.tag not in _COLLECTION_TAGS:
                self.problem(node, "yaml_syntax", f"unsupported YAML tag {node.tag!r}", path)
            if isinstance(node, SequenceNode):
                return [
                    self.build(child, join_index(path, i), depth + 1)
                    for i, child in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                return self.mapping(node, path, depth)
            return None  # pragma: no cover - yaml only makes the three node kinds
        finally:
            self.stack.discard(id(node))

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag in _KEEP_TEXT_TAGS:
            return node.value
        if node.tag not in _PLAIN_TAGS:
            self.problem(node, "yaml_syntax", f"unsupported YAML tag {node.tag!r}", path)
            return node.value
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            self.problem(node, "yaml_syntax", f"bad scalar {node.value[:40]!r}: {exc}", path)
            return node.value

    def key_of(self, node: Node, path: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problem(node, "yaml_syntax", "mapping keys must be plain scalars", path)
            return None
        value = self.scalar(node, path)
        return value if isinstance(value, str) else node.value

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_at: dict[str, Pos] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self.key_of(key_node, path)
            if key is None:
                continue
            sub = join_key(path, key)
            if key in out or key in first_at:
                line, _ = first_at.get(key, (0, 0))
                self.problem(
                    key_node, "duplicate_key", f"duplicate key {key!r} (first at line {line})", sub
                )
                continue
            first_at[key] = _pos(key_node)
            self.smap.keys[sub] = _pos(key_node)
            out[key] = self.build(value_node, sub, depth + 1)
        for merge in merges:
            self.merge_into(out, merge, path, depth)
        return out

    def merge_into(self, out: dict[str, Any], node: Node, path: str, depth: int) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(source, "yaml_syntax", "a merge key '<<' needs a mapping", path)
                continue
            if id(source) in self.stack:
                self.problem(source, "yaml_syntax", "recursive alias", path)
                continue
            self.stack.add(id(source))
            try:
                for key_node, value_node in source.value:
                    key = self.key_of(key_node, path)
                    if key is None or key in out:
                        continue
                    sub = join_key(path, key)
                    self.smap.keys.setdefault(sub, _pos(key_node))
                    out[key] = self.build(value_node, sub, depth + 1)
            finally:
                self.stack.discard(id(source))


def _offset_pos(text: str, offset: int) -> Pos:
    before = text[:offset]
    line = before.count("\n") + 1
    return (line, offset - (before.rfind("\n") + 1) + 1)


def _yaml_problem(exc: Exception, text: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        parts = [p for p in (exc.context, exc.problem) if p]
        message = "; ".join(parts) or str(exc)
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        return Problem(f"YAML syntax error: {message}", "yaml_syntax", line=line, column=col)
    if isinstance(exc, yaml.reader.ReaderError):
        line, col = _offset_pos(text, max(0, min(exc.position, len(text))))
        return Problem(f"YAML syntax error: {exc.reason}", "yaml_syntax", line=line, column=col)
    return Problem(f"YAML syntax error: {exc}", "yaml_syntax", line=1, column=1)


def parse_source(text: str | bytes) -> SourceDocument:
    """Parse YAML text. Never raises: problems are returned in ``SourceDocument.problems``."""
    smap = SourceMap()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            p = Problem(f"not UTF-8 text: {exc.reason}", "yaml_syntax", line=1, column=1)
            return SourceDocument(None, smap, [p])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return SourceDocument(None, smap, [_yaml_problem(exc, text)], text)
    except RecursionError:
        p = Problem(
            "YAML syntax error: document nested too deeply", "yaml_syntax", line=1, column=1
        )
        return SourceDocument(None, smap, [p], text)
    if root is None:
        p = Problem("the document is empty", "invalid_document", line=1, column=1)
        return SourceDocument(None, smap, [p], text)
    builder = _Builder(smap)
    try:
        data = builder.build(root, "")
    except (_TooLarge, RecursionError):
        p = Problem(
            f"document too large (more than {MAX_NODES} values after alias expansion)",
            "yaml_syntax",
            line=1,
            column=1,
        )
        return SourceDocument(None, smap, [p], text)
    problems = builder.problems
    if not isinstance(data, dict) and not any(p.code == "yaml_syntax" for p in problems):
        problems.append(
            smap.problem("invalid_document", "a workflow document must be a YAML mapping", "")
        )
    return SourceDocument(data, smap, problems, text)
