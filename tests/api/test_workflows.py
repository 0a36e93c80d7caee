"""``/api/v1/workflows``: save, publish, validate, versions, export, paging, OpenAPI."""

from __future__ import annotations

import json

import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import MAX_PAGE, Callers
from tests.api.helpers import API, assert_problem, dsl, echo_dsl, save

BROKEN = dsl(
    """
    name: Broken
    slug: broken
    steps:
      - id: a
        type: no_such_type
      - id: b
        type: transform
        template: "{{ oops"
    """
)


def test_save_with_publish_then_get(client: TestClient, callers: Callers) -> None:
    out = save(client, callers.alice.headers, echo_dsl())
    wf = out["workflow"]
    assert wf["slug"] == "echo" and wf["owner"] == callers.alice.user.id
    assert out["version"]["number"] == 1
    assert out["version"]["author"] == callers.alice.user.id
    assert out["version"]["content_hash"].startswith("sha256:")
    got = client.get(f"{API}/workflows/echo", headers=callers.alice.headers).json()
    assert got["workflow"]["id"] == wf["id"] and got["latest_version"] == 1


def test_save_without_publish_has_no_version(client: TestClient, callers: Callers) -> None:
    out = save(client, callers.alice.headers, echo_dsl(), publish=False)
    assert "version" not in out
    got = client.get(f"{API}/workflows/echo", headers=callers.alice.headers).json()
    assert got["latest_version"] is None
    resp = client.post(f"{API}/workflows/echo/publish?message=first", headers=callers.alice.headers)
    assert resp.status_code == 201
    assert resp.json()["number"] == 1 and resp.json()["message"] == "first"


def test_publish_only_if_changed_and_versions(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    assert save(client, h, echo_dsl())["version"]["number"] == 1
    # the same content again: no new version
    assert save(client, h, echo_dsl())["version"]["number"] == 1
    assert save(client, h, echo_dsl(extra=" twice"))["version"]["number"] == 2
    items = client.get(f"{API}/workflows/echo/versions", headers=h).json()["items"]
    assert [v["number"] for v in items] == [1, 2]
    assert items[0]["content_hash"] != items[1]["content_hash"]
    assert client.get(f"{API}/workflows/echo", headers=h).json()["latest_version"] == 2


def test_validate_valid_and_malformed(client: TestClient, callers: Callers) -> None:
    h = callers.bob.headers
    ok = client.post(f"{API}/workflows/validate", json={"dsl": echo_dsl()}, headers=h)
    assert ok.status_code == 200
    assert ok.json()["valid"] is True and ok.json()["errors"] == []
    assert {n["id"] for n in ok.json()["nodes"]} == {"trigger_manual", "shape", "answer"}

    bad = client.post(f"{API}/workflows/validate", json={"dsl": BROKEN}, headers=h)
    assert bad.status_code == 200
    report = bad.json()
    assert report["valid"] is False
    by_code = {e["code"]: e for e in report["errors"]}
    assert by_code["unknown_type"]["line"] == 5
    assert by_code["unknown_type"]["column"] == 11
    assert by_code["unknown_type"]["path"] == "steps[0].type"
    assert "template_syntax" in by_code
    for err in report["errors"]:
        assert set(err) == {"line", "column", "path", "message", "code"}

    yaml_err = client.post(f"{API}/workflows/validate", json={"dsl": "a: [1,\n"}, headers=h)
    assert yaml_err.status_code == 200
    (err,) = yaml_err.json()["errors"]
    assert err["code"] == "yaml_syntax" and err["line"] is not None


def test_saving_malformed_dsl_is_a_422_problem_with_errors(
    client: TestClient, callers: Callers
) -> None:
    h = callers.alice.headers
    resp = client.post(f"{API}/workflows", json={"dsl": BROKEN}, headers=h)
    body = assert_problem(resp, 422, "dsl_invalid")
    codes = {e["code"] for e in body["errors"]}
    assert {"unknown_type", "template_syntax"} <= codes
    first = next(e for e in body["errors"] if e["code"] == "unknown_type")
    assert (first["line"], first["column"]) == (5, 11)
    # nothing was stored
    assert_problem(client.get(f"{API}/workflows/broken", headers=h), 404, "workflow_not_found")
    # a body that is not the expected shape
    resp = client.post(f"{API}/workflows", json={"yaml": "x"}, headers=h)
    assert_problem(resp, 422, "invalid_request")


def test_draft_may_be_incomplete_but_does_not_run(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    text = dsl(
        """
        name: Draft
        slug: drafty
        steps:
          - id: work
            type: code
        """
    )
    assert_problem(client.post(f"{API}/workflows", json={"dsl": text}, headers=h), 422)
    resp = client.post(f"{API}/workflows", json={"dsl": text, "draft": True}, headers=h)
    assert resp.status_code == 201
    report = client.post(
        f"{API}/workflows/validate", json={"dsl": text, "draft": True}, headers=h
    ).json()
    assert report["valid"] is True
    assert report["missing"][0]["node_id"] == "work"
    resp = client.post(f"{API}/workflows/drafty/publish", headers=h)
    assert_problem(resp, 422)


def test_export_yaml_and_json(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    resp = client.get(f"{API}/workflows/echo/export", headers=h)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/yaml")
    doc = yaml.safe_load(resp.text)
    assert doc["slug"] == "echo" and [s["id"] for s in doc["steps"]] == ["shape", "answer"]

    resp = client.get(f"{API}/workflows/echo/export?format=json&version=1", headers=h)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert json.loads(resp.text)["slug"] == "echo"

    assert_problem(client.get(f"{API}/workflows/echo/export?format=xml", headers=h), 422)
    assert_problem(client.get(f"{API}/workflows/echo/export?version=9", headers=h), 404)

    # the export round-trips: it validates cleanly and saving it again changes nothing
    exported = client.get(f"{API}/workflows/echo/export", headers=h).text
    report = client.post(f"{API}/workflows/validate", json={"dsl": exported}, headers=h).json()
    assert report["valid"] is True, report
    assert save(client, h, exported)["version"]["number"] == 1


def test_delete(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    save(client, h, echo_dsl())
    assert client.delete(f"{API}/workflows/echo", headers=h).status_code == 204
    assert_problem(client.get(f"{API}/workflows/echo", headers=h), 404, "workflow_not_found")
    assert_problem(client.delete(f"{API}/workflows/echo", headers=h), 404)


def test_list_pages_and_the_maximum_page_size(client: TestClient, callers: Callers) -> None:
    h = callers.alice.headers
    for i in range(3):
        save(client, h, echo_dsl(f"wf-{i}"))
    first = client.get(f"{API}/workflows?limit=2", headers=h).json()
    second = client.get(f"{API}/workflows?limit=2&offset=2", headers=h).json()
    slugs = [w["slug"] for w in first["items"] + second["items"]]
    assert sorted(slugs) == ["wf-0", "wf-1", "wf-2"] and first["limit"] == 2
    ok = client.get(f"{API}/workflows?limit={MAX_PAGE}", headers=h)
    assert ok.status_code == 200
    for path in ["workflows", "runs"]:
        resp = client.get(f"{API}/{path}?limit={MAX_PAGE + 1}", headers=h)
        body = assert_problem(resp, 422, "page_too_large")
        assert str(MAX_PAGE) in body["detail"]
    assert_problem(client.get(f"{API}/workflows?limit=0", headers=h), 422, "invalid_request")
    assert_problem(client.get(f"{API}/workflows?offset=-1", headers=h), 422, "invalid_request")


def test_openapi_is_served(client: TestClient) -> None:
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    schema = resp.json()
    assert schema["info"]["title"] == "Plait"
    paths = schema["paths"]
    assert "post" in paths[f"{API}/workflows/{{slug}}/runs"]
    assert "get" in paths[f"{API}/runs/{{run_id}}/events"]
    hook_ops = paths["/hooks/{workflow}/{trigger_id}"]
    assert {"post", "get"} <= set(hook_ops)
    op_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(op_ids) == len(set(op_ids))
    assert client.get(f"{API}/docs").status_code == 200


def test_unknown_api_path_is_a_problem(client: TestClient, callers: Callers) -> None:
    resp = client.get(f"{API}/nothing-here", headers=callers.alice.headers)
    assert_problem(resp, 404, "not_found")
