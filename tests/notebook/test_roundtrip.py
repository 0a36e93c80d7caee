"""Notebook round trip: ``import_notebook(export_notebook(w))`` rebuilds the identical graph —
every example workflow and generated documents; broken notebooks are refused clearly."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import nbformat
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from tests.dsl.fakes import make_registry
from tests.dsl.strategies import documents
from workspace.errors import DSLError, ValidationError
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "*.yaml")))
BASES = {"triage_patched.yaml": "webhook_triage.yaml"}  # forks need their base first


def _load(ws: Workspace, name: str) -> str:
    if name in BASES:
        ws.import_dsl((ROOT / "examples" / BASES[name]).read_text())
    version = ws.import_dsl((ROOT / "examples" / name).read_text())
    return ws.store.workflows.get_by_id(version.workflow_id).slug


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_every_example_round_trips(path: str, ws: Workspace, tmp_path: Path) -> None:
    name = os.path.basename(path)
    slug = _load(ws, name)
    original = ws.graph(slug, draft=False)
    notebook = ws.export_notebook(slug)
    nbformat.validate(nbformat.from_dict(notebook))  # a valid nbformat 4 notebook
    sources = [c["source"] for c in notebook["cells"]]
    assert sources[2].startswith(f"%%workflow {slug} --draft\n")
    steps = [s for s in sources if s.startswith("%%step")]
    assert steps, "every example has steps with content"
    with Workspace.open(tmp_path / "other", settings=Settings(workspace_dir=tmp_path)) as other:
        if name in BASES:
            _load(other, BASES[name])
        result = other.import_notebook(json.dumps(notebook))
        assert result.version is not None and result.workflow.slug == slug
        rebuilt = other.graph(slug, draft=False)
        assert rebuilt.canonical_json() == original.canonical_json()
        assert rebuilt.content_hash() == original.content_hash()
        # and importing again changes nothing (no new version)
        assert other.import_notebook(notebook).version.number == result.version.number


GEN = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@GEN
@given(documents())
def test_generated_workflows_round_trip(doc: dict) -> None:  # type: ignore[type-arg]
    reg = make_registry()
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    with Workspace.in_memory(registry=reg) as a, Workspace.in_memory(registry=reg) as b:
        wf = a.save(text, draft=True)
        notebook = a.export_notebook(wf.slug)
        b.import_notebook(notebook, publish=False)
        assert b.graph(wf.slug).canonical_json() == a.graph(wf.slug).canonical_json()


def _nb(*sources: str) -> dict:  # type: ignore[type-arg]
    return {"cells": [{"cell_type": "code", "source": s} for s in sources], "nbformat": 4}


@pytest.mark.parametrize(
    ("notebook", "code"),
    [
        ("{not json", "bad_notebook"),
        (json.dumps({"cells": "x"}), "bad_notebook"),
        (_nb("print(1)"), "no_workflow_cell"),
        (_nb("%%step a.b\nreturn 1", "%%workflow a\nname: a"), "bad_cell"),
        (_nb("%%workflow a --bogus\nname: a"), "bad_cell"),
        (_nb("%%workflow a\nname: a\nsteps: []", "%%step b.x\nreturn 1"), "slug_mismatch"),
        (_nb("%%workflow other\nname: a\nsteps: []"), "slug_mismatch"),
    ],
)
def test_broken_notebooks_are_refused(mem_ws: Workspace, notebook: object, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        mem_ws.import_notebook(notebook)  # type: ignore[arg-type]
    assert err.value.code == code
    assert mem_ws.list_workflows() == []


def test_invalid_dsl_in_a_notebook_reports_every_problem(mem_ws: Workspace) -> None:
    with pytest.raises(DSLError) as err:
        mem_ws.import_notebook(_nb("%%workflow a\nname: a\nsteps:\n  - {id: x, type: nosuch}"))
    assert [p.code for p in err.value.problems] == ["unknown_type"]
    assert err.value.problems[0].line == 3


def test_a_workflow_cell_without_a_name_takes_the_cells(mem_ws: Workspace) -> None:
    mem_ws.import_notebook(
        _nb("%%workflow greet\nsteps:\n  - {id: a, type: code}", "%%step greet.a\nreturn 1")
    )
    assert mem_ws.workflow("greet").name == "greet"
