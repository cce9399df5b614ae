"""Secrets at rest: AES-256-GCM, a fresh nonce per value, a key id for rotation.

Sealed format (text, safe for any column): `v1.<key id>.<base64url(nonce + ciphertext)>`.
The key comes from `WIREWORK_SECRET_KEY` or from a 0600 key file made in the data dir on
first start. Keys used before a rotation stay accepted for opening while they are listed in
`WIREWORK_SECRET_KEY_PREVIOUS` or in the data dir's `secret.previous-keys` file (one a line);
`wirework secrets rotate` makes a new key, keeps the old one there and reseals every value.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE_NAME = "secret.key"
PREVIOUS_KEYS_FILE_NAME = "secret.previous-keys"

log = structlog.get_logger("wirework.vault")

# (current secret, previous secrets)
Keys = tuple[str, list[str]]


class VaultError(Exception):
    pass


def derive_key(secret: str) -> bytes:
    """A 256-bit key from any secret string (the env var may be a passphrase)."""
    return hashlib.sha256(b"wirework-vault-v1:" + secret.encode()).digest()


def key_id(secret: str) -> str:
    """The id sealed values carry for the key made from `secret` (not secret itself)."""
    return hashlib.sha256(derive_key(secret)).hexdigest()[:8]


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def _check_private(path: Path, *, strict: bool) -> None:
    """A key file others can read is refused when `strict` (production), else made 0600."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077 == 0:
        return
    if strict:
        raise VaultError(
            f"{path} is readable by other users (mode {mode:o}): run 'chmod 600 {path}'. Anyone who "
            "read it can open the credentials, so then make a new key with 'wirework secrets rotate'."
        )
    path.chmod(0o600)
    log.warning("key_file_permissions_tightened", path=str(path), was=f"{mode:o}", now="600")


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a crash leaves the old file or the new, whole),
    0600 from its creation."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_or_create_key_file(data_dir: Path, *, strict: bool = False) -> str:
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        _check_private(path, strict=strict)
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = new_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def read_previous_keys(data_dir: Path, *, strict: bool = False) -> list[str]:
    """The keys listed in the data dir's previous-keys file (none if there is no file)."""
    path = data_dir / PREVIOUS_KEYS_FILE_NAME
    if not path.exists():
        return []
    _check_private(path, strict=strict)
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def replace_key_file(data_dir: Path, secret: str) -> None:
    """Make `secret` the data dir's key, keeping the current one in the previous-keys file
    first, so that values sealed with it stay readable whatever happens next."""
    current = (data_dir / KEY_FILE_NAME).read_text().strip()
    previous = read_previous_keys(data_dir)
    if current not in previous:
        _write_private(data_dir / PREVIOUS_KEYS_FILE_NAME, "".join(f"{k}\n" for k in [*previous, current]))
    _write_private(data_dir / KEY_FILE_NAME, secret + "\n")


class Vault:
    """Seals with the current key; opens with it or any previous one. Given `reload`, a value
    sealed with a key it does not know makes it read its keys again (once per such value), so
    a running process follows a rotation made by `wirework secrets rotate` beside it."""

    def __init__(
        self,
        secret: str,
        *,
        old_secrets: list[str] | None = None,
        reload: Callable[[], Keys] | None = None,
    ) -> None:
        self._reload = reload
        self._use(secret, old_secrets or [])

    def _use(self, secret: str, old_secrets: list[str]) -> None:
        keys: dict[str, bytes] = {}
        for s in [secret, *old_secrets]:
            keys.setdefault(key_id(s), derive_key(s))
        self._keys = keys
        self.key_id = key_id(secret)

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.key_id]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, token: str, *, context: str = "") -> str:
        try:
            version, kid, payload = token.split(".", 2)
            if kid not in self._keys and self._reload is not None:
                try:
                    self._use(*self._reload())
                except OSError as exc:
                    raise VaultError(f"cannot read the keys again: {exc}") from exc
            key = self._keys[kid]
            raw = base64.urlsafe_b64decode(payload)
            if version != "v1":
                raise ValueError(version)
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except KeyError as exc:
            raise VaultError("secret was sealed with a key this server does not have") from exc
        except (ValueError, InvalidTag) as exc:
            raise VaultError("sealed secret is corrupt or was sealed for another record") from exc

    def needs_reseal(self, token: str) -> bool:
        return sealed_key_id(token) != self.key_id


def sealed_key_id(token: str) -> str:
    """The id of the key a value was sealed with ('' if it is not a sealed value)."""
    parts = token.split(".", 2)
    return parts[1] if len(parts) == 3 else ""


def vault_from(keys: Callable[[], Keys]) -> Vault:
    """A vault with the keys `keys()` gives (e.g. `settings.vault_keys`), reading them again
    when it meets a value sealed with a key it does not know."""
    current, previous = keys()
    return Vault(current, old_secrets=previous, reload=keys)
