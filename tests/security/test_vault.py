"""The vault seals secrets with AES-256-GCM; passwords are argon2id; tokens are hashed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from wirework.security import passwords, tokens
from wirework.security.vault import Vault, VaultError, load_or_create_key_file


def test_seal_and_open_round_trip_with_fresh_nonces() -> None:
    vault = Vault("k" * 40)
    a, b = vault.seal("s3cret", context="cred:1"), vault.seal("s3cret", context="cred:1")
    assert a != b and "s3cret" not in a
    assert vault.open(a, context="cred:1") == "s3cret"


def test_wrong_context_tampering_and_unknown_key_are_refused() -> None:
    vault = Vault("k" * 40)
    sealed = vault.seal("s3cret", context="cred:1")
    with pytest.raises(VaultError):
        vault.open(sealed, context="cred:2")
    head, payload = sealed.rsplit(".", 1)
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(VaultError):
        vault.open(f"{head}.{flipped}", context="cred:1")
    with pytest.raises(VaultError, match="key this server does not have"):
        Vault("other" * 10).open(sealed, context="cred:1")


def test_rotation_opens_old_values_and_marks_them_for_reseal() -> None:
    old = Vault("old" * 12)
    sealed = old.seal("v")
    rotated = Vault("new" * 12, old_secrets=["old" * 12])
    assert rotated.open(sealed) == "v"
    assert rotated.needs_reseal(sealed)
    assert not rotated.needs_reseal(rotated.seal("v"))


def test_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create_key_file(tmp_path)
    assert load_or_create_key_file(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_passwords_are_argon2id_and_verify() -> None:
    hashed = passwords.hash_password("hunter2-hunter2")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "hunter2-hunter2")
    assert not passwords.verify_password(hashed, "wrong")
    assert not passwords.verify_password(None, "anything")


def test_tokens_are_random_and_stored_hashed() -> None:
    a, b = tokens.new_token(), tokens.new_token()
    assert a != b and len(a) >= 43
    assert tokens.hash_token(a) != a and len(tokens.hash_token(a)) == 64
    assert tokens.new_api_key().startswith("ww_")
