"""A local server that plays the chat platforms' APIs as they speak them (Telegram Bot API, Slack Web
API, Discord REST, WhatsApp Cloud API / Graph, and a service receiving the generic webhook channel's
replies), on a free loopback port with uvicorn. It checks each caller's credentials the way the
platform does, records what it was sent, and can answer the next calls with the platform's own
rate-limit answer."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.server import free_port

TELEGRAM_TOKEN = "123456789:AAEfakeTelegramToken_0123456789abcdef"
SLACK_TOKEN = "xoxb-1111-2222-fakeSlackToken"
DISCORD_TOKEN = "ODk5.fake.DiscordBotToken"
WHATSAPP_TOKEN = "EAAGfakeWhatsAppAccessToken"
WHATSAPP_PHONE_ID = "106540352242922"
GRAPH_VERSION = "v21.0"


@dataclass
class Sent:
    platform: str
    chat_id: str
    text: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FakePlatforms:
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    throttle: dict[str, int] = field(default_factory=dict)
    """platform → how many of its next sends answer 429."""
    retry_after: float = 1
    webhook_answer: int = 200
    registered: dict[str, Any] = field(default_factory=dict)
    _ids: count[int] = field(default_factory=lambda: count(1000))

    def texts(self, platform: str) -> list[str]:
        return [s.text for s in self.sent if s.platform == platform]

    def _throttled(self, platform: str) -> bool:
        if self.throttle.get(platform, 0) > 0:
            self.throttle[platform] -= 1
            return True
        return False

    # Telegram: POST /bot<token>/<method>; errors are {"ok": false, "error_code", "description"}.
    async def telegram(self, request: Request) -> Response:
        token, method = request.path_params["token"], request.path_params["method"]
        self.calls.append(f"telegram {method}")
        if token != TELEGRAM_TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        payload = await request.json() if await request.body() else {}
        if method == "getMe":
            result = {"id": 123456789, "is_bot": True, "first_name": "Fake", "username": "fake_wirework_bot"}
            return JSONResponse({"ok": True, "result": result})
        if method == "setWebhook":
            self.registered["telegram"] = payload
            return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})
        if method != "sendMessage":
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if self._throttled("telegram"):
            wait = int(self.retry_after)
            return JSONResponse(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {wait}",
                    "parameters": {"retry_after": wait},
                },
                429,
            )
        if str(payload.get("chat_id")) == "403":
            return JSONResponse(
                {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, 403
            )
        self.sent.append(Sent("telegram", str(payload["chat_id"]), payload["text"], dict(request.headers)))
        chat = {"id": int(payload["chat_id"]), "type": "private"}
        message = {"message_id": next(self._ids), "date": 1700000000, "chat": chat, "text": payload["text"]}
        return JSONResponse({"ok": True, "result": message})

    # Slack Web API: POST /api/<method>, Authorization: Bearer xoxb-…; 429 with Retry-After.
    async def slack(self, request: Request) -> Response:
        method = request.path_params["method"]
        self.calls.append(f"slack {method}")
        if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        payload = await request.json() if await request.body() else {}
        if method == "auth.test":
            return JSONResponse(
                {"ok": True, "url": "https://fake.slack.com/", "team": "Fake Team", "user": "wirework",
                 "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0BOT"}
            )  # fmt: skip
        if method != "chat.postMessage":
            return JSONResponse({"ok": False, "error": "unknown_method"}, 404)
        if self._throttled("slack"):
            return JSONResponse(
                {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": f"{self.retry_after:g}"}
            )
        if payload.get("channel") == "C_MISSING":
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        self.sent.append(Sent("slack", payload["channel"], payload["text"], dict(request.headers)))
        ts = f"1700000000.{next(self._ids):06d}"
        return JSONResponse(
            {"ok": True, "channel": payload["channel"], "ts": ts, "message": {"text": payload["text"]}}
        )

    # Discord REST: Authorization: Bot <token>; 429 {"message", "retry_after", "global"} + Retry-After.
    async def discord_message(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        self.calls.append("discord create message")
        if request.headers.get("authorization") != f"Bot {DISCORD_TOKEN}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, 401)
        if self._throttled("discord"):
            body = {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": False,
            }
            return JSONResponse(body, 429, {"Retry-After": f"{self.retry_after:g}"})
        payload = await request.json()
        self.sent.append(Sent("discord", channel_id, payload["content"], dict(request.headers)))
        return JSONResponse(
            {"id": str(next(self._ids)), "channel_id": channel_id, "content": payload["content"]}
        )

    async def discord_me(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bot {DISCORD_TOKEN}":
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, 401)
        return JSONResponse({"id": "899", "username": "wirework-bot", "bot": True})

    # WhatsApp Cloud API (Graph): Bearer token; errors {"error": {"message", "type", "code", ...}}.
    async def whatsapp(self, request: Request) -> Response:
        phone, version = request.path_params["phone"], request.path_params["version"]
        self.calls.append(f"whatsapp {request.method}")
        if request.headers.get("authorization") != f"Bearer {WHATSAPP_TOKEN}":
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            return JSONResponse({"error": error}, 401)
        if phone != WHATSAPP_PHONE_ID or version != GRAPH_VERSION:
            return JSONResponse(
                {"error": {"message": "Unknown path", "type": "GraphMethodException", "code": 100}}, 400
            )
        if request.method == "GET":
            return JSONResponse(
                {"display_phone_number": "15550783881", "verified_name": "Fake Shop", "id": phone}
            )
        if self._throttled("whatsapp"):
            error = {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}
            return JSONResponse({"error": error}, 429, {"Retry-After": f"{self.retry_after:g}"})
        payload = await request.json()
        self.sent.append(Sent("whatsapp", payload["to"], payload["text"]["body"], dict(request.headers)))
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": f"wamid.FAKE{next(self._ids)}"}],
            }
        )

    # A service receiving the generic webhook channel's replies.
    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.calls.append("webhook reply")
        if self._throttled("webhook"):
            return Response(status_code=429, headers={"Retry-After": f"{self.retry_after:g}"})
        if self.webhook_answer != 200:
            return Response(status_code=self.webhook_answer)
        payload = json.loads(body)
        self.sent.append(Sent("webhook", payload["chat_id"], payload["text"], dict(request.headers), body))
        return JSONResponse({"message_id": f"hook-{next(self._ids)}"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/telegram/bot{token}/{method}", self.telegram, methods=["POST", "GET"]),
                Route("/slack/api/{method}", self.slack, methods=["POST"]),
                Route("/discord/channels/{channel_id}/messages", self.discord_message, methods=["POST"]),
                Route("/discord/users/@me", self.discord_me, methods=["GET"]),
                Route("/graph/{version}/{phone}/messages", self.whatsapp, methods=["POST"]),
                Route("/graph/{version}/{phone}", self.whatsapp, methods=["GET"]),
                Route("/hook", self.hook, methods=["POST"]),
            ]
        )

    def base(self, platform: str) -> str:
        return f"{self.url}/{'graph' if platform == 'whatsapp' else platform}"


@asynccontextmanager
async def fake_platforms() -> AsyncIterator[FakePlatforms]:
    fake = FakePlatforms()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task


@contextmanager
def fake_platforms_in_thread() -> Iterator[FakePlatforms]:
    """The same server on a thread of its own, for tests without an event loop (browser tests)."""
    fake = FakePlatforms()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake platform server did not start")
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- the platforms' side of inbound calls


def telegram_update(
    text: str, *, message_id: int = 1365, chat_id: int = 1111111, is_bot: bool = False
) -> dict[str, Any]:
    """An Update as Telegram posts it for a private message."""
    user = {"id": chat_id, "is_bot": is_bot, "first_name": "Ana", "last_name": "Lima", "username": "analima",
            "language_code": "en"}  # fmt: skip
    chat = {"id": chat_id, "first_name": "Ana", "last_name": "Lima", "username": "analima", "type": "private"}
    message = {"message_id": message_id, "from": user, "chat": chat, "date": 1700000000, "text": text}
    return {"update_id": 10000 + message_id, "message": message}


def telegram_headers(secret_token: str) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": secret_token, "Content-Type": "application/json"}


def slack_event(
    text: str, *, ts: str = "1355517523.000005", channel: str = "D0PNCRP9N", **extra: Any
) -> dict[str, Any]:
    """An event_callback carrying a direct message, as the Events API posts it."""
    event = {"type": "message", "channel": channel, "user": "U2147483697", "text": text, "ts": ts,
             "event_ts": ts, "channel_type": "im", "client_msg_id": "c8a8c1c1-0000-4000-8000-000000000001",
             **extra}  # fmt: skip
    return {"token": "XXYYZZ", "team_id": "T0001", "api_app_id": "A0001", "event": event,
            "type": "event_callback",
            "event_id": f"Ev{ts.replace('.', '')}", "event_time": 1355517523,
            "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": True}]}  # fmt: skip


def slack_headers(signing_secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature,
            "Content-Type": "application/json"}  # fmt: skip


def discord_command(
    name: str, options: list[dict[str, Any]], *, interaction_id: str = "786008729715212338"
) -> dict[str, Any]:
    """An APPLICATION_COMMAND interaction from a guild text channel."""
    user = {"id": "53908232506183680", "username": "mason", "global_name": "Mason", "discriminator": "0"}
    return {"type": 2, "id": interaction_id, "application_id": "775799577604522054",
            "token": "A_UNIQUE_TOKEN",
            "version": 1, "guild_id": "290926798626357999", "channel_id": "645027906669510667",
            "channel": {"id": "645027906669510667", "type": 0, "name": "general"},
            "member": {"user": user, "roles": [], "nick": None},
            "data": {"id": "771825006014889984", "name": name, "type": 1, "options": options},
            "locale": "en-US"}  # fmt: skip


def discord_headers(private_key: Ed25519PrivateKey, body: bytes, timestamp: int) -> dict[str, str]:
    signature = private_key.sign(str(timestamp).encode() + body).hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(timestamp),
            "Content-Type": "application/json"}  # fmt: skip


def discord_keys() -> tuple[Ed25519PrivateKey, str]:
    """A new application key pair: the private key (Discord's) and the public key as the portal shows it."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    return key, public


def whatsapp_notification(
    text: str, *, wamid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEz", sender: str = "16315551234"
) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881", "phone_number_id": WHATSAPP_PHONE_ID},
             "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": sender}],
             "messages": [{"from": sender, "id": wamid, "timestamp": "1603059201", "text": {"body": text},
                           "type": "text"}]}  # fmt: skip
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398",
                       "changes": [{"value": value, "field": "messages"}]}]}  # fmt: skip


def whatsapp_headers(app_secret: str, body: bytes) -> dict[str, str]:
    signature = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}


def webhook_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    signature = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Wirework-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}
