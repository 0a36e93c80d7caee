"""Contract of ``CredentialRepository`` on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.contracts.storekit import race
from workspace.domain.credentials import Credential, CredentialKind
from workspace.domain.ports import Store
from workspace.errors import ConflictError, NotFoundError


def cred(name: str, owner: str | None = None, token: str = "gAAAA-cipher") -> Credential:
    return Credential(
        name=name,
        kind=CredentialKind.OPENAI,
        base_url="http://127.0.0.1:9/v1/",
        params={"model": "gpt-x"},
        owner=owner,
        ciphertext=token,
        hint="…abcd",
        key_fingerprint="fp1",
    )


def test_create_get_list_update_delete(store: Store) -> None:
    repo = store.credentials
    a = repo.create(cred("openai-main", owner="u1"))
    repo.create(cred("anthropic", owner="u2"))
    assert a.base_url == "http://127.0.0.1:9/v1"  # normalised
    with pytest.raises(ConflictError) as dup:
        repo.create(cred("openai-main"))
    assert dup.value.code == "credential_exists"
    got = repo.get("openai-main")
    assert got == a
    assert repo.find("nope") is None
    with pytest.raises(NotFoundError) as missing:
        repo.get("nope")
    assert missing.value.code == "credential_not_found"
    assert [c.name for c in repo.list()] == ["anthropic", "openai-main"]
    assert [c.name for c in repo.list(owner="u1")] == ["openai-main"]

    renamed = repo.update(got.model_copy(update={"name": "openai", "ciphertext": "new"}))
    assert renamed.updated_at >= got.updated_at
    assert repo.get("openai").ciphertext == "new"
    assert repo.find("openai-main") is None
    with pytest.raises(ConflictError):
        repo.update(renamed.model_copy(update={"name": "anthropic"}))
    assert repo.get("openai").name == "openai"  # the failed rename changed nothing

    repo.delete("openai")
    with pytest.raises(NotFoundError):
        repo.delete("openai")
    with pytest.raises(NotFoundError):
        repo.update(renamed)


def test_the_key_fingerprint_is_claimed_once(store: Store) -> None:
    repo = store.credentials
    assert repo.key_fingerprint() is None
    winners = race(*(lambda i=i: repo.claim_key_fingerprint(f"fp{i}") for i in range(6)))
    assert len(set(winners)) == 1
    assert repo.key_fingerprint() == winners[0]
    assert repo.claim_key_fingerprint("other") == winners[0]


def test_reencrypt_is_all_or_nothing(store: Store) -> None:
    repo = store.credentials
    repo.create(cred("a", token="t-a"))
    repo.create(cred("b", token="t-b"))
    repo.claim_key_fingerprint("fp1")

    def broken(token: str) -> str:
        if token == "t-b":
            raise ValueError("cannot")
        return token.upper()

    with pytest.raises(ValueError):
        repo.reencrypt(broken, "fp2")
    assert [c.ciphertext for c in repo.list()] == ["t-a", "t-b"]
    assert repo.key_fingerprint() == "fp1"

    assert repo.reencrypt(lambda t: t.upper(), "fp2") == 2
    assert [(c.ciphertext, c.key_fingerprint) for c in repo.list()] == [
        ("T-A", "fp2"),
        ("T-B", "fp2"),
    ]
    assert repo.key_fingerprint() == "fp2"
