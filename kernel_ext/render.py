"""HTML for cell outputs: DSL problems with the source listed and the offending text marked,
plain messages, and the runs table. Pure functions of data (no IPython), so tests call them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from workspace.domain.run import Run

STYLE = """<style>
.plait-box{font-family:system-ui,sans-serif;font-size:13px;border-radius:6px;
padding:8px 10px;margin:4px 0}
.plait-ok{background:#eefaf0;border:1px solid #9bd3a6}
.plait-err{background:#fff1f0;border:1px solid #f0a8a0}
.plait-warn{background:#fff9e6;border:1px solid #e8cf7a}
.plait-src{font-family:monospace;font-size:12px;border-collapse:collapse;margin-top:6px}
.plait-src td{padding:0 6px;white-space:pre;vertical-align:top}
.plait-src td.ln{color:#888;text-align:right;user-select:none}
.plait-src tr.bad td{background:#ffe3e0}
.plait-src mark{background:#ff8a7a;color:#000;border-radius:2px}
.plait-table{border-collapse:collapse;font-size:12px}
.plait-table td,.plait-table th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}
</style>"""

_TOKEN_END = re.compile(r"[\s,}\]#]")


def message(text: str, *, kind: str = "ok", title: str | None = None) -> str:
    head = f"<b>{escape(title)}</b> " if title else ""
    return f'{STYLE}<div class="plait-box plait-{kind}">{head}{escape(text)}</div>'


def _mark(line: str, column: int | None) -> str:
    """The line escaped, with the token starting at ``column`` (1-based) marked."""
    if not column or column > len(line):
        return f"<mark>{escape(line)}</mark>" if line.strip() else "<mark> </mark>"
    start = column - 1
    m = _TOKEN_END.search(line, start + 1)
    end = m.start() if m else len(line)
    return escape(line[:start]) + f"<mark>{escape(line[start:end])}</mark>" + escape(line[end:])


def problems(
    source: str,
    errors: Iterable[Mapping[str, Any]],
    *,
    title: str,
    warnings: Iterable[Mapping[str, Any]] = (),
) -> str:
    """Each problem as ``line:col path: message [code]``, then the source with line numbers,
    lines with a problem highlighted and the offending token marked."""
    errs = list(errors)
    items = []
    for p in [*errs, *warnings]:
        where = f"line {p['line']}:{p.get('column') or 1}" if p.get("line") else "document"
        path = f" <code>{escape(str(p['path']))}</code>" if p.get("path") else ""
        items.append(
            f"<li><b>{escape(where)}</b>{path}: {escape(str(p.get('message', '')))} "
            f"<small>[{escape(str(p.get('code', '')))}]</small></li>"
        )
    columns: dict[int, int | None] = {}
    for p in errs:
        line = p.get("line")
        if isinstance(line, int) and line not in columns:
            columns[line] = p.get("column")
    rows = []
    for n, text in enumerate(source.split("\n"), start=1):
        if n in columns:
            rows.append(
                f'<tr class="bad"><td class="ln">{n}</td><td>{_mark(text, columns[n])}</td></tr>'
            )
        else:
            rows.append(f'<tr><td class="ln">{n}</td><td>{escape(text)}</td></tr>')
    count = f"{len(errs)} problem{'s' if len(errs) != 1 else ''}"
    return (
        f'{STYLE}<div class="plait-box plait-err"><b>{escape(title)}</b>: {count}'
        f'<ul>{"".join(items)}</ul><table class="plait-src">{"".join(rows)}</table></div>'
    )


def missing(entries: Iterable[Mapping[str, Any]]) -> str:
    items = [f"<li>{escape(str(m.get('message', m)))}</li>" for m in entries]
    if not items:
        return ""
    return (
        f'<div class="plait-box plait-warn"><b>Draft — still missing</b>'
        f"<ul>{''.join(items)}</ul></div>"
    )


def runs_table(runs: Iterable[Run]) -> str:
    rows = []
    for r in runs:
        took = ""
        if r.started_at and r.finished_at:
            took = f"{(r.finished_at - r.started_at).total_seconds() * 1000:.0f} ms"
        rows.append(
            "<tr>"
            f"<td><code>{escape(r.id)}</code></td><td>{escape(r.workflow_slug)}</td>"
            f"<td>v{r.version_number}</td><td>{escape(r.status.value)}</td>"
            f"<td>{escape(r.created_at.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{took}</td>"
            "</tr>"
        )
    if not rows:
        return message("no runs yet", kind="warn")
    cols = ("run", "workflow", "version", "status", "created", "took")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    return f'{STYLE}<table class="plait-table">{head}{"".join(rows)}</table>'


def as_json(value: Any, *, limit: int = 4000) -> str:
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return text
