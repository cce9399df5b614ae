"""Fixtures of the bots tests: an organization with an echo bot, and the app on a real port
(for the web-chat socket)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support.accounts import Account, signup
from tests.support.workflows import chain, create, node
from wirework.bots.webchat import MAX_FRAME

ECHO = chain(
    node("t", "chat.trigger"),
    node("r", "chat.reply", {"text": "You said: {{ json.text }}"}),
)


@dataclass
class BotSetup:
    who: Account
    bot: dict[str, Any]
    workflow_id: str

    @property
    def id(self) -> str:
        return str(self.bot["id"])


async def make_bot(
    client: httpx.AsyncClient,
    who: Account,
    definition: dict[str, Any] | None = None,
    **fields: Any,
) -> BotSetup:
    workflow_id = await create(client, who, definition or ECHO, name="dialog")
    body = {"name": "Echo", "dialog_workflow_id": workflow_id, **fields}
    response = await client.post("/api/v1/bots", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return BotSetup(who, response.json(), workflow_id)


async def say(
    client: httpx.AsyncClient, setup: BotSetup, text: str, wait_s: float = 10, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/bots/{setup.id}/messages",
        json={"text": text, "wait_s": wait_s, **extra},
        headers=setup.who.headers,
    )


@pytest.fixture
async def ann(client: httpx.AsyncClient) -> Account:
    return await signup(client, "ann")


@pytest.fixture
async def echo(client: httpx.AsyncClient, ann: Account) -> BotSetup:
    return await make_bot(client, ann)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` (its lifespan run elsewhere, or not needed) served on a real port: host:port."""
    port = _free_port()
    # As `wirework serve` runs it: X-Forwarded-For only through the app's trusted proxies (uvicorn's
    # own default believes it from 127.0.0.1), frames bounded as the chat bounds them.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        proxy_headers=False,
        ws_max_size=MAX_FRAME,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


@pytest.fixture
async def live(app: Any, client: httpx.AsyncClient) -> AsyncIterator[str]:
    """The test's app (lifespan already running through `client`) served on a real port."""
    async with serving(app) as address:
        yield address
