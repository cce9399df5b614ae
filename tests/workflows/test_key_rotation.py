"""Credential key rotation: every credential is resealed with the new key, an interrupted
rotation continues where it stopped, and a running server follows the new key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.accounts import signup
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.security.vault import Vault, VaultError, key_id, replace_key_file
from wirework.settings import Settings
from wirework.workflows import service
from wirework.workflows.models import Credential


@pytest.fixture
def key_file_settings(tmp_path: Path) -> Settings:
    """The default set-up: the key in the data dir's key file (no WIREWORK_SECRET_KEY)."""
    return Settings(env="test", data_dir=tmp_path, open_signup=True)


@pytest.fixture
async def key_file_client(key_file_settings: Settings, db: Database) -> AsyncIterator[Any]:
    app = create_app(key_file_settings, db=db)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield app, client


async def _credentials(client: httpx.AsyncClient, count: int) -> None:
    for who in ("ann", "bob"):  # two organizations: rotation covers all of them
        account = await signup(client, who, org_name=f"{who} org")
        for i in range(count):
            made = await client.post(
                "/api/v1/credentials",
                json={"name": f"c{i}", "type": "http_bearer", "data": {"token": f"{who}-{i}"}},
                headers=account.headers,
            )
            assert made.status_code == 201, made.text


async def _open_all(db: Database, vault: Vault) -> list[str]:
    async with db.session() as session:
        rows = (await session.execute(select(Credential).order_by(Credential.id))).scalars().all()
        return sorted(service.open_credential(vault, c)["token"] for c in rows)


class Interrupted(Exception):
    pass


async def test_an_interrupted_rotation_resumes_and_then_only_the_new_key_is_needed(
    key_file_client: Any, key_file_settings: Settings, db: Database
) -> None:
    app, client = key_file_client
    await _credentials(client, 3)
    data_dir = key_file_settings.data_dir
    old = key_file_settings.vault_keys()[0]
    new = "n" * 48
    replace_key_file(data_dir, new)
    current, previous = key_file_settings.vault_keys()
    assert (current, previous) == (new, [old])
    vault = Vault(current, old_secrets=previous)

    def stop_after_first_batch(done: int, total: int) -> None:
        assert total == 6
        raise Interrupted

    with pytest.raises(Interrupted):
        await service.reseal_all(db, vault, batch=2, on_progress=stop_after_first_batch)
    async with db.session() as session:
        assert await service.count_to_reseal(session, vault) == 4  # the first batch was committed

    done = await service.reseal_all(db, vault, batch=2)
    assert done.resealed == 4 and done.unreadable == []
    expected = sorted(f"{who}-{i}" for who in ("ann", "bob") for i in range(3))
    assert await _open_all(db, Vault(new)) == expected
    with pytest.raises(VaultError):
        await _open_all(db, Vault(old))

    # The running app still had only the old key: it reads the keys again when it meets the new
    # one, then opens every credential and seals new ones with the new key.
    running: Vault = app.state.vault
    assert running.key_id == key_id(old)
    assert await _open_all(db, running) == expected
    assert running.key_id == key_id(new)


async def test_a_credential_no_key_opens_is_reported_not_lost(
    key_file_client: Any, key_file_settings: Settings, db: Database
) -> None:
    _, client = key_file_client
    await _credentials(client, 1)
    stranger = Vault("s" * 48)  # a key that is configured nowhere
    result = await service.reseal_all(db, stranger)
    assert result.resealed == 0 and len(result.unreadable) == 2 and "does not have" in result.unreadable[0][2]
    async with db.session() as session:
        assert await service.count_to_reseal(session, stranger) == 2  # left as they were
