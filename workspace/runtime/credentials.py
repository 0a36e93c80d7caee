"""``CredentialService``: store, update, test and use credentials (SPEC §7, §9).

Secrets are encrypted with the workspace key ring (``workspace.vault``) before they reach the
store and decrypted only by :meth:`reveal`, for the node or webhook that uses them. What the
API, the CLI, events and logs get is :meth:`Credential.public` (a hint of the last characters,
never the secret). Every process of a workspace must hold the key its secrets are encrypted
with: :meth:`check_key` refuses a process whose primary key has another fingerprint.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from typing import Any

import httpx

from workspace.domain.credentials import Credential, CredentialKind, secret_hint
from workspace.domain.ports import CredentialRepository
from workspace.errors import ConfigurationError, NotFoundError, UpstreamError, ValidationError
from workspace.settings import Settings
from workspace.vault import KeyRing, Vault

__all__ = ["CredentialService", "settings_keyring"]

log = logging.getLogger(__name__)

#: where the providers live when a credential names no base URL
DEFAULT_BASE_URLS = {
    CredentialKind.OPENAI: "https://api.openai.com/v1",
    CredentialKind.ANTHROPIC: "https://api.anthropic.com",
}


class CredentialService:
    def __init__(
        self,
        repo: CredentialRepository,
        keyring: Callable[[bool], KeyRing | None],
        *,
        test_timeout_s: float = 10.0,
    ) -> None:
        """``keyring(create)`` gives the process's key ring (None when there is none and
        ``create`` is False); it is asked only when a secret is stored or read."""
        self.repo = repo
        self._keyring = keyring
        self._vault: Vault | None = None
        self.test_timeout_s = test_timeout_s

    # -- keys ----------------------------------------------------------------------------------

    def vault(self, *, create: bool = False) -> Vault:
        if self._vault is None:
            ring = self._keyring(create)
            if ring is None:
                raise ConfigurationError(
                    "no secret key: set PLAIT_SECRETS__KEY or create a credential first",
                    code="no_secret_key",
                )
            self._vault = Vault(ring)
        return self._vault

    def check_key(self) -> None:
        """Refuse to go on when the workspace's secrets were encrypted with another key."""
        recorded = self.repo.key_fingerprint()
        if recorded is None:
            return
        ring = self._keyring(False)
        held = ring.fingerprint if ring else None
        if held != recorded:
            raise ConfigurationError(
                f"this workspace's secrets are encrypted with key {recorded}, but this process "
                f"holds {held or 'no key'} (from {ring.source if ring else 'nowhere'}): give "
                "every process the same PLAIT_SECRETS__KEY or key file",
                code="secret_key_mismatch",
            )

    def _sealed(self, secret: str) -> dict[str, str]:
        if not isinstance(secret, str) or not secret:
            raise ValidationError("a credential needs a non-empty secret", code="bad_credential")
        vault = self.vault(create=True)
        recorded = self.repo.claim_key_fingerprint(vault.ring.fingerprint)
        if recorded != vault.ring.fingerprint:
            self.check_key()  # raises: another key encrypts this workspace's secrets
        return {
            "ciphertext": vault.encrypt(secret),
            "hint": secret_hint(secret),
            "key_fingerprint": vault.ring.fingerprint,
        }

    def rotate_key(self, *, generate: bool) -> tuple[str, int]:
        """Re-encrypt every secret with the primary key (after ``generate``: a new one, written
        to the key file with the old keys kept for decryption); returns (fingerprint, count)."""
        ring = self._keyring(True)
        assert ring is not None
        if generate:
            ring = ring.rotated()
        vault = Vault(ring)
        if generate:
            ring.write()  # before re-encrypting: a crash in between loses no key
        count = self.repo.reencrypt(vault.rotate, ring.fingerprint)
        self._vault = vault
        log.info("re-encrypted %d credentials with key %s", count, ring.fingerprint)
        return ring.fingerprint, count

    # -- records -------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        kind: str,
        secret: str,
        *,
        base_url: str | None = None,
        params: dict[str, Any] | None = None,
        owner: str | None = None,
        demo: bool = False,
    ) -> Credential:
        if kind not in CredentialKind.__members__.values():
            kinds = ", ".join(k.value for k in CredentialKind)
            raise ValidationError(
                f"unknown credential kind {kind!r} (one of: {kinds})", code="bad_credential"
            )
        try:
            draft = Credential(
                name=name,
                kind=CredentialKind(kind),
                base_url=base_url,
                params=params or {},
                owner=owner,
                demo=demo,
                ciphertext="-",
                key_fingerprint="-",
            )
        except ValueError as exc:
            raise ValidationError(
                f"invalid credential: {_first_error(exc)}", code="bad_credential"
            ) from None
        return self.repo.create(draft.model_copy(update=self._sealed(secret)))

    def update(
        self,
        name: str,
        *,
        secret: str | None = None,
        new_name: str | None = None,
        base_url: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Credential:
        current = self.repo.get(name)
        changes: dict[str, Any] = {}
        if new_name is not None:
            changes["name"] = new_name
        if base_url is not None:
            changes["base_url"] = base_url or None
        if params is not None:
            changes["params"] = params
        try:
            updated = Credential.model_validate({**current.model_dump(), **changes})
        except ValueError as exc:
            raise ValidationError(
                f"invalid credential: {_first_error(exc)}", code="bad_credential"
            ) from None
        if secret is not None:
            updated = updated.model_copy(update=self._sealed(secret))
        return self.repo.update(updated)

    def delete(self, name: str) -> None:
        self.repo.delete(name)

    def get(self, name: str) -> Credential:
        return self.repo.get(name)

    def list(self, *, owner: str | None = None) -> builtins.list[Credential]:
        return self.repo.list(owner=owner)

    def reveal(self, name: str) -> tuple[Credential, str]:
        """The credential and its decrypted secret (never log it)."""
        cred = self.repo.get(name)
        return cred, self.vault().decrypt(cred.ciphertext, name=f"credential {name!r}")

    def reveal_for(self, name: str, owner: str | None) -> tuple[Credential, str]:
        """Like :meth:`reveal`, for a workflow of ``owner``: only a credential without an
        owner (workspace-wide, made from the CLI) or one of its own; any other is "not
        found"."""
        cred = self.repo.get(name)
        if cred.owner is not None and cred.owner != owner:
            raise NotFoundError(f"credential {name!r} not found", code="credential_not_found")
        return cred, self.vault().decrypt(cred.ciphertext, name=f"credential {name!r}")

    # -- provider checks -------------------------------------------------------------------------

    def models(self, name: str) -> builtins.list[str]:
        """The models the credential's provider lists (an HTTP call to it)."""
        cred, secret = self.reveal(name)
        if cred.kind not in DEFAULT_BASE_URLS:
            raise ValidationError(
                f"credential {name!r} ({cred.kind.value}) is not an LLM provider",
                code="not_a_provider",
            )
        base = cred.base_url or DEFAULT_BASE_URLS[cred.kind]
        if cred.kind == CredentialKind.OPENAI:
            url, headers = f"{base}/models", {"Authorization": f"Bearer {secret}"}
        else:
            url = f"{base}/v1/models"
            headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
        resp = httpx.get(url, headers=headers, timeout=self.test_timeout_s)
        if resp.status_code != 200:
            raise UpstreamError(
                f"{cred.kind.value} provider at {base} answered {resp.status_code}: "
                f"{_provider_message(resp)}",
                code="provider_refused",
                status=resp.status_code,
            )
        data = resp.json().get("data", [])
        return [str(m.get("id")) for m in data if isinstance(m, dict)]

    def test(self, name: str) -> dict[str, Any]:
        """Contact the provider with the credential: ``{"ok", "models" | "error"}``."""
        cred = self.repo.get(name)
        if cred.kind not in DEFAULT_BASE_URLS:
            self.reveal(name)  # at least: it decrypts
            return {"ok": True, "detail": f"{cred.kind.value} credential decrypts; nothing to call"}
        try:
            return {"ok": True, "models": self.models(name)}
        except UpstreamError as exc:
            return {"ok": False, "status": exc.details["status"], "error": exc.message}
        except httpx.HTTPError as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: cannot reach the provider"}


def settings_keyring(settings: Settings) -> Callable[[bool], KeyRing | None]:
    """The key ring source of a workspace: ``PLAIT_SECRETS__KEY`` (+ old keys) when set, else
    the workspace key file (created on first need)."""

    def ring(create: bool) -> KeyRing | None:
        sec = settings.secrets
        if sec.key is not None:
            keys = [sec.key.get_secret_value(), *(k.get_secret_value() for k in sec.old_keys)]
            return KeyRing.from_keys(keys, "PLAIT_SECRETS__KEY")
        return KeyRing.from_file(settings.secret_key_file(), create=create)

    return ring


def _provider_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:300]
    return f"HTTP {resp.status_code}"


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(exc)
