"""Secrets at rest: AES-256-GCM, a fresh nonce per value, a key id for rotation.

Sealed format (text, safe for any column): `v1.<key id>.<base64url(nonce + ciphertext)>`.
The key comes from `WIREWORK_SECRET_KEY` or from a 0600 key file made in the data dir on
first start.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE_NAME = "secret.key"


class VaultError(Exception):
    pass


def derive_key(secret: str) -> bytes:
    """A 256-bit key from any secret string (the env var may be a passphrase)."""
    return hashlib.sha256(b"wirework-vault-v1:" + secret.encode()).digest()


def load_or_create_key_file(data_dir: Path) -> str:
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


class Vault:
    def __init__(self, secret: str, *, old_secrets: list[str] | None = None) -> None:
        self._keys: dict[str, bytes] = {}
        for s in [secret, *(old_secrets or [])]:
            key = derive_key(s)
            self._keys.setdefault(hashlib.sha256(key).hexdigest()[:8], key)
        self.key_id = next(iter(self._keys))

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.key_id]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, *, context: str = "") -> str:
        try:
            version, key_id, payload = token.split(".", 2)
            key = self._keys[key_id]
            raw = base64.urlsafe_b64decode(payload)
            if version != "v1":
                raise ValueError(version)
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except KeyError as exc:
            raise VaultError("secret was sealed with a key this server does not have") from exc
        except (ValueError, InvalidTag) as exc:
            raise VaultError("sealed secret is corrupt or was sealed for another record") from exc

    def needs_reseal(self, token: str) -> bool:
        return token.split(".", 2)[1] != self.key_id
