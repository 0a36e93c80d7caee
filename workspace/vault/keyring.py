"""``KeyRing``: the Fernet keys a process holds — the primary one encrypts, every one decrypts.

Keys come from settings (``PLAIT_SECRETS__KEY`` + ``PLAIT_SECRETS__OLD_KEYS``) or from the
workspace's key file (``<workspace>/.plait/secret.key``, 0600, one key per line, primary
first), created on first need. The app never writes a key anywhere else (never into the
repository, never into the database). A key is named by its fingerprint, the first 16 hex
digits of its SHA-256: safe to store and to print.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from workspace.errors import ConfigurationError

__all__ = ["KeyRing", "fingerprint", "new_key"]


def new_key() -> str:
    return Fernet.generate_key().decode()


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()[:16]


def _check(key: str, where: str) -> str:
    key = key.strip()
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"the secret key from {where} is not a Fernet key (32 url-safe base64 bytes; "
            "`plait credentials new-key` prints one)",
            code="bad_secret_key",
        ) from None
    return key


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[str, ...]
    #: where the keys came from: "settings" or the key file's path
    source: str
    file: Path | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("a key ring needs at least one key", code="bad_secret_key")

    @property
    def primary(self) -> str:
        return self.keys[0]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.primary)

    def fingerprints(self) -> list[str]:
        return [fingerprint(k) for k in self.keys]

    @classmethod
    def from_keys(cls, keys: Sequence[str], source: str = "settings") -> KeyRing:
        return cls(tuple(_check(k, source) for k in keys), source)

    @classmethod
    def from_file(cls, path: Path, *, create: bool) -> KeyRing | None:
        """The keys in ``path``; a new file with a fresh key if it is missing and ``create``."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            if not create:
                return None
            ring = cls((new_key(),), str(path), path)
            ring.write()
            return ring
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the secret key file {path}: {exc.strerror}", code="bad_secret_key"
            ) from None
        keys = [line.strip() for line in text.splitlines() if line.strip()]
        if not keys:
            raise ConfigurationError(f"the secret key file {path} is empty", code="bad_secret_key")
        return cls(tuple(_check(k, str(path)) for k in keys), str(path), path)

    def rotated(self) -> KeyRing:
        """A ring with a fresh primary key; the old keys still decrypt."""
        return KeyRing((new_key(), *self.keys), self.source, self.file)

    def write(self) -> None:
        """Write the ring to its key file (atomically, 0600)."""
        if self.file is None:
            raise ConfigurationError(
                "keys from settings cannot be written: set PLAIT_SECRETS__KEY yourself",
                code="bad_secret_key",
            )
        self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.file.with_name(self.file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(self.keys) + "\n")
        os.replace(tmp, self.file)
