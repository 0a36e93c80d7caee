"""The HTTP client (``RemoteWorkspace``) against a real ``plait api`` server, and the live run
view over it: approve by clicking the button, and a server that goes away and comes back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kernel_ext.runview import RunView
from tests.notebook.conftest import ApiServer
from workspace.client import RemoteWorkspace
from workspace.domain.events import EventType
from workspace.errors import AccessDenied, DSLError, NotFoundError, UpstreamError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
HUMAN = (ROOT / "examples" / "human_approval.yaml").read_text()
INPUT = {"amount": 40, "employee": "ana"}


def until(check, timeout_s: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_client_speaks_the_facade_surface(api_server: ApiServer) -> None:
    with RemoteWorkspace(api_server.url, api_server.key) as client:
        assert not client.validate("name: x\nsteps: [{id: a, type: nosuch}]").valid
        with pytest.raises(DSLError) as bad:
            client.save("name: x\nsteps:\n  - {id: a, type: nosuch}\n")
        assert bad.value.problems[0].code == "unknown_type" and bad.value.problems[0].line == 3
        wf = client.save("name: Greet\nsteps:\n  - {id: hello, type: code}\n", draft=True)
        client.save_step("greet", "hello", 'return {"hi": trigger["who"]}')
        client.save_step("greet", "hello", 'return {"hi": trigger["who"]}\n')  # idempotent
        assert client.graph(wf.slug).nodes[1].config["code"] == 'return {"hi": trigger["who"]}\n'
        assert client.publish("greet").number == 1
        handle = client.run("greet", {"who": "bo"}, wait=True)
        assert handle.status.value == "succeeded" and handle.output == {"hi": "bo"}
        assert [s.node_id for s in handle.steps] == ["trigger_manual", "hello"]
        events = list(client.events(handle.id))
        assert events[-1].type == EventType.RUN_SUCCEEDED
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.seq for e in client.events(handle.id, after=2)] == [e.seq for e in events[2:]]
        assert client.runs("greet")[0].id == handle.id
        assert "hello" in client.export("greet")
        with pytest.raises(ValidationError) as err:
            client.save_step("greet", "hello", "x", type="transform")
        assert err.value.code == "step_type_conflict"
        with pytest.raises(NotFoundError):
            client.get_run("nosuch")
    with RemoteWorkspace(api_server.url, "plait_wrong") as intruder, pytest.raises(AccessDenied):
        intruder.list_workflows()


def test_approve_button_in_the_live_view(api_server: ApiServer) -> None:
    with RemoteWorkspace(api_server.url, api_server.key) as client:
        client.save(HUMAN)
        client.publish("expense-approval")
        run = client.run("expense-approval", INPUT, wait=False)
        view = RunView(client, run.id).wait(30)
        assert view.status == "waiting"
        assert "Approve an expense of 40 EUR for ana?" in view.human.children[0].value
        [approve] = [b for b in view.buttons if b.description == "approve"]
        approve.click()  # what a click in the browser does
        view.wait(30, until=lambda: view.finished)
        assert view.status == "succeeded"
        assert view.output["text"] == "Paid 40 EUR to ana."
        assert view.progress.value == view.progress.max == 4
        titles = view.nodes.titles
        assert all(t.startswith("✓") for t in titles), titles
        assert view.human.children == ()
        view.close()


def test_the_view_survives_the_server_going_away(api_server: ApiServer) -> None:
    with RemoteWorkspace(api_server.url, api_server.key) as client:
        client.save(HUMAN)
        client.publish("expense-approval")
        run = client.run("expense-approval", INPUT, wait=False)
        view = RunView(client, run.id).wait(30)
        seen = view.last
        api_server.stop()
        until(lambda: "connection to the workspace lost" in view.notice_text, 30, "the notice")
        assert "connection to the workspace lost" in view.notice.value
        with pytest.raises(UpstreamError):
            client.get_run(run.id)
        api_server.start()
        until(lambda: view.notice_text == "", 60, "recovery")
        assert view.status == "waiting" and view.last == seen
        view.answer("approve", wait=True, timeout_s=30)
        assert view.status == "succeeded" and view.notice.value == ""
        view.close()
