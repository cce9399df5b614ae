"""Public web chat over a real socket: a visitor holds a conversation, comes back to it, never
sees another visitor's; the chat is off unless enabled, bounded by origin, size and flood."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from tests.bots.conftest import BotSetup


async def _enable(client: httpx.AsyncClient, echo: BotSetup, **settings: Any) -> str:
    response = await client.patch(
        f"/api/v1/bots/{echo.id}",
        json={"welcome_message": "Welcome!", "settings": {"web_chat_enabled": True, **settings}},
        headers=echo.who.headers,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["public_id"])


async def _next(socket: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            data = json.loads(await socket.recv())
            if data["type"] == kind:
                return data


async def _texts(socket: Any, count: int) -> list[str]:
    return [(await _next(socket, "message"))["message"]["content"] for _ in range(count)]


async def test_a_visitor_chats_and_comes_back(client: httpx.AsyncClient, echo: BotSetup, live: str) -> None:
    public_id = await _enable(client, echo)
    url = f"ws://{live}/chat/{public_id}/socket"
    async with websockets.connect(url) as socket:
        hello = await _next(socket, "hello")
        assert hello["bot"]["name"] == "Echo" and hello["history"] == []
        visitor = hello["visitor_id"]
        await socket.send(json.dumps({"type": "message", "text": "hi there", "id": "c1"}))
        stored = await _next(socket, "stored")
        assert stored["id"] == "c1" and stored["duplicate"] is False
        assert await _texts(socket, 2) == ["Welcome!", "You said: hi there"]
        await socket.send(json.dumps({"type": "message", "text": "hi there", "id": "c1"}))  # sent again
        assert (await _next(socket, "stored"))["duplicate"] is True

    async with websockets.connect(f"{url}?visitor={visitor}") as socket:  # a reload
        hello = await _next(socket, "hello")
        assert [m["content"] for m in hello["history"]] == ["hi there", "Welcome!", "You said: hi there"]
        await socket.send(json.dumps({"type": "message", "text": "again"}))
        assert await _texts(socket, 1) == ["You said: again"]

    async with websockets.connect(url) as stranger:  # another visitor: a conversation of their own
        hello = await _next(stranger, "hello")
        assert hello["history"] == [] and hello["visitor_id"] != visitor

    sessions = (await client.get(f"/api/v1/sessions?bot_id={echo.id}", headers=echo.who.headers)).json()[
        "items"
    ]
    assert [(s["channel"], s["visitor_id"], s["message_count"]) for s in sessions] == [("web", visitor, 5)]


async def test_web_chat_is_off_unless_enabled_and_bounded(
    client: httpx.AsyncClient, echo: BotSetup, live: str
) -> None:
    public_id = echo.bot["public_id"]
    assert (await client.get(f"/chat/{public_id}")).status_code == 404
    with _closed_with(4404):
        async with websockets.connect(f"ws://{live}/chat/{public_id}/socket") as socket:
            await socket.recv()
    await _enable(
        client, echo, web_chat_origins=["https://shop.example"], max_message_length=10, flood_max_messages=2
    )
    with _closed_with(4403):
        async with websockets.connect(
            f"ws://{live}/chat/{public_id}/socket", origin="https://evil.example"
        ) as socket:
            await socket.recv()
    async with websockets.connect(
        f"ws://{live}/chat/{public_id}/socket", origin="https://shop.example"
    ) as socket:
        await _next(socket, "hello")
        await socket.send(json.dumps({"type": "message", "text": "x" * 11}))
        assert (await _next(socket, "error"))["status"] == 413
        await socket.send("not json")
        assert (await _next(socket, "error"))["status"] == 400
        for n in range(2):
            await socket.send(json.dumps({"type": "message", "text": f"m{n}"}))
            await _next(socket, "stored")
        await socket.send(json.dumps({"type": "message", "text": "flood"}))
        assert (await _next(socket, "error"))["status"] == 429
        await client.patch(
            f"/api/v1/bots/{echo.id}",
            json={"settings": {"web_chat_enabled": True, "web_chat_sockets_per_ip": 1}},
            headers=echo.who.headers,
        )
        with _closed_with(4429):  # this address already holds its one chat window
            async with websockets.connect(f"ws://{live}/chat/{public_id}/socket") as second:
                await second.recv()

    page = await client.get(f"/chat/{public_id}")
    assert page.status_code == 200 and 'data-bot="' + public_id + '"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]  # no inline script runs there
    widget = await client.get("/chat/widget.js")
    assert widget.headers["content-type"].startswith("text/javascript")
    assert widget.headers["access-control-allow-origin"] == "*"


class _closed_with:
    def __init__(self, code: int) -> None:
        self.code = code

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, _: Any) -> bool:
        assert isinstance(error, websockets.ConnectionClosed), error
        assert error.rcvd is not None and error.rcvd.code == self.code, error
        return True
