"""GET /api/v1/auth/status: public, says only whether the instance has an account yet."""

from __future__ import annotations

import httpx

from tests.support.accounts import signup


async def test_status_says_whether_anyone_can_log_in_yet_and_nothing_else(client: httpx.AsyncClient) -> None:
    fresh = await client.get("/api/v1/auth/status")
    assert fresh.status_code == 200 and fresh.json() == {"has_users": False}
    await signup(client, "alice")
    later = await client.get("/api/v1/auth/status")
    assert later.status_code == 200 and later.json() == {"has_users": True}
