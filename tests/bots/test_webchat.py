"""Public web chat over a real socket: a visitor holds a conversation, comes back to it, never
sees another visitor's; the chat is off unless enabled, bounded by origin, size and flood."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any

import httpx
import websockets

from tests.bots.conftest import BotSetup, make_bot, serving
from tests.support.accounts import Account
from wirework.app import create_app
from wirework.bots import webchat
from wirework.db.engine import Database
from wirework.settings import Settings


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


async def _outcome(socket: Any, text: str) -> dict[str, Any]:
    """Send a message; its `stored` or `error` frame."""
    await socket.send(json.dumps({"type": "message", "text": text}))
    async with asyncio.timeout(10):
        while True:
            data = json.loads(await socket.recv())
            if data["type"] in ("stored", "error"):
                return dict(data)


async def _user_messages(client: httpx.AsyncClient, echo: BotSetup) -> list[str]:
    url = f"/api/v1/messages?bot_id={echo.id}&role=user"
    return [m["content"] for m in (await client.get(url, headers=echo.who.headers)).json()["items"]]


async def test_one_address_cannot_flood_by_changing_visitor_ids(
    client: httpx.AsyncClient, echo: BotSetup, live: str
) -> None:
    """The repro: new visitor ids (the client's choice) each reconnect, 35 messages each, stored
    1,840 messages in 6 s. Messages and new conversations now count per client address; a forged
    X-Forwarded-For changes nothing when no proxy is trusted."""
    public_id = await _enable(client, echo, web_chat_messages_per_ip=5, web_chat_conversations_per_ip=3)
    outcomes = []
    for n in range(4):
        url = f"ws://{live}/chat/{public_id}/socket?visitor={secrets.token_urlsafe(24)}"
        async with websockets.connect(
            url, additional_headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ) as socket:
            await _next(socket, "hello")
            for m in range(2):
                outcomes.append(await _outcome(socket, f"v{n} m{m}"))
    assert [o["type"] for o in outcomes[:5]] == ["stored"] * 5, outcomes
    assert [(o.get("status"), o.get("detail", "").split(" from")[0]) for o in outcomes[5:]] == [
        (429, "Too many messages"),
        (429, "Too many new conversations"),
        (429, "Too many new conversations"),
    ]
    assert sorted(await _user_messages(client, echo)) == ["v0 m0", "v0 m1", "v1 m0", "v1 m1", "v2 m0"]
    sessions = (await client.get(f"/api/v1/sessions?bot_id={echo.id}", headers=echo.who.headers)).json()
    assert len(sessions["items"]) == 3


async def test_behind_a_trusted_proxy_each_forwarded_address_counts_alone(
    client: httpx.AsyncClient, echo: BotSetup, settings: Settings, db: Database
) -> None:
    public_id = await _enable(client, echo, web_chat_messages_per_ip=1)
    proxied = create_app(settings.model_copy(update={"trusted_proxies": "127.0.0.1"}), db=db)
    async with serving(proxied) as address:
        for forwarded in ("198.51.100.1", "198.51.100.2"):
            async with websockets.connect(
                f"ws://{address}/chat/{public_id}/socket", additional_headers={"X-Forwarded-For": forwarded}
            ) as socket:
                await _next(socket, "hello")
                assert (await _outcome(socket, f"from {forwarded}"))["type"] == "stored"
                assert (await _outcome(socket, "again"))["status"] == 429
    assert sorted(await _user_messages(client, echo)) == ["from 198.51.100.1", "from 198.51.100.2"]


async def test_sockets_are_capped_per_address_and_per_process(
    client: httpx.AsyncClient, ann: Account, echo: BotSetup, settings: Settings, db: Database
) -> None:
    """WIREWORK_WEB_CHAT_MAX_SOCKETS_PER_IP bounds one address over all bots (a bot's own setting
    bounded only that bot, and went up to 100,000), WIREWORK_WEB_CHAT_MAX_SOCKETS the process."""
    too_many = {"settings": {"web_chat_enabled": True, "web_chat_sockets_per_ip": 100_000}}
    refused = await client.patch(f"/api/v1/bots/{echo.id}", json=too_many, headers=ann.headers)
    assert refused.status_code == 422 and "web_chat_sockets_per_ip" in refused.text
    first = await _enable(client, echo)
    second = await _enable(client, await make_bot(client, ann))
    async with asyncio.timeout(10):  # sockets of earlier tests in this process are let go
        while webchat.count_sockets():
            await asyncio.sleep(0.05)
    capped = settings.model_copy(
        update={"trusted_proxies": "127.0.0.1", "web_chat_max_sockets_per_ip": 2, "web_chat_max_sockets": 3}
    )
    async with serving(create_app(capped, db=db)) as address, contextlib.AsyncExitStack() as held:

        def connect(public_id: str, forwarded: str) -> Any:
            url = f"ws://{address}/chat/{public_id}/socket"
            return websockets.connect(url, additional_headers={"X-Forwarded-For": forwarded})

        for public_id in (first, second):  # one address, two bots
            await _next(await held.enter_async_context(connect(public_id, "198.51.100.1")), "hello")
        with _closed_with(4429):  # a third window from it, to either bot
            async with connect(first, "198.51.100.1") as third:
                await third.recv()
        await _next(await held.enter_async_context(connect(first, "198.51.100.2")), "hello")
        assert webchat.count_sockets() == 3
        with _closed_with(1013):  # the process holds its most
            async with connect(second, "198.51.100.3") as fourth:
                await fourth.recv()


async def test_visitors_see_the_bot_as_sender_and_send_their_id_in_a_header(
    client: httpx.AsyncClient, echo: BotSetup, live: str
) -> None:
    """An operator's login name is not shown to anonymous visitors (staff still see it); the widget's
    visitor id travels as a subprotocol, not in the URL; NUL and lone surrogates are refused."""
    public_id = await _enable(client, echo)
    url = f"ws://{live}/chat/{public_id}/socket"
    async with websockets.connect(url, subprotocols=["wirework.chat"]) as socket:  # type: ignore[list-item]
        assert socket.subprotocol == "wirework.chat"
        visitor = (await _next(socket, "hello"))["visitor_id"]
        assert (await _outcome(socket, "hi"))["type"] == "stored"
        assert await _texts(socket, 2) == ["Welcome!", "You said: hi"]
        sessions = (await client.get(f"/api/v1/sessions?bot_id={echo.id}", headers=echo.who.headers)).json()
        session_id = sessions["items"][0]["id"]
        operator = await client.post(
            f"/api/v1/sessions/{session_id}/messages",
            json={"text": "A person here"},
            headers=echo.who.headers,
        )
        assert operator.status_code == 201 and operator.json()["sender"] == "ann"
        pushed = (await _next(socket, "message"))["message"]
        assert (pushed["content"], pushed["sender"]) == ("A person here", "Echo")
        for bad in (r"a\u0000b", r"\ud800"):  # JSON escapes: the socket decodes them
            await socket.send('{"type": "message", "text": "' + bad + '"}')
            refused = await _next(socket, "error")
            assert refused["status"] == 400 and "NUL" in refused["detail"]

    async with websockets.connect(url, subprotocols=["wirework.chat", f"visitor.{visitor}"]) as socket:  # type: ignore[list-item]
        hello = await _next(socket, "hello")
        assert hello["visitor_id"] == visitor
        assert [(m["content"], m["sender"]) for m in hello["history"] if m["role"] != "user"] == [
            ("Welcome!", "Echo"),
            ("You said: hi", "Echo"),
            ("A person here", "Echo"),
        ]
    assert await _user_messages(client, echo) == ["hi"]


class _closed_with:
    def __init__(self, code: int) -> None:
        self.code = code

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, _: Any) -> bool:
        assert isinstance(error, websockets.ConnectionClosed), error
        assert error.rcvd is not None and error.rcvd.code == self.code, error
        return True
