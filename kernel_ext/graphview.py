"""A read-only SVG drawing of a workflow graph: nodes in layers (longest path from the
triggers), edges styled by kind (data, route with its value, error, loop body/return,
attachments), and a legend."""

from __future__ import annotations

from html import escape

from workspace.domain.graph import ATTACHMENT_KINDS, EdgeKind, WorkflowGraph

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 150, 44, 60, 26, 20

EDGE_STYLE: dict[EdgeKind, tuple[str, str]] = {
    EdgeKind.DATA: ("#555", ""),
    EdgeKind.ROUTE: ("#1f6feb", ""),
    EdgeKind.ERROR: ("#d1242f", "6 3"),
    EdgeKind.LOOP_BODY: ("#1a7f37", ""),
    EdgeKind.LOOP_RETURN: ("#1a7f37", "4 3"),
    EdgeKind.LLM: ("#8250df", "2 3"),
    EdgeKind.TOOL: ("#8250df", "2 3"),
    EdgeKind.MEMORY: ("#8250df", "2 3"),
}


def _layers(graph: WorkflowGraph) -> dict[str, int]:
    """Column of each node: the longest flow path to it (loop returns are ignored, so the
    rest is acyclic); attachments sit in their owner's column."""
    ids = [n.id for n in graph.nodes]
    flow = [e for e in graph.edges if e.kind not in ATTACHMENT_KINDS | {EdgeKind.LOOP_RETURN}]
    layer = dict.fromkeys(ids, 0)
    for _ in range(len(ids)):
        changed = False
        for e in flow:
            if e.source in layer and e.target in layer and layer[e.target] < layer[e.source] + 1:
                layer[e.target] = layer[e.source] + 1
                changed = True
        if not changed:
            break
    for e in graph.edges:
        if e.kind in ATTACHMENT_KINDS and e.target in layer and e.source in layer:
            layer[e.source] = layer[e.target]
    return layer


def graph_svg(graph: WorkflowGraph, *, highlight: str | None = None) -> str:
    layer = _layers(graph)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for node in graph.nodes:
        col = layer[node.id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[node.id] = (PAD + col * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(layer.values(), default=0) + 1) * (NODE_W + GAP_X)
    height = PAD * 2 + max(rows.values(), default=1) * (NODE_H + GAP_Y) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plait-graph" width="{width}" '
        f'height="{height}" font-family="system-ui,sans-serif" font-size="12">',
        '<defs><marker id="arr" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        color, dash = EDGE_STYLE.get(e.kind, ("#555", ""))
        sx, sy = pos[e.source]
        tx, ty = pos[e.target]
        x1, y1 = sx + NODE_W, sy + NODE_H / 2
        x2, y2 = tx, ty + NODE_H / 2
        if e.kind in ATTACHMENT_KINDS or x2 <= x1:  # same column or backwards: curve below
            x1, y1, x2, y2 = sx + NODE_W / 2, sy + NODE_H, tx + NODE_W / 2, ty + NODE_H
            mid = max(y1, y2) + GAP_Y
            d = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
        else:
            mx = (x1 + x2) / 2
            d = f"M{x1},{y1} C{mx},{y1} {mx},{y2} {x2},{y2}"
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path class="edge edge-{e.kind.value}" d="{d}" fill="none" stroke="{color}" '
            f'stroke-width="1.5"{dash_attr} marker-end="url(#arr)">'
            f"<title>{escape(e.source)} → {escape(e.target)} ({e.kind.value})</title></path>"
        )
        if e.route is not None:
            lx, ly = (x1 + x2) / 2, (y1 + y2) / 2 - 4
            parts.append(
                f'<text x="{lx}" y="{ly}" fill="{color}" text-anchor="middle" '
                f'font-size="10">{escape(e.route)}</text>'
            )
    for node in graph.nodes:
        x, y = pos[node.id]
        fill = "#fff4c2" if node.id == highlight else "#f6f8fa"
        stroke = "#bf8700" if node.id == highlight else "#8c959f"
        parts.append(
            f'<g class="node" data-id="{escape(node.id)}"><rect x="{x}" y="{y}" width="{NODE_W}" '
            f'height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 8}" y="{y + 18}" font-weight="600">{escape(_clip(node.id))}</text>'
            f'<text x="{x + 8}" y="{y + 34}" fill="#57606a">{escape(_clip(node.type))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def legend() -> str:
    items = []
    for kind in (
        EdgeKind.DATA,
        EdgeKind.ROUTE,
        EdgeKind.ERROR,
        EdgeKind.LOOP_BODY,
        EdgeKind.LOOP_RETURN,
        EdgeKind.TOOL,
    ):
        color, dash = EDGE_STYLE[kind]
        style = "dashed" if dash else "solid"
        name = "attachment" if kind == EdgeKind.TOOL else kind.value
        items.append(
            f'<span style="margin-right:10px"><span style="display:inline-block;width:18px;'
            f'border-top:2px {style} {color};vertical-align:middle"></span> {name}</span>'
        )
    return f'<div style="font-size:11px;color:#57606a">{"".join(items)}</div>'


def graph_html(graph: WorkflowGraph, *, title: str, highlight: str | None = None) -> str:
    counts = f"{len(graph.nodes)} nodes, {len(graph.edges)} edges"
    return (
        f'<div class="plait-graph-view"><div style="font-size:12px"><b>{escape(title)}</b> '
        f"— {counts}</div><div style='overflow-x:auto'>{graph_svg(graph, highlight=highlight)}"
        f"</div>{legend()}</div>"
    )
