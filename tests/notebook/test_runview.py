"""The live run view over the local ``Workspace`` facade (SQLite and PostgreSQL through the
``ws`` fixture; runs driven in this process): failures, form fields of every kind, answers
with data, re-attaching to a finished run. (Over HTTP and with a server that goes away:
test_remote.py; in a real kernel: test_kernel.py, test_tutorials.py; in a browser:
test_browser.py.)"""

from __future__ import annotations

import ipywidgets as w
import pytest

from kernel_ext.runview import RunView
from workspace.errors import ValidationError
from workspace.runtime.workspace import Workspace

FAILING = """
name: Boom
trigger: manual
steps:
  - id: ok
    type: code
    code: "return {'a': 1}"
  - id: boom
    type: code
    code: "raise ValueError('no luck')"
"""

FORM = """
name: Form
trigger: manual
steps:
  - id: ask
    type: human
    message: "Details?"
    options: [approve, reject, request_revision]
    fields:
      - {name: count, type: number, label: How many, required: true}
      - {name: urgent, type: boolean}
      - {name: colour, type: choice, options: [red, blue]}
      - {name: notes, type: multiline}
  - id: echo
    type: code
    code: "return ask['data']"
"""


def test_a_failed_run_shows_where_and_why(ws: Workspace) -> None:
    ws.import_dsl(FAILING)
    handle = ws.run("boom", wait=False)
    view = RunView(ws, handle.id).wait(60)
    try:
        assert view.finished and view.status == "failed"
        titles = dict(zip([r.node_id for r in view.rows.values()], view.nodes.titles, strict=True))
        assert titles["ok"].startswith("✓ ok (code) succeeded")
        assert titles["boom"].startswith("✗ boom (code) failed")
        assert "no luck" in view.result.value and view.progress.bar_style == "danger"
        assert "no luck" in view.rows["boom"].detail()
        assert view.rows["ok"].output == {"a": 1} and view.rows["ok"].input is not None
        with pytest.raises(ValidationError) as err:
            view.answer("approve")
        assert err.value.code == "not_waiting"
    finally:
        view.close()


def test_form_fields_become_widgets_and_answers_carry_them(ws: Workspace) -> None:
    ws.import_dsl(FORM)
    view = RunView(ws, ws.run("form", wait=False).id).wait(60)
    try:
        assert view.status == "waiting"
        _prompt, count, urgent, colour, notes, comment, buttons = view.human.children
        assert isinstance(count, w.FloatText) and count.description == "How many"
        assert isinstance(urgent, w.Checkbox) and isinstance(colour, w.Dropdown)
        assert list(colour.options) == ["red", "blue"] and isinstance(notes, w.Textarea)
        assert [b.description for b in buttons.children] == [
            "approve",
            "reject",
            "request revision",
        ]
        count.value, urgent.value, colour.value, comment.value = 3, True, "blue", "thanks"
        view.answer("approve", wait=True, timeout_s=60)
        assert view.finished and view.status == "succeeded"
        assert view.output == {"count": 3.0, "urgent": True, "colour": "blue"}
        assert view.human.children == ()
    finally:
        view.close()
    # re-attached later (a kernel restart): the same picture, replayed at once
    again = RunView(ws, view.run_id)
    assert again.finished and again.status == "succeeded" and again.output == view.output
    assert again.nodes.titles == view.nodes.titles
