"""Every tutorial in notebooks/ executed by nbclient in a real kernel, asserting on what it
shows: inline error rendering, the run views' final states, outputs, approvals."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest

from tests.notebook.nbrun import cell, execute_file, html_of, plain_of, text, views
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TUTORIALS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_tutorials_are_committed_without_outputs() -> None:
    import nbformat

    assert len(TUTORIALS) == 7
    for name in TUTORIALS:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in nb.cells
            if c.cell_type == "code"
        ), name
        assert "widgets" not in nb.metadata


def _no_tracebacks(nb) -> None:  # type: ignore[no-untyped-def]
    for c in nb.cells:
        for o in c.get("outputs", []):
            assert o["output_type"] != "error"
            assert "Traceback" not in str(o), c.source


def test_first_workflow(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "01_first_workflow.ipynb", tmp_path)
    _no_tracebacks(nb)
    draft = text(html_of(cell(nb, "%%workflow greeter")))
    assert "draft of 'greeter' saved" in draft and "has no 'code' yet" in draft
    assert 'class="plait-graph"' in html_of(cell(nb, "%%workflow greeter"))
    broken = html_of(cell(nb, "%%workflow broken"))
    assert "not saved" in broken and "2 problems" in text(broken)
    assert "line 4:11" in broken and "did you mean code?" in html.unescape(broken)
    assert "<mark>codee</mark>" in broken and "<mark>retries:</mark>" in broken
    assert broken.count('class="bad"') == 2
    [run] = views(nb, cell(nb, "%plait run greeter"))
    assert run.status == "succeeded" and run.progress == (3, 3)
    assert "HELLO, ADA!" in run.result
    assert [t.split(" ")[0] for t in run.titles] == ["✓"] * 3
    assert "('succeeded', {'text': 'HELLO, GRACE!'" in plain_of(cell(nb, "import kernel_ext"))
    [shown] = views(nb, cell(nb, "handle"))
    assert shown.status == "succeeded" and "HELLO, GRACE!" in shown.result
    assert text(html_of(cell(nb, "%plait runs"))).count("succeeded") == 2


def test_branching_and_loops(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "02_branching_and_loops.ipynb", tmp_path)
    _no_tracebacks(nb)
    bulk, single = (c for c in nb.cells if c.source.startswith("%plait run"))
    [b] = views(nb, bulk)
    assert b.status == "succeeded" and "36.6" in b.result
    assert any(t.startswith("✓ price (code) succeeded x2") for t in b.titles), b.titles
    [s] = views(nb, single)
    assert s.status == "succeeded" and "99" in s.result
    assert any(t.startswith("↷ price_each") for t in s.titles), s.titles


def test_human_in_the_loop(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "03_human_in_the_loop.ipynb", tmp_path)
    _no_tracebacks(nb)
    [waiting] = views(nb, cell(nb, "%plait run refund"))
    assert waiting.status == "waiting" and waiting.progress[0] == 1
    prompt, note, _comment, _buttons = waiting.human
    assert "Refund 25 EUR to Ada?" in prompt["value"]
    assert note["_name"] == "TextModel" and note["description"] == "Note for the customer"
    assert "reject" in plain_of(cell(nb, "import kernel_ext")) and "too large" in plain_of(
        cell(nb, "import kernel_ext")
    )
    [reattached] = views(nb, cell(nb, "%plait show"))
    assert reattached.status == "succeeded" and "Refunded" not in reattached.result
    # the first run really waits: answer it like the buttons do, it completes
    with Workspace.open(
        tmp_path / ".plait-tutorial", settings=Settings(workspace_dir=tmp_path)
    ) as ws:
        run = next(r for r in ws.runs("refund") if r.status.value == "waiting")
        handle = ws.get_run(run.id)
        done = ws.resume(run.id, handle.token, {"action": "approve", "data": {"note": "Sorry!"}})
        assert done.output["text"] == "Refunded 25 EUR. Sorry!"


def test_webhooks(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "04_webhooks.ipynb", tmp_path)
    _no_tracebacks(nb)
    assert plain_of(cell(nb, "reply = httpx.post")).startswith("(202, ")
    [run] = views(nb, cell(nb, "%plait show"))
    assert run.status == "succeeded" and "page" in run.result
    assert any(t.startswith("↷ ticket") for t in run.titles)


def test_notebook_round_trip(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "05_notebook_round_trip.ipynb", tmp_path)
    _no_tracebacks(nb)
    assert plain_of(cell(nb, "from workspace import Workspace")) == "True"
    assert (tmp_path / "word-count.ipynb").exists()
    [run] = views(nb, cell(nb, "%plait run word-count"))
    assert run.status == "succeeded" and "6 words" in run.result


def test_agents_with_tools(tmp_path: Path) -> None:
    nb = execute_file(NOTEBOOKS / "06_agents_with_tools.ipynb", tmp_path)
    _no_tracebacks(nb)
    # scripted, and said so: the markdown, the credential, the answers, the view
    intro = nb.cells[0].source
    assert "scripted" in intro and "No LLM is called" in intro
    assert plain_of(cell(nb, "import kernel_ext")).startswith(
        "('demo-scripted', 'demo (scripted)', 'http://127.0.0.1:"
    )
    first, second, billing = (c for c in nb.cells if c.source.startswith("%plait run "))
    [a] = views(nb, first)
    assert a.status == "succeeded" and "The calculator says 42." in a.result
    assert [t.split(" ")[:2] for t in a.titles] == [
        ["✓", "trigger_chat"],
        ["✓", "topic"],
        ["✓", "route"],
        ["↷", "invoice"],
        ["✓", "assistant"],
    ]
    assert " · 1 tool call · " in a.titles[4] and " tokens — " in a.titles[4]
    # the agent's row was opened while it streamed: its text and the tool call under it
    assert a.selected == 4
    assert "Let me use the calculator." in a.details[4]
    assert 'class="plait-tool" data-status="succeeded"' in a.details[4]
    assert html.unescape(
        "✓ assistant_calculator (calculator) {&quot;expression&quot;: &quot;6 * 7&quot;} → "
        "{&quot;output&quot;: 42}"
    ) in html.unescape(a.details[4])
    usage = text(a.result).split("} ")[-1]
    assert re.fullmatch(
        r"[\d,]+ tokens · cost \$0 · scripted mock model: no real model was called", usage
    ), usage
    [b] = views(nb, second)
    assert b.status == "succeeded" and "It is " in b.result and "(Scripted answer" in b.result
    assert (
        "assistant_datetime (datetime)" in b.details[4]
        and "Let me look at the clock." in (b.details[4])
    )
    # memory: the second message carried the first turn of thread 'ada'
    sent = "".join(o.get("text", "") for o in cell(nb, "second = next(").outputs)
    assert sent.splitlines() == [
        "   system: You are a support assistant. Use the tools for arithmetic and dates.",
        "     user: Hi, I am Ada. What is 6 times 7?",
        "assistant: The calculator says 42. (Scripted answer: no model was asked.)",
        "     user: And what time is it?",
    ]
    [c] = views(nb, billing)
    assert c.status == "succeeded" and [t.split(" ")[:2] for t in c.titles][3:] == [
        ["✓", "invoice"],
        ["↷", "assistant"],
    ]
    assert all(
        html.unescape(f'"{k}": {v}') in html.unescape(c.result)
        for k, v in (("amount", "49.9"), ("currency", '"EUR"'), ("invoice", '"1042"'))
    )
    assert re.search(r"[\d,]+ tokens · cost \$0", text(c.result))
    assert plain_of(cell(nb, "runs = ws.runs")) == (
        "[('succeeded', True), ('succeeded', True), ('succeeded', True)]"
    )


def test_schedules(tmp_path: Path) -> None:
    started = time.monotonic()
    nb = execute_file(NOTEBOOKS / "07_schedules.ipynb", tmp_path)
    took = time.monotonic() - started
    _no_tracebacks(nb)
    out = _stdout(cell(nb, "import time"))
    assert re.fullmatch(r"schedule [0-9a-f]{32}: every 2 s, next slot \d\d:\d\d:\d\d UTC\n", out)
    [fired] = views(nb, cell(nb, "wait_for_fires(first + 2)"))
    assert fired.status == "succeeded"
    assert [t.split(" ")[:2] for t in fired.titles] == [["✓", "trigger_schedule"], ["✓", "stamp"]]
    assert "&quot;source&quot;: &quot;tutorial&quot;" in fired.result
    assert "&quot;slot&quot;: &quot;20" in fired.result
    # the fire before it was over when it came (overlap: skip)
    assert text(html_of(cell(nb, "%plait runs ticker"))).count("succeeded") >= 2
    assert _stdout(cell(nb, "ws.schedules.pause")) == "paused: True; fires while paused: 0\n"
    [now] = views(nb, cell(nb, "now_run ="))
    assert now.status == "succeeded" and "tutorial" in now.result
    resumed = _stdout(cell(nb, "ws.schedules.resume")).splitlines()
    assert re.fullmatch(r"paused: False; fires after resuming: [12]", resumed[0]), resumed
    since = int(resumed[1].rsplit(" ", 1)[1])
    assert since >= 3, resumed
    assert plain_of(cell(nb, "scheduler.stop()")) == "True"  # the scheduler thread ended
    # every fire is a stored run with its own slot; run-now is one more
    with Workspace.open(
        tmp_path / ".plait-tutorial", settings=Settings(workspace_dir=tmp_path)
    ) as ws:
        runs = ws.runs("ticker")
        assert len(runs) >= since + 1 and all(r.status.value == "succeeded" for r in runs)
        slots = [ws.get_run(r.id).output["slot"] for r in runs]
        assert len(set(slots)) == len(slots)
    print(f"07_schedules executed in {took:.1f} s")


def _stdout(c) -> str:  # type: ignore[no-untyped-def]
    return "".join(o["text"] for o in c.outputs if o.get("name") == "stdout")


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_tutorial_has_a_test(name: str) -> None:
    number = name.split("_")[0]
    tests = {
        "01": test_first_workflow,
        "02": test_branching_and_loops,
        "03": test_human_in_the_loop,
        "04": test_webhooks,
        "05": test_notebook_round_trip,
        "06": test_agents_with_tools,
        "07": test_schedules,
    }
    assert number in tests
