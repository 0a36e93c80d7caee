"""Execute notebooks with nbclient (a real kernel) and read what they showed: HTML outputs and
the stored state of the live run views (ipywidgets)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(nb: Any, cwd: Path, *, timeout_s: int = 180) -> Any:
    client = NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        allow_errors=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def execute_file(path: Path, cwd: Path) -> Any:
    return execute(nbformat.read(path, as_version=4), cwd)


def notebook(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def text(html: str) -> str:
    """Visible text of an HTML output (styles and SVG drawings left out)."""
    html = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


def cell(nb: Any, prefix: str) -> Any:
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(prefix)]
    assert found, f"no cell starting with {prefix!r}"
    return found[0]


def html_of(c: Any) -> str:
    return "".join(o["data"]["text/html"] for o in c.outputs if "text/html" in o.get("data", {}))


def plain_of(c: Any) -> str:
    return "".join(o["data"]["text/plain"] for o in c.outputs if "text/plain" in o.get("data", {}))


@dataclass
class ViewState:
    """What a run view showed when the notebook finished."""

    status: str
    header: str
    titles: list[str]
    progress: tuple[int, int]
    result: str
    human: list[dict[str, Any]]
    #: each node row's expanded content (HTML) and the row shown open
    details: list[str]
    selected: int | None


def views(nb: Any, c: Any) -> list[ViewState]:
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    out = []
    for o in c.outputs:
        ref = o.get("data", {}).get(WIDGET_VIEW)
        if ref is None:
            continue
        kids = [_model(state, k) for k in state[ref["model_id"]]["state"]["children"]]
        header, progress, _notice, accordion, human, result = kids
        status = re.search(r'data-status="([a-z]+)"', header["value"])
        out.append(
            ViewState(
                status=status.group(1) if status else "?",
                header=header["value"],
                titles=list(accordion.get("titles", [])),
                progress=(progress["value"], progress["max"]),
                result=result["value"],
                human=[_model(state, k) | {"_name": _name(state, k)} for k in human["children"]],
                details=[_model(state, k)["value"] for k in accordion["children"]],
                selected=accordion.get("selected_index"),
            )
        )
    return out


def _model(state: dict[str, Any], ref: str) -> dict[str, Any]:
    return dict(state[ref.removeprefix("IPY_MODEL_")]["state"])


def _name(state: dict[str, Any], ref: str) -> str:
    return str(state[ref.removeprefix("IPY_MODEL_")]["model_name"])
