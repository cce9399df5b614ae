"""Login limits: per address and per account, shared by every server, with a back-off that a
third party cannot turn into a lock, and client addresses believed only from trusted proxies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.support.accounts import PASSWORD, signup
from tests.support.apps import another_server, client_of
from tests.support.server import running_server
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.security.ratelimit import FREE_FAILURES
from wirework.settings import Settings

LOGIN = "/api/v1/auth/login"


async def login(client: httpx.AsyncClient, who: str, password: str, **headers: str) -> httpx.Response:
    return await client.post(LOGIN, json={"login": who, "password": password}, headers=headers)


async def test_two_servers_share_the_address_and_account_limits(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    await signup(client, "alice")
    async with another_server(settings, db) as (_, other):
        # Failures spread over both servers, one account each: the address limit counts them all.
        for n in range(settings.login_max_attempts):
            server = client if n % 2 else other
            assert (await login(server, f"nobody{n}", "wrong-pass")).status_code == 401
        for server in (client, other):
            refused = await login(server, "alice", PASSWORD)
            assert refused.status_code == 429, refused.text
            assert "from this address" in refused.json()["detail"]


async def test_an_accounts_back_off_holds_on_another_server(settings: Settings, db: Database) -> None:
    async with (
        another_server(settings, db, peer="10.1.1.1") as (_, first),
        another_server(settings, db, peer="10.1.1.2") as (_, second),
    ):
        await signup(first, "alice")
        for _ in range(FREE_FAILURES + 1):  # the last makes the account wait a second
            assert (await login(first, "alice", "wrong-pass")).status_code == 401
        refused = await login(second, "alice", PASSWORD)  # at once, elsewhere: still waiting
        assert refused.status_code == 429
        assert "for this account" in refused.json()["detail"]


async def test_an_attacker_cannot_keep_the_right_password_out(app: Any, settings: Settings) -> None:
    """Failures from the attacker's address make alice wait a few seconds, not the window; the
    attacker's tries while she waits count for nothing; then her password passes."""
    settings.login_backoff_max_seconds = 2
    async with (
        app.router.lifespan_context(app),
        client_of(app, "203.0.113.66") as attacker,
        client_of(app, "198.51.100.7") as alice,
    ):
        await signup(alice, "alice")
        for _ in range(3 * settings.login_max_attempts):
            assert (await login(attacker, "alice", "guess")).status_code in (401, 429)
        refused = await login(alice, "alice", PASSWORD)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= settings.login_backoff_max_seconds
        await asyncio.sleep(wait)
        assert (await login(alice, "alice", PASSWORD)).status_code == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(settings: Settings, db: Database) -> None:
    async def fail_from(client: httpx.AsyncClient, claimed: str, n: int) -> None:
        for i in range(n):
            response = await login(client, f"ghost{claimed}{i}", "wrong-pass", **{"X-Forwarded-For": claimed})
            assert response.status_code == 401, response.text

    # No trusted proxy (the default): the header is ignored, the peer is the client.
    app = create_app(settings, db=db)
    async with app.router.lifespan_context(app), client_of(app, "192.0.2.10") as peer:
        await fail_from(peer, "1.1.1.1", settings.login_max_attempts)
        spoofed = await login(peer, "x", "y", **{"X-Forwarded-For": "2.2.2.2"})  # a new address, it claims
        assert spoofed.status_code == 429

    # Behind a trusted proxy, the address it forwards is the client.
    trusting = settings.model_copy(update={"trusted_proxies": "192.0.2.0/24"})
    app = create_app(trusting, db=db)
    async with app.router.lifespan_context(app), client_of(app, "192.0.2.20") as proxy:
        await fail_from(proxy, "3.3.3.3", settings.login_max_attempts)
        assert (await login(proxy, "x", "y", **{"X-Forwarded-For": "3.3.3.3"})).status_code == 429
        assert (await login(proxy, "x", "y", **{"X-Forwarded-For": "4.4.4.4"})).status_code == 401
        # A client cannot prepend its own choice: the proxy appends the real one.
        chained = await login(proxy, "x", "y", **{"X-Forwarded-For": "4.4.4.4, 3.3.3.3"})
        assert chained.status_code == 429


def test_wirework_serve_ignores_forwarded_for_from_local_peers(tmp_path: Path) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; `wirework serve` does not."""
    with running_server(tmp_path, WIREWORK_LOG_LEVEL="WARNING") as (url, _):
        for n in range(10):
            response = httpx.post(
                f"{url}{LOGIN}",
                json={"login": f"ghost{n}", "password": "wrong-pass"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            assert response.status_code == 401, response.text
        assert httpx.post(f"{url}{LOGIN}", json={"login": "x", "password": "y"}).status_code == 429
