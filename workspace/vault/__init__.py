"""Encryption of stored secrets (SPEC §9): Fernet keys, a key ring with rotation, fingerprints.
See README.md in this folder."""

from workspace.vault.keyring import KeyRing, fingerprint, new_key
from workspace.vault.vault import Vault

__all__ = ["KeyRing", "Vault", "fingerprint", "new_key"]
