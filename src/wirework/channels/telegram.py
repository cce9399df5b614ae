"""Telegram Bot API: updates pushed to a webhook, replies through sendMessage.

- **Inbound**: Telegram POSTs an Update (JSON) to the URL given to `setWebhook`; with the
  `secret_token` set there, every delivery carries it in `X-Telegram-Bot-Api-Secret-Token`. A
  missing or different token is 401. Telegram re-delivers an update it got no 2xx for, so messages
  are de-duplicated by `<chat id>:<message id>` (a message id is unique within its chat).
- **Outbound**: `POST {api}/bot<token>/sendMessage` `{chat_id, text}`; a 429 carries
  `parameters.retry_after` (seconds). Texts over 4096 characters are sent as several messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from wirework.channels.base import (
    BadSignature,
    Incoming,
    Outbound,
    Parsed,
    SendFailed,
    SetupField,
    request,
    require,
    same,
)

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
_KINDS = {"private": "direct", "group": "group", "supergroup": "group", "channel": "channel"}


class Telegram:
    name: ClassVar[str] = "telegram"
    display_name: ClassVar[str] = "Telegram"
    fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "bot_token",
            "Bot token",
            "From @BotFather: send /newbot (or /token for an existing bot); it looks like 123456789:AAE…",
        ),
        SetupField(
            "secret_token",
            "Webhook secret token",
            "Telegram sends it with every update so Wirework knows the update is from Telegram. Leave "
            "empty and Wirework makes one.",
            generated=True,
        ),
    )
    setup_steps: ClassVar[tuple[str, ...]] = (
        "In Telegram, open @BotFather, send /newbot and follow its questions; it answers with the bot token.",
        "Paste the bot token here and save the connection.",
        "Press 'Register webhook': Wirework calls Telegram's setWebhook with the inbound URL and the "
        "secret token (Telegram needs an https inbound URL reachable from the internet: set "
        "WIREWORK_PUBLIC_URL).",
        "Press 'Test': Wirework calls getMe and shows the bot's username. Then write to the bot.",
        "In groups, a bot sees only commands and replies to it unless you turn privacy mode off "
        "(@BotFather: /setprivacy).",
    )
    can_test: ClassVar[bool] = True
    can_register: ClassVar[bool] = True
    max_text: ClassVar[int] = 4096

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        expected = require(secrets, "secret_token")
        sent = headers.get(SECRET_HEADER, "")
        if not sent:
            raise BadSignature(f"no {SECRET_HEADER} header")
        if not same(sent, expected):
            raise BadSignature(f"wrong {SECRET_HEADER}")

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        if not isinstance(payload, dict):
            return Parsed()
        message = payload.get("message") or payload.get("channel_post")
        # edited_message and the other update kinds are acknowledged and left alone
        if not isinstance(message, dict):
            return Parsed()
        text = message.get("text")
        chat = message.get("chat") or {}
        sender = message.get("from") or message.get("sender_chat") or chat
        if not isinstance(text, str) or not isinstance(chat, dict) or "id" not in chat:
            return Parsed()
        if isinstance(sender, dict) and sender.get("is_bot"):
            return Parsed()
        chat_id = str(chat["id"])
        name = " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p) or None
        user_name = sender.get("username") or name or sender.get("title")
        chat_name = chat.get("title") or chat.get("username") or name
        return Parsed(
            [
                Incoming(
                    channel=self.name,
                    platform_message_id=f"{chat_id}:{message.get('message_id')}",
                    chat_id=chat_id,
                    chat_name=chat_name,
                    chat_kind=_KINDS.get(str(chat.get("type")), "group"),
                    user_id=str(sender.get("id", chat_id)),
                    user_name=user_name,
                    text=text,
                    raw=payload,
                )
            ]
        )

    def _url(self, out: Outbound, method: str) -> str:
        token = out.secrets.get("bot_token") or ""
        if not token:
            raise SendFailed("the connection has no bot token")
        return f"{out.base_url.rstrip('/')}/bot{token}/{method}"

    async def _call(self, out: Outbound, method: str, payload: dict[str, Any]) -> Any:
        response, body = await request(
            out, "POST", self._url(out, method), what=f"Telegram {method}", json=payload
        )
        if not isinstance(body, dict) or not body.get("ok"):
            description = body.get("description") if isinstance(body, dict) else None
            raise SendFailed(f"Telegram {method}: {description or f'HTTP {response.status_code}'}")
        return body.get("result")

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        result = await self._call(out, "sendMessage", {"chat_id": chat_id, "text": text})
        return str(result["message_id"]) if isinstance(result, dict) and "message_id" in result else None

    async def test(self, out: Outbound) -> dict[str, Any]:
        result = await self._call(out, "getMe", {})
        result = result if isinstance(result, dict) else {}
        return {"bot_username": result.get("username"), "bot_id": str(result.get("id", ""))}

    async def register(self, out: Outbound, inbound_url: str) -> None:
        payload = {
            "url": inbound_url,
            "secret_token": out.secrets.get("secret_token", ""),
            "allowed_updates": ["message", "channel_post"],
        }
        await self._call(out, "setWebhook", payload)
