"""Public web chat: the embeddable widget (`/chat/widget.js`, `/chat/widget.css`), the hosted
chat page (`/chat/{public_id}`) and the socket they talk through (`/chat/{public_id}/socket`).

Public entry points, so they are bounded: a bot must have web chat switched on; its
`web_chat_origins` (if any) are the only sites whose pages may open the socket (a browser
sends its page's Origin; other clients can send anything, so it is no authentication);
a frame is at most `MAX_FRAME` bytes (`wirework serve` gives uvicorn the same `ws_max_size`,
so a larger frame is refused as its header arrives, not after buffering 16 MB) and a message at
most the bot's `max_message_length`; a visitor's flood is refused by `bots.service.receive`.

The visitor id is the client's choice, so the limits that stop a flood count client addresses
(`request.client`, which believes X-Forwarded-For only from WIREWORK_TRUSTED_PROXIES):
- sockets, in this process: `WIREWORK_WEB_CHAT_MAX_SOCKETS` in all, and per address
  `WIREWORK_WEB_CHAT_MAX_SOCKETS_PER_IP` over all bots and the bot's `web_chat_sockets_per_ip`;
- messages per address and bot (`web_chat_messages_per_ip` in `flood_window_s`) and new
  conversations per address and bot (`web_chat_conversations_per_ip` an hour): fixed windows
  of `security.ratelimit`, in the `rate_limits` table shared by every server process on
  PostgreSQL and MySQL/MariaDB, in this process's memory on SQLite (one process serves there),
  as the webhook limits.

A socket sees only its own visitor's conversation: the visitor id (random, kept by the visitor's
browser) is the key to it. The widget sends it as a WebSocket subprotocol (`visitor.<id>`, next to
`wirework.chat`), a header, so it stays out of URLs that proxies log; `?visitor=` is read too.
Visitors see the bot's name as the sender of every reply, an operator's too.

The hosted page is a static shell on the app's origin with the app's strict policy (scripts
and styles only from the app's files, no inline script): bot names and messages are put in
the page as text, never as HTML, and the page itself calls no API.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import Any, Final

import structlog
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from wirework.bots import service
from wirework.bots.models import Bot, Message, UserSession
from wirework.bots.schemas import InboundMessage
from wirework.engine import executions
from wirework.errors import NotFound
from wirework.security.ratelimit import Counter, MemoryCounter

log = structlog.get_logger("wirework.webchat")

STATIC = Path(__file__).resolve().parent.parent / "web" / "chat"
MAX_FRAME: Final = 128 * 1024
"""Bytes of one socket frame: a message of 20,000 characters (the most `max_message_length`
allows) of 4-byte UTF-8, in JSON, fits."""
PROTOCOL: Final = "wirework.chat"
CONVERSATION_WINDOW_S: Final = 3600
HISTORY: Final = 50
_VISITOR = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

router = APIRouter(include_in_schema=False)
_sockets_by_ip: dict[tuple[uuid.UUID, str], int] = {}  # (bot, address): open sockets in this process
_sockets_by_address: dict[str, int] = {}  # address: open sockets of all bots in this process
_memory_counter = MemoryCounter()

_PUBLIC_STATIC = {
    "Cache-Control": "public, max-age=300",
    "Access-Control-Allow-Origin": "*",  # the widget runs on other sites
    "Cross-Origin-Resource-Policy": "cross-origin",
}


@router.get("/chat/widget.js")
async def widget_js() -> Response:
    return FileResponse(STATIC / "widget.js", media_type="text/javascript", headers=_PUBLIC_STATIC)


@router.get("/chat/widget.css")
async def widget_css() -> Response:
    return FileResponse(STATIC / "widget.css", media_type="text/css", headers=_PUBLIC_STATIC)


async def _public_bot(db: Any, public_id: str) -> Any:
    """A bot whose web chat is on, by its public id; None otherwise (a 404 either way)."""
    if len(public_id) > 32:
        return None
    row = await executions.read(
        db,
        lambda c: c.execute(
            select(
                Bot.id, Bot.org_id, Bot.name, Bot.avatar_url, Bot.welcome_message, Bot.is_active, Bot.settings
            ).where(Bot.public_id == public_id)
        ).first(),
    )
    if row is None or not row.is_active or not service.bot_settings(row.settings).web_chat_enabled:
        return None
    return row


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/chat/widget.css">
<script src="/chat/widget.js" data-bot="{public_id}" data-mode="page" defer></script>
</head><body class="ww-page"><noscript>This chat needs JavaScript.</noscript></body></html>
"""


@router.get("/chat/{public_id}")
async def hosted_page(public_id: str, request: Request) -> Response:
    bot = await _public_bot(request.app.state.db, public_id)
    if bot is None:
        raise NotFound("No chat here: the bot does not exist or its web chat is off.")
    page = _PAGE.format(title=html.escape(bot.name), public_id=html.escape(public_id))
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    origin = websocket.headers.get("origin")
    if not allowed or origin is None:  # no browser page (a script), or any site may embed it
        return True
    own = f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{websocket.headers.get('host', '')}"
    return origin.rstrip("/") in {o.rstrip("/") for o in allowed} | {own}


def _chat_key(visitor: str) -> str:
    return service.chat_key("web", None, visitor, visitor)


async def _open_session(db: Any, bot_id: uuid.UUID, visitor: str) -> Any:
    return await executions.read(
        db,
        lambda c: c.execute(
            select(UserSession.id, UserSession.org_id, UserSession.expires_at).where(
                UserSession.bot_id == bot_id,
                UserSession.open_chat_key == _chat_key(visitor),
            )
        ).first(),
    )


async def _history(db: Any, session_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await executions.read(
        db,
        lambda c: c.execute(
            select(Message.__table__)
            .where(Message.session_id == session_id)
            .order_by(Message.id.desc())
            .limit(HISTORY)
        ).all(),
    )
    return [service.message_dict(r) for r in reversed(rows)]


def _public(message: dict[str, Any], bot_name: str) -> dict[str, Any]:
    """What a visitor sees of a message: no delivery internals, and the bot as the sender of
    every reply (an operator's login name is not the visitor's business)."""
    seen = {k: message[k] for k in ("id", "role", "content", "created_at")}
    seen["sender"] = message["sender"] if message["role"] == "user" else bot_name
    return seen


def _counter(websocket: WebSocket) -> Counter:
    """Where the address limits count (see the module docstring)."""
    if websocket.app.state.db.dialect == "sqlite":
        return _memory_counter
    counter: Counter = websocket.app.state.limits
    return counter


def _visitor_of(websocket: WebSocket) -> str:
    for offered in websocket.scope.get("subprotocols") or ():
        if offered.startswith("visitor."):
            return str(offered[len("visitor.") :])
    return websocket.query_params.get("visitor") or ""


@router.websocket("/chat/{public_id}/socket")
async def chat_socket(websocket: WebSocket, public_id: str) -> None:
    # Accept first, then refuse with a close code: a browser shows its page a code, never an
    # HTTP status.
    db = websocket.app.state.db
    settings = websocket.app.state.settings
    offered = websocket.scope.get("subprotocols") or ()
    await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    address = websocket.client.host if websocket.client else "?"
    if count_sockets() >= settings.web_chat_max_sockets:  # before any database work
        await websocket.close(code=1013, reason="the chat server is busy; try again later")
        return
    if _sockets_by_address.get(address, 0) >= settings.web_chat_max_sockets_per_ip:
        await websocket.close(code=4429, reason="too many chat windows open from this address")
        return
    # Counted from here, before the first await: sockets opening at once cannot pass the caps.
    _sockets_by_address[address] = _sockets_by_address.get(address, 0) + 1
    try:
        await _open(websocket, db, public_id, address)
    finally:
        _release(_sockets_by_address, address)


async def _open(websocket: WebSocket, db: Any, public_id: str, address: str) -> None:
    bot = await _public_bot(db, public_id)
    if bot is None:
        await websocket.close(code=4404, reason="no such chat")
        return
    limits = service.bot_settings(bot.settings)
    if not _origin_allowed(websocket, limits.web_chat_origins):
        await websocket.close(code=4403, reason="this site may not embed the chat")
        return
    ip = (bot.id, address)
    if _sockets_by_ip.get(ip, 0) >= limits.web_chat_sockets_per_ip:
        await websocket.close(code=4429, reason="too many chat windows open from this address")
        return
    _sockets_by_ip[ip] = _sockets_by_ip.get(ip, 0) + 1
    try:
        await _converse(websocket, db, bot, limits, address)
    except WebSocketDisconnect:
        pass
    finally:
        _release(_sockets_by_ip, ip)


def _release(counts: dict[Any, int], key: Any) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


async def _send(websocket: WebSocket, payload: dict[str, Any]) -> None:
    if websocket.client_state == WebSocketState.CONNECTED:
        await websocket.send_text(json.dumps(payload, default=str))


async def _refuse(websocket: WebSocket, wait_s: int, what: str, client_id: str | None) -> None:
    detail = f"Too many {what} from your address; try again in {wait_s} s."
    log.info("web_chat_refused", reason=detail)
    await _send(websocket, {"type": "error", "status": 429, "detail": detail, "id": client_id})


async def _converse(websocket: WebSocket, db: Any, bot: Any, limits: Any, address: str) -> None:
    visitor = _visitor_of(websocket)
    if not _VISITOR.match(visitor):
        visitor = secrets.token_urlsafe(24)
    found = await _open_session(db, bot.id, visitor)
    await _send(
        websocket,
        {
            "type": "hello",
            "visitor_id": visitor,
            "bot": {"name": bot.name, "avatar_url": bot.avatar_url, "welcome_message": bot.welcome_message},
            "max_message_length": limits.max_message_length,
            "history": [_public(m, bot.name) for m in await _history(db, found.id)] if found else [],
        },
    )
    streamer: asyncio.Task[None] | None = None
    streaming: uuid.UUID | None = None

    async def stream(session_id: uuid.UUID, after: uuid.UUID | None) -> None:
        async for message in service.stream_session(db, bot.org_id, session_id, after, partials=True):
            if message.get("type") == "partial":  # an AI answer being written (ai.chat streaming)
                await _send(websocket, message)
            else:
                await _send(websocket, {"type": "message", "message": _public(message, bot.name)})

    if found is not None:
        last = await executions.read(
            db,
            lambda c: c.execute(
                select(Message.id).where(Message.session_id == found.id).order_by(Message.id.desc()).limit(1)
            ).scalar_one_or_none(),
        )
        streaming, streamer = found.id, asyncio.create_task(stream(found.id, last))
    counter = _counter(websocket)
    try:
        while True:
            raw = await websocket.receive_text()
            if len(raw) > MAX_FRAME:
                await websocket.close(code=1009, reason="message too big")
                return
            try:
                data = json.loads(raw)
            except ValueError:
                await _send(websocket, {"type": "error", "status": 400, "detail": "Send JSON."})
                continue
            if (
                not isinstance(data, dict)
                or data.get("type") != "message"
                or not isinstance(data.get("text"), str)
            ):
                await _send(
                    websocket,
                    {"type": "error", "status": 400, "detail": 'Send {"type": "message", "text": …}.'},
                )
                continue
            client_id = data.get("id")
            client_id = client_id if isinstance(client_id, str) and _CLIENT_ID.match(client_id) else None
            if streaming is None:  # this message may open a conversation
                wait = await counter.hit(
                    f"chat-new:{bot.id}:{address}",
                    limits.web_chat_conversations_per_ip,
                    CONVERSATION_WINDOW_S,
                )
                if wait:
                    await _refuse(websocket, wait, "new conversations", client_id)
                    continue
            wait = await counter.hit(
                f"chat:{bot.id}:{address}", limits.web_chat_messages_per_ip, limits.flood_window_s
            )
            if wait:
                await _refuse(websocket, wait, "messages", client_id)
                continue
            try:
                received = await service.receive(
                    db,
                    platform_bot=None,
                    bot_id=bot.id,
                    org_id=bot.org_id,
                    inbound=InboundMessage(
                        channel="web",
                        platform_message_id=f"{visitor}:{client_id}" if client_id else None,
                        chat_id=visitor,
                        chat_name=None,
                        chat_kind="direct",
                        user_id=visitor,
                        user_name=None,
                        text=data["text"],
                    ),
                    visitor_id=visitor,
                )
            except service.Refused as refused:
                await _send(
                    websocket,
                    {"type": "error", "status": refused.status, "detail": refused.reason, "id": client_id},
                )
                continue
            await _send(
                websocket,
                {
                    "type": "stored",
                    "id": client_id,
                    "message_id": str(received.message_id),
                    "duplicate": received.duplicate,
                },
            )
            if received.session_id is not None and received.session_id != streaming:
                if streamer is not None:
                    streamer.cancel()
                # From just before this message: the welcome of a new conversation comes too.
                streaming = received.session_id
                streamer = asyncio.create_task(stream(received.session_id, received.message_id))
            if received.routed_to in ("dialog", "command", "answer"):
                await _send(websocket, {"type": "typing"})
    finally:
        if streamer is not None:
            streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await streamer


def count_sockets() -> int:
    """Open chat sockets in this process (for the limit, the benchmark and tests)."""
    return sum(_sockets_by_address.values())
