"""``plait notebook export|import`` in subprocesses on real SQLite workspaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plait(workdir: Path, ws: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workspace.cli.main", "--dir", str(workdir / ws), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_export_then_import_into_another_workspace(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "human_approval.yaml")
    assert plait(tmp_path, "a", "import", example).returncode == 0
    out = plait(tmp_path, "a", "notebook", "export", "expense-approval", "-o", "exp.ipynb")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exp.ipynb: 7 cells (3 steps)"
    cells = json.loads((tmp_path / "exp.ipynb").read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"].startswith("# Expense")
    out = plait(tmp_path, "b", "notebook", "import", "exp.ipynb")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "expense-approval" and "version 1" in out.stderr
    a = plait(tmp_path, "a", "export", "expense-approval").stdout
    b = plait(tmp_path, "b", "export", "expense-approval").stdout
    assert a == b
    run = plait(
        tmp_path, "b", "run", "expense-approval", "--input", '{"amount": 3, "employee": "x"}'
    )
    assert run.returncode == 3  # waiting for the reviewer, as the original


def test_import_draft_and_errors(tmp_path: Path) -> None:
    (tmp_path / "draft.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "source": ["%%workflow d --draft\n", "steps:\n", "  - {id: a, type: code}"],
                    }
                ]
            }
        )
    )
    out = plait(tmp_path, "w", "notebook", "import", "draft.ipynb", "--draft")
    assert out.returncode == 0, out.stderr
    assert "draft saved from 1 cells" in out.stderr
    out = plait(tmp_path, "w", "notebook", "import", "draft.ipynb")  # publishing needs content
    assert out.returncode == 2 and "incomplete" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "bad.ipynb").write_text("{")
    out = plait(tmp_path, "w", "notebook", "import", "bad.ipynb")
    assert out.returncode == 2 and "not a notebook" in out.stderr
    out = plait(tmp_path, "w", "notebook", "export", "nosuch", "-o", "x.ipynb")
    assert out.returncode == 4 and "Traceback" not in out.stderr
    assert not (tmp_path / "x.ipynb").exists()
