"""WIREWORK_ENV=production refuses weak set-ups, each with what to set, and closes what a
development instance leaves open (the API docs, the first account over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from wirework.app import create_app
from wirework.db.engine import Database
from wirework.security.vault import VaultError
from wirework.settings import Settings

SAFE: dict[str, Any] = {
    "env": "production",
    "public_url": "https://wirework.example.com",
    "cookie_secure": True,
    "secret_key": "p" * 40,
}


def _production(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(**{**SAFE, "data_dir": tmp_path, **changes})


def test_a_safe_production_set_up_starts(tmp_path: Path) -> None:
    assert _production(tmp_path).production_problems() == []
    postgres_workers = _production(
        tmp_path, database_url="postgresql://db/wirework", broker_url="redis://redis:6379/0"
    )
    assert postgres_workers.production_problems() == []


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"public_url": ""}, "set WIREWORK_PUBLIC_URL"),
        ({"cookie_secure": False}, "set WIREWORK_COOKIE_SECURE=true"),
        ({"broker_url": "redis://redis:6379/0"}, "SQLite serves one process"),
        ({"broker_url": "amqp://rabbit/", "database_url": "sqlite:///x.db"}, "SQLite serves one process"),
        ({"secret_key": "short"}, "at least 32 characters"),
    ],
)
def test_production_refuses(tmp_path: Path, changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        _production(tmp_path, **changes)
    Settings(**{**SAFE, "env": "development", "data_dir": tmp_path, **changes})  # development allows it


def test_http_public_url_needs_no_secure_cookie(tmp_path: Path) -> None:
    assert _production(tmp_path, public_url="http://wirework.internal", cookie_secure=False)


def test_a_key_file_others_can_read_is_refused_in_production_and_tightened_elsewhere(
    tmp_path: Path,
) -> None:
    key = tmp_path / "secret.key"
    key.write_text("k" * 48 + "\n")
    key.chmod(0o644)
    production = _production(tmp_path, secret_key="")
    with pytest.raises(VaultError, match="readable by other users"):
        production.vault_keys()
    assert _production(tmp_path, env="development", secret_key="").vault_keys()[0] == "k" * 48
    assert key.stat().st_mode & 0o777 == 0o600
    assert production.vault_keys()[0] == "k" * 48  # now private, production accepts it


@pytest.fixture
async def production_client(tmp_path: Path, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(_production(tmp_path), db=db)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://wirework.example.com") as client,
    ):
        yield client


async def test_api_docs_are_not_public_in_production(production_client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await production_client.get(path)).status_code == 404, path
    assert (await production_client.get("/healthz")).status_code == 200


async def test_api_docs_can_be_made_public_in_production(tmp_path: Path, db: Database) -> None:
    app = create_app(_production(tmp_path, public_docs=True), db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_the_first_account_is_not_made_over_http_in_production(
    production_client: httpx.AsyncClient,
) -> None:
    """Whoever reaches a new production instance first would become its admin."""
    response = await production_client.post(
        "/api/v1/auth/signup",
        json={"email": "first@example.com", "username": "first", "password": "long-enough-pw"},
    )
    assert response.status_code == 403
    assert "wirework user create --admin" in response.json()["detail"]
