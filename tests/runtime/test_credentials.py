"""Credentials through the facade on memory, SQLite and PostgreSQL: encryption at rest, the
workspace key file, key mismatch refused loudly, rotation, and provider tests against the
scripted mock LLM. A canary secret is looked for everywhere it must not be."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from workspace.errors import ConfigurationError, ConflictError, ValidationError
from workspace.mockllm import load_script
from workspace.mockllm.server import MockLLMServer
from workspace.runtime.workspace import Workspace
from workspace.settings import Settings
from workspace.vault import KeyRing, fingerprint, new_key

CANARY = "sk-canary-7f3a9c1e5b2d4f60"


@pytest.fixture
def llm() -> Iterator[MockLLMServer]:
    script = load_script(
        {"api_key": CANARY, "models": ["m-1", "m-2"], "rules": [{"match": ".", "content": "ok"}]}
    )
    with MockLLMServer(script) as server:
        yield server


def test_a_secret_is_stored_encrypted_and_shown_as_a_hint(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cred = ws.credentials.create("openai", "openai", CANARY, base_url="http://127.0.0.1:1/v1")
    assert CANARY not in cred.ciphertext and cred.ciphertext.startswith("gAAAA")
    assert cred.hint == "…4f60"
    public = ws.credentials.get("openai").public()
    assert "ciphertext" not in public and public["secret"] == "…4f60"
    assert CANARY not in str(public)
    assert ws.credentials.reveal("openai")[1] == CANARY
    assert [c.name for c in ws.credentials.list()] == ["openai"]
    with pytest.raises(ConflictError):
        ws.credentials.create("openai", "openai", "x" * 20)
    assert CANARY not in caplog.text


def test_the_key_file_is_private_and_its_fingerprint_recorded(ws: Workspace) -> None:
    ws.credentials.create("t", "token", CANARY)
    path = ws.settings.secret_key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing.from_file(path, create=False)
    assert ring is not None
    assert ws.store.credentials.key_fingerprint() == ring.fingerprint
    ws.credentials.check_key()  # the same key: fine


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "bad name!", "kind": "openai", "secret": "s"}, "credential name"),
        ({"name": "ok", "kind": "nope", "secret": "s"}, "unknown credential kind 'nope'"),
        ({"name": "ok", "kind": "openai", "secret": ""}, "non-empty secret"),
        ({"name": "ok", "kind": "openai", "secret": "s", "base_url": "ftp://x"}, "base_url"),
    ],
)
def test_bad_credentials_are_refused_clearly(
    mem_ws: Workspace, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        mem_ws.credentials.create(**kwargs)  # type: ignore[arg-type]
    assert err.value.code == "bad_credential" and message in err.value.message


def test_another_key_is_refused_and_never_yields_ciphertext(ws: Workspace) -> None:
    ws.credentials.create("t", "token", CANARY)
    other = Settings(workspace_dir=ws.settings.workspace_dir, secrets={"key": new_key()})
    intruder = Workspace(ws.store, other, ws.registry)  # same database, another key
    with pytest.raises(ConfigurationError) as err:
        intruder.credentials.check_key()
    assert err.value.code == "secret_key_mismatch"
    with pytest.raises(ConfigurationError) as err:
        intruder.credentials.reveal("t")
    assert err.value.code == "secret_key_mismatch" and "gAAAA" not in err.value.message
    with pytest.raises(ConfigurationError):
        intruder.credentials.create("u", "token", "another secret value")
    assert [c.name for c in ws.credentials.list()] == ["t"]


def test_rotation_with_the_key_file(ws: Workspace) -> None:
    ws.credentials.create("a", "token", CANARY)
    ws.credentials.create("b", "openai", "sk-second-secret-value")
    before = {c.name: c.ciphertext for c in ws.credentials.list()}
    old_fp = ws.store.credentials.key_fingerprint()
    new_fp, count = ws.credentials.rotate_key(generate=True)
    assert count == 2 and new_fp != old_fp
    assert ws.store.credentials.key_fingerprint() == new_fp
    after = ws.credentials.list()
    assert all(c.ciphertext != before[c.name] and c.key_fingerprint == new_fp for c in after)
    ring = KeyRing.from_file(ws.settings.secret_key_file(), create=False)
    assert ring is not None and ring.fingerprints() == [new_fp, old_fp]
    # a fresh process reading the key file decrypts everything
    fresh = Workspace(ws.store, ws.settings, ws.registry)
    fresh.credentials.check_key()
    assert fresh.credentials.reveal("a")[1] == CANARY


def test_rotation_with_keys_from_settings(mem_ws: Workspace) -> None:
    old, new = new_key(), new_key()
    first = Workspace(mem_ws.store, Settings(secrets={"key": old}), mem_ws.registry)
    first.credentials.create("a", "token", CANARY)
    rotated = Workspace(
        mem_ws.store, Settings(secrets={"key": new, "old_keys": [old]}), mem_ws.registry
    )
    with pytest.raises(ConfigurationError):  # not yet re-encrypted: the primary differs
        rotated.credentials.check_key()
    assert rotated.credentials.rotate_key(generate=False) == (fingerprint(new), 1)
    rotated.credentials.check_key()
    only_new = Workspace(mem_ws.store, Settings(secrets={"key": new}), mem_ws.registry)
    assert only_new.credentials.reveal("a")[1] == CANARY


def test_provider_test_and_models_against_the_mock(
    mem_ws: Workspace, llm: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = mem_ws.credentials
    creds.create("good", "openai", CANARY, base_url=llm.openai_base_url)
    creds.create("claude", "anthropic", CANARY, base_url=llm.anthropic_base_url)
    creds.create("wrong", "openai", "sk-wrong-but-long-enough", base_url=llm.openai_base_url)
    creds.create("down", "openai", CANARY, base_url="http://127.0.0.1:9/v1")
    creds.create("hook", "token", CANARY)
    assert creds.test("good") == {"ok": True, "models": ["m-1", "m-2"]}
    assert creds.models("claude") == ["m-1", "m-2"]
    refused = creds.test("wrong")
    assert refused["ok"] is False and refused["status"] == 401
    assert "invalid API key" in refused["error"]
    assert creds.test("down")["ok"] is False
    assert creds.test("hook")["ok"] is True
    keys = {r.key for r in llm.requests()}
    assert keys and all(k is not None and k.startswith("sha256:") for k in keys)
    assert CANARY not in caplog.text


def test_update_replaces_the_secret_and_keeps_the_rest(ws: Workspace, tmp_path: Path) -> None:
    ws.credentials.create("a", "openai", CANARY, base_url="http://h:1/v1", params={"o": 1})
    updated = ws.credentials.update("a", secret="sk-new-secret-value-1234", new_name="b")
    assert (updated.name, updated.base_url, updated.params) == ("b", "http://h:1/v1", {"o": 1})
    assert ws.credentials.reveal("b")[1] == "sk-new-secret-value-1234"
    cleared = ws.credentials.update("b", base_url="")
    assert cleared.base_url is None and ws.credentials.reveal("b")[1].endswith("1234")
