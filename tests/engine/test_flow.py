"""Execution semantics of SPEC §4 through the public facade, on memory and SQLite stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from workspace.domain.events import EventType
from workspace.domain.run import RunStatus, StepStatus
from workspace.runtime.workspace import Workspace


def steps_by_node(handle) -> dict[str, StepStatus]:
    return {s.node_id: s.status for s in handle.steps if not s.iteration}


def test_typed_outputs_flow_between_nodes(ws: Workspace) -> None:
    h = ws.run("""
name: typed
trigger: manual
steps:
  - id: gen
    type: code
    code: |
      return {"items": [1, 2, 3], "n": 3}
  - id: total
    type: transform
    template: "{{ gen.items }}"
  - id: check
    type: code
    code: |
      return {"is_list": isinstance(total["output"], list), "sum": sum(input["output"])}
""")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"is_list": True, "sum": 6}


def test_switch_routes_are_branch_local_and_merge_runs_once(ws: Workspace) -> None:
    dsl = """
name: branches
trigger: manual
steps:
  - id: route
    type: switch
    rules:
      - {field: trigger.kind, operator: equals, value: a, route: left}
    default: right
  - {id: left, type: transform, template: "L"}
  - {id: right, type: transform, template: "R"}
  - {id: joined, type: transform, template: "got {{ input.output }}"}
edges:
  - {from: left, to: joined}
"""
    h = ws.run(dsl, {"kind": "a"})
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"output": "got L"}
    st = steps_by_node(h)
    assert st["right"] == StepStatus.SKIPPED and st["left"] == StepStatus.SUCCEEDED
    started = [e.node_id for e in h.events if e.type == EventType.NODE_STARTED]
    assert started.count("joined") == 1
    assert [e.node_id for e in h.events if e.type == EventType.NODE_SKIPPED] == ["right"]

    h2 = ws.run("branches", {"kind": "b"})
    assert h2.output == {"output": "got R"}
    assert steps_by_node(h2)["left"] == StepStatus.SKIPPED


def test_skips_propagate_downstream(ws: Workspace) -> None:
    h = ws.run(
        """
name: skipchain
trigger: manual
steps:
  - id: route
    type: switch
    rules: [{field: trigger.go, operator: is_true, route: a1}]
    default: b1
  - {id: a1, type: transform, template: "a1"}
  - {id: a2, type: transform, template: "a2"}
  - {id: b1, type: transform, template: "b1"}
""",
        {"go": False},
    )
    st = steps_by_node(h)
    assert st["a1"] == StepStatus.SKIPPED and st["a2"] == StepStatus.SKIPPED
    assert st["b1"] == StepStatus.SUCCEEDED
    assert h.output == {"output": "b1"}


def test_join_any_runs_on_first_arrival(ws: Workspace, tmp_path: Path) -> None:
    # branches advance in lock-step (LangGraph supersteps): `any` runs in the first step after
    # one branch has arrived, without waiting for the longer branch to finish
    log = tmp_path / "count.log"
    dsl = f"""
name: joinany
flow: explicit
trigger: manual
steps:
  - {{id: fast, type: transform, template: "fast"}}
  - {{id: slow1, type: test_sleep, seconds: 0.2}}
  - {{id: slow2, type: test_sleep, seconds: 0.2}}
  - {{id: first, type: test_count, file: "{log}", join: {{mode: any}}}}
edges:
  - {{from: trigger_manual, to: fast}}
  - {{from: trigger_manual, to: slow1}}
  - {{from: slow1, to: slow2}}
  - {{from: fast, to: first}}
  - {{from: slow2, to: first}}
"""
    h = ws.run(dsl)
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert log.read_text().splitlines() == ["first"]  # once, not once per arrival
    done = [e.node_id for e in h.events if e.type == EventType.NODE_SUCCEEDED]
    assert done.index("first") < done.index("slow2")  # did not wait for the slow branch
    step = next(s for s in h.steps if s.node_id == "first")
    assert step.input == {"output": "fast"}  # only the branch that arrived

    # the same graph with the default join waits for both branches
    all_join = ws.run(dsl.replace(", join: {mode: any}", "").replace("joinany", "joinall"))
    done = [e.node_id for e in all_join.events if e.type == EventType.NODE_SUCCEEDED]
    assert done.index("first") > done.index("slow2")
    step = next(s for s in all_join.steps if s.node_id == "first")
    assert set(step.input) == {"fast", "slow2"}


def test_retries_with_backoff_then_success(ws: Workspace) -> None:
    h = ws.run("""
name: flaky
trigger: manual
steps:
  - id: f
    type: test_flaky
    fail_times: 2
    retry: {max_attempts: 3, backoff_s: 0.01, max_backoff_s: 0.05}
""")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output == {"attempt": 3}
    retrying = [e for e in h.events if e.type == EventType.NODE_RETRYING]
    assert [e.data["attempt"] for e in retrying] == [1, 2]


def test_non_retryable_errors_are_not_retried(ws: Workspace) -> None:
    h = ws.run("""
name: noretry
trigger: manual
steps:
  - id: f
    type: test_flaky
    fail_times: 5
    retryable: false
    retry: {max_attempts: 3, backoff_s: 0.01}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "flaky" and h.error["attempt"] == 1


def test_error_edge_receives_the_error_object(ws: Workspace) -> None:
    h = ws.run("""
name: onerror
trigger: manual
steps:
  - id: boom
    type: code
    code: raise ValueError("bad thing")
    on_error: handler
  - id: after
    type: transform
    template: "not reached"
  - id: handler
    type: code
    code: |
      return {"handled": input["message"], "node": input["node_id"], "attempt": input["attempt"]}
""")
    assert h.status == RunStatus.SUCCEEDED, h.error
    assert h.output["node"] == "boom" and "bad thing" in h.output["handled"]
    st = steps_by_node(h)
    assert st["boom"] == StepStatus.FAILED and st["after"] == StepStatus.SKIPPED


def test_unhandled_failure_fails_the_run(ws: Workspace) -> None:
    h = ws.run("""
name: fails
trigger: manual
steps:
  - {id: boom, type: code, code: "return 1/0"}
  - {id: after, type: transform, template: x}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["node_id"] == "boom"
    assert "ZeroDivisionError" in h.error["message"]
    assert [e.type for e in h.events][-1] == EventType.RUN_FAILED


def test_node_timeout_is_enforced(ws: Workspace) -> None:
    h = ws.run("""
name: slow
trigger: manual
steps:
  - {id: nap, type: test_sleep, seconds: 2, timeout_s: 0.2}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "timeout"


def test_code_node_timeout_kills_the_subprocess(ws: Workspace) -> None:
    h = ws.run("""
name: spin
trigger: manual
steps:
  - id: spin
    type: code
    timeout_s: 1
    code: |
      while True:
          pass
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "timeout"


def test_run_timeout_stops_between_steps(ws: Workspace) -> None:
    h = ws.run("""
name: runtimeout
timeout_s: 0.3
trigger: manual
steps:
  - {id: a, type: test_sleep, seconds: 0.2}
  - {id: b, type: test_sleep, seconds: 0.2}
  - {id: c, type: test_sleep, seconds: 0.2}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "run_timeout"
    assert steps_by_node(h).get("c") is None


def test_expression_errors_name_node_field_and_cause(ws: Workspace) -> None:
    h = ws.run("""
name: badexpr
trigger: manual
steps:
  - {id: t, type: transform, template: "{{ nothing.here }}"}
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "expression_error"
    assert "'t'" in h.error["message"] and "template" in h.error["message"]
    assert "nothing" in h.error["message"]


def test_sandbox_escape_fails_with_security_error(ws: Workspace) -> None:
    h = ws.run("""
name: escape
trigger: manual
steps:
  - id: t
    type: transform
    template: "{{ ''.__class__.__mro__[1].__subclasses__() }}"
""")
    assert h.status == RunStatus.FAILED
    assert h.error["code"] == "security_error"


def test_reply_is_the_run_output(ws: Workspace) -> None:
    h = ws.run(
        """
name: replies
trigger: manual
steps:
  - {id: r, type: reply, text: "hello {{ trigger.name }}"}
  - {id: after, type: transform, template: "later"}
""",
        {"name": "ana"},
    )
    assert h.output["text"] == "hello ana"


def test_events_have_monotonic_seq_and_envelope(ws: Workspace) -> None:
    h = ws.run("""
name: ev
trigger: manual
steps:
  - {id: a, type: transform, template: "1"}
""")
    seqs = [e.seq for e in h.events]
    assert seqs == list(range(1, len(seqs) + 1))
    types = [e.type for e in h.events]
    assert types[0] == EventType.RUN_QUEUED and types[1] == EventType.RUN_STARTED
    assert types[-1] == EventType.RUN_SUCCEEDED
    assert all(e.workflow == "ev" and e.version == 1 for e in h.events)


def test_parallel_branches_deliver_events_in_seq_order(
    ws: Workspace, request: pytest.FixtureRequest
) -> None:
    # eight branches emit (replies) while their checkpoints are written from LangGraph's
    # background thread: no deadlock, and subscribers see every event once, in seq order
    lines = ["name: fanout", "flow: explicit", "trigger: manual", "steps:"]
    lines += [f"  - {{id: r{i}, type: reply, text: 'branch {i}'}}" for i in range(8)]
    lines += ["edges:"] + [f"  - {{from: trigger_manual, to: r{i}}}" for i in range(8)]
    seen: list[int] = []
    unsubscribe = ws.subscribe(lambda e: seen.append(e.seq))
    try:
        for _ in range(3):
            seen.clear()
            h = ws.run("\n".join(lines) + "\n")
            assert h.status == RunStatus.SUCCEEDED, h.error
            stored = [e.seq for e in h.events]
            assert stored == list(range(1, len(stored) + 1))
            if request.node.callspec.params["ws"] == "postgres":
                # PostgreSQL takes no process-wide write lock: delivery may interleave across
                # parallel branches, never lose or repeat an event
                assert sorted(seen) == stored
            else:
                assert seen == stored
            assert sum(1 for e in h.events if e.type == EventType.REPLY) == 8
    finally:
        unsubscribe()
