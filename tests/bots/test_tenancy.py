"""Another organization's bots, conversations, messages and memories are 404, never a hint."""

from __future__ import annotations

import httpx

from tests.bots.conftest import BotSetup, say
from tests.support.accounts import signup
from wirework.settings import Settings


async def test_another_organization_sees_nothing(
    client: httpx.AsyncClient, echo: BotSetup, settings: Settings
) -> None:
    settings.open_signup = True  # eve signs up into an organization of her own
    session_id = (await say(client, echo, "secret")).json()["session_id"]
    await client.put(f"/api/v1/bots/{echo.id}/memories/k", json={"value": 1}, headers=echo.who.headers)
    eve = await signup(client, "eve")
    h = eve.headers
    bot = f"/api/v1/bots/{echo.id}"
    session = f"/api/v1/sessions/{session_id}"
    for method, url, body in [
        ("GET", bot, None),
        ("PATCH", bot, {"name": "mine"}),
        ("DELETE", bot, None),
        ("GET", f"{bot}/config", None),
        ("PUT", f"{bot}/config", []),
        ("GET", f"{bot}/config.csv", None),
        ("GET", f"{bot}/memories", None),
        ("PUT", f"{bot}/memories/k", {"value": 2}),
        ("DELETE", f"{bot}/memories/k", None),
        ("POST", f"{bot}/messages", {"text": "hi"}),
        ("GET", session, None),
        ("GET", f"{session}/messages", None),
        ("POST", f"{session}/takeover", None),
        ("DELETE", f"{session}/takeover", None),
        ("POST", f"{session}/messages", {"text": "I am the bot now"}),
        ("POST", f"{session}/close", None),
    ]:
        response = await client.request(method, url, json=body, headers=h)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
    for url in (
        "/api/v1/bots",
        "/api/v1/sessions",
        "/api/v1/messages",
        f"/api/v1/messages?session_id={session_id}",
    ):
        assert (await client.get(url, headers=h)).json()["items"] == [], url
    # Eve cannot point her bot at Ann's workflow either.
    refused = await client.post(
        "/api/v1/bots", json={"name": "x", "dialog_workflow_id": echo.workflow_id}, headers=h
    )
    assert refused.status_code == 422
    # And Ann's data is untouched.
    assert (await client.get(bot, headers=echo.who.headers)).json()["name"] == "Echo"
    memories = (await client.get(f"{bot}/memories", headers=echo.who.headers)).json()["items"]
    assert [(m["key"], m["value"]) for m in memories] == [("k", 1)]


async def test_viewers_read_but_do_not_change(client: httpx.AsyncClient, echo: BotSetup) -> None:
    from tests.support.accounts import signup_invited

    viewer = await signup_invited(client, echo.who, "vic", role="viewer")
    assert (await client.get(f"/api/v1/bots/{echo.id}", headers=viewer.headers)).status_code == 200
    for method, url, body in [
        ("PATCH", f"/api/v1/bots/{echo.id}", {"name": "x"}),
        ("POST", f"/api/v1/bots/{echo.id}/messages", {"text": "hi"}),
        ("PUT", f"/api/v1/bots/{echo.id}/memories/k", {"value": 1}),
    ]:
        response = await client.request(method, url, json=body, headers=viewer.headers)
        assert response.status_code == 403, (method, url, response.text)
