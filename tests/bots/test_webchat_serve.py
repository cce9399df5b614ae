"""`wirework serve` bounds web-chat frames in uvicorn itself: a frame past the chat's `MAX_FRAME`
is refused as its header arrives, instead of being read whole (up to uvicorn's default 16 MB)
before the chat's own check closes the socket."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import websockets

from tests.bots.conftest import make_bot
from tests.support.accounts import signup
from tests.support.server import running_server
from wirework.bots.webchat import MAX_FRAME


async def test_serve_refuses_a_frame_past_the_chat_bound_in_the_server(tmp_path: Path) -> None:
    with running_server(tmp_path) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            ann = await signup(client, "ann")
            setup = await make_bot(client, ann, settings={"web_chat_enabled": True})
        socket_url = f"ws{url[4:]}/chat/{setup.bot['public_id']}/socket"
        async with websockets.connect(socket_url, max_size=None) as socket:
            assert json.loads(await socket.recv())["type"] == "hello"
            await socket.send(json.dumps({"type": "message", "text": "x" * MAX_FRAME}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
        received = closed.value.rcvd
        assert received is not None and received.code == 1009
        # uvicorn's refusal, not the chat's own check ("message too big"), which comes only after
        # the whole frame was read.
        assert received.reason != "message too big", received
