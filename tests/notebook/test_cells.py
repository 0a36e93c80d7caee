"""Step cells at the DSL level: body fields, normalisation, the patch a cell makes, and the split
of a workflow into skeleton + step cells (``assemble(split(g)) == g`` for generated graphs)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings

from tests.dsl.fakes import make_registry
from tests.dsl.strategies import documents, graphs
from workspace.domain import WorkflowGraph
from workspace.dsl import WorkflowMeta, compile_document, validate
from workspace.dsl.cells import (
    assemble,
    body_field,
    cell_source,
    normalise_body,
    split_workflow,
    step_patches,
)
from workspace.errors import DSLError, ValidationError
from workspace.sdk import NodeRegistry

REG = make_registry()
META = WorkflowMeta(slug="wf", name="wf")
GEN = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DOC = """
name: wf
trigger: manual
steps:
  - id: prep
    type: code
    code: |
      return 1
  - id: pick
    type: switch
    rules: [{field: prep.x, value: 1, route: yes_branch}]
  - id: yes_branch
    type: transform
    template: "{{ prep }}"
"""


@pytest.fixture(scope="module")
def real() -> NodeRegistry:
    return NodeRegistry.discover()


def graph_of(text: str, reg: NodeRegistry) -> WorkflowGraph:
    return compile_document(text, reg, draft=True).graph


def test_body_fields_of_real_types(real: NodeRegistry) -> None:
    assert body_field(real.get("code")) == "code"
    assert body_field(real.get("transform")) == "template"
    assert body_field(real.get("human")) == "message"
    assert body_field(real.get("reply")) == "text"
    assert body_field(real.get("switch")) is None  # its cell is a YAML config mapping


def test_bodies_are_normalised_alike_from_files_kernels_and_yaml() -> None:
    # a kernel appends a newline, a file may carry several or CRLF; code keeps exactly one
    assert normalise_body("return 1", code=True) == "return 1\n"
    assert normalise_body("return 1\r\n\n\n", code=True) == "return 1\n"
    assert normalise_body("Hello {{ x }}\n", code=False) == "Hello {{ x }}"
    assert normalise_body("", code=True) == ""
    assert cell_source("return 1\n") == "return 1"


def test_existing_step_gets_an_update(real: NodeRegistry) -> None:
    g = graph_of(DOC, real)
    patches = step_patches(g, real, "prep", "return 2\n\n")
    assert patches == [
        {"action": "update_config", "step_id": "prep", "config": {"code": "return 2\n"}}
    ]
    # a config-only type takes YAML
    rules = "rules:\n  - {field: prep.x, value: 2, route: yes_branch}\n"
    assert step_patches(g, real, "pick", rules)[0]["config"] == {
        "rules": [{"field": "prep.x", "value": 2, "route": "yes_branch"}]
    }


def test_new_step_goes_after_the_named_or_the_last_step(real: NodeRegistry) -> None:
    g = graph_of(DOC, real)
    [add] = step_patches(g, real, "extra", "return 3", type="code", after="prep")
    assert add == {
        "action": "add_step",
        "step": {"id": "extra", "type": "code", "code": "return 3\n"},
        "after": "prep",
    }
    [add] = step_patches(g, real, "note", "Done: {{ prep }}", type="transform")
    assert add["after"] == "yes_branch" and add["step"]["template"] == "Done: {{ prep }}"
    [add] = step_patches(g, real, "snippet", "return 4")  # no --type: a code step
    assert add["step"]["type"] == "code"


@pytest.mark.parametrize(
    ("step", "body", "kwargs", "code", "words"),
    [
        ("prep", "x", {"type": "transform"}, "step_type_conflict", "is a code step"),
        ("new", "x", {"type": "nosuch"}, "unknown_type", "unknown step type 'nosuch'"),
        ("new", "x", {"after": "ghost"}, "dangling_reference", "--after 'ghost'"),
        ("new", "x", {"type": "trigger_manual"}, "invalid_value", "is a trigger"),
        ("pick", "- just\n- a list\n", {}, "invalid_value", "YAML mapping"),
    ],
)
def test_bad_step_cells_are_refused_clearly(
    real: NodeRegistry,
    step: str,
    body: str,
    kwargs: dict,
    code: str,
    words: str,  # type: ignore[type-arg]
) -> None:
    g = graph_of(DOC, real)
    with pytest.raises(ValidationError) as err:
        step_patches(g, real, step, body, **kwargs)
    assert err.value.code == code and words in err.value.message


def test_yaml_errors_in_a_config_cell_point_into_the_cell(real: NodeRegistry) -> None:
    g = graph_of(DOC, real)
    with pytest.raises(DSLError) as err:
        step_patches(g, real, "pick", "rules: [unclosed\n")
    assert err.value.filename == "<step>"
    assert err.value.problems[0].line is not None and err.value.problems[0].line <= 2


def test_split_cuts_bodies_and_keeps_the_skeleton_a_valid_draft(real: NodeRegistry) -> None:
    g = graph_of(DOC, real)
    parts = split_workflow(META, g, real)
    assert [(s.step_id, s.type, s.body) for s in parts.steps] == [
        ("prep", "code", "return 1\n"),
        ("yes_branch", "transform", "{{ prep }}"),
    ]
    skeleton = yaml.safe_load(parts.skeleton)
    assert "code" not in skeleton["steps"][0]  # a content field: simply absent in the draft
    assert skeleton["steps"][2]["template"] == ""  # required by the Config: left empty
    assert validate(parts.skeleton, real, draft=True).valid
    assert assemble(parts, real) == g


@GEN
@given(documents())
def test_generated_documents_split_and_assemble(doc: dict) -> None:  # type: ignore[type-arg]
    report = validate(yaml.safe_dump(doc, sort_keys=False), REG, draft=True)
    # generated texts may be broken templates (a message of "{{"): such a document has no graph
    assume(report.graph is not None)
    assert report.graph is not None
    parts = split_workflow(META, report.graph, REG)
    assert assemble(parts, REG).canonical_json() == report.graph.canonical_json()
    assert validate(parts.skeleton, REG, draft=True).valid, parts.skeleton


@GEN
@given(graphs(REG))
def test_generated_graphs_split_and_assemble(graph: WorkflowGraph) -> None:
    parts = split_workflow(META, graph, REG)
    assert assemble(parts, REG).canonical_json() == graph.canonical_json()


def test_a_yaml_line_break_character_survives_the_split(real: NodeRegistry) -> None:
    # found by hypothesis: NEL (U+0085) in a label must be written escaped
    doc = {
        "name": "0",
        "steps": [{"id": "s0", "type": "code", "code": "return 1\n", "label": "\x85"}],
    }
    graph = compile_document(yaml.safe_dump(doc), real, draft=True).graph
    parts = split_workflow(META, graph, real)
    assert parts.steps and assemble(parts, real) == graph
    doc["steps"][0]["code"] = "return 1"  # not a normalised body: stays in the skeleton
    graph = compile_document(yaml.safe_dump(doc), real, draft=True).graph
    parts = split_workflow(META, graph, real)
    assert not parts.steps and assemble(parts, real) == graph
