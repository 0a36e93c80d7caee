"""``Vault``: encrypt and decrypt secrets with a key ring (MultiFernet)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from workspace.errors import ConfigurationError
from workspace.vault.keyring import KeyRing

__all__ = ["Vault"]


class Vault:
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._fernet = MultiFernet([Fernet(k.encode()) for k in ring.keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str, *, name: str = "secret") -> str:
        """The secret; a token no key of the ring opens is a loud error, never the ciphertext."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                f"{name} cannot be decrypted with this process's secret key "
                f"(fingerprint {self.ring.fingerprint}); use the workspace's key",
                code="secret_key_mismatch",
            ) from None

    def rotate(self, token: str) -> str:
        """The token re-encrypted with the primary key (any key of the ring may open it)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "a stored secret cannot be decrypted with any key of the ring",
                code="secret_key_mismatch",
            ) from None
