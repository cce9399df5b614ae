"""Discord interactions: slash commands delivered to an Interactions Endpoint URL, replies as
channel messages through the bot.

- **Inbound**: Discord signs each request with Ed25519: `X-Signature-Ed25519` (hex) over
  `X-Signature-Timestamp` + raw body, checked against the application's public key (with
  `cryptography`, which Wirework already uses for the vault). A bad signature is 401 — Discord
  itself sends such requests when the URL is saved and refuses an endpoint that accepts them. A
  timestamp more than 5 minutes from now is refused. PING (type 1) is answered PONG (type 1).
  An application command (type 2) is a user message: its text is the command's name and its
  options' values (`/todo add item:milk` → `todo add milk`, so chat commands match), except a
  command named `chat` (setting `message_command`), whose text is its options' values alone.
  It is answered at once with type 4 showing the user's text, and the bot's reply follows as a
  channel message: an interaction token lives 15 minutes and a reply may come later (a dialog
  waiting, a send retried after a rate limit), so the reply does not depend on it.
- **Outbound**: `POST {api}/channels/{channel id}/messages` with `Authorization: Bot <token>`;
  a 429 carries `retry_after` (seconds) in its JSON and `Retry-After`. 2000 characters a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wirework.channels.base import (
    BadSignature,
    Incoming,
    Outbound,
    Parsed,
    SendFailed,
    SetupField,
    check_timestamp,
    request,
    require,
)

PING, APPLICATION_COMMAND = 1, 2
PONG, CHANNEL_MESSAGE_WITH_SOURCE = 1, 4
_SUBCOMMAND_TYPES = (1, 2)  # SUB_COMMAND, SUB_COMMAND_GROUP
_DM_CHANNEL_TYPES = (1, 3)  # DM, GROUP_DM
EPHEMERAL = 1 << 6


def _option_words(options: Any) -> list[str]:
    words: list[str] = []
    for option in options if isinstance(options, list) else []:
        if not isinstance(option, dict):
            continue
        if option.get("type") in _SUBCOMMAND_TYPES:
            words.append(str(option.get("name", "")))
            words.extend(_option_words(option.get("options")))
        elif "value" in option:
            words.append(str(option["value"]))
    return words


class Discord:
    name: ClassVar[str] = "discord"
    display_name: ClassVar[str] = "Discord"
    fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "application_id",
            "Application ID",
            "discord.com/developers/applications → your application → General Information.",
            secret=False,
        ),
        SetupField(
            "public_key",
            "Public key",
            "General Information → Public Key (64 hex characters): Wirework checks every request's "
            "signature with it.",
        ),
        SetupField("bot_token", "Bot token", "Bot → Reset Token; Wirework replies as this bot."),
    )
    setup_steps: ClassVar[tuple[str, ...]] = (
        "Create an application at discord.com/developers/applications; copy its Application ID and "
        "Public Key (General Information), and a bot token (Bot → Reset Token). Paste them here and save.",
        "Paste the inbound URL into General Information → Interactions Endpoint URL and save: Discord "
        "sends signed test requests, Wirework answers them.",
        "Register a slash command, e.g. 'chat' with a string option 'message' (the text users send), "
        "or commands named like your bot's chat commands (/todo add item:…).",
        "Invite the bot with the scopes bot and applications.commands and the Send Messages permission "
        "(OAuth2 → URL Generator); replies are posted in the channel as the bot.",
        "Press 'Test': Wirework reads the bot's name with its token.",
    )
    can_test: ClassVar[bool] = True
    can_register: ClassVar[bool] = False
    max_text: ClassVar[int] = 2000

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        public_key = require(secrets, "public_key")
        signature = headers.get("x-signature-ed25519", "")
        timestamp = headers.get("x-signature-timestamp", "")
        if not signature or not timestamp:
            raise BadSignature("no X-Signature-Ed25519 / X-Signature-Timestamp headers")
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key.strip()))
            key.verify(bytes.fromhex(signature), timestamp.encode() + body)
        except (ValueError, InvalidSignature):
            raise BadSignature("wrong X-Signature-Ed25519") from None
        check_timestamp(timestamp, now)

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        if not isinstance(payload, dict):
            return Parsed()
        if payload.get("type") == PING:
            return Parsed(answer={"type": PONG})
        data = payload.get("data")
        if payload.get("type") != APPLICATION_COMMAND or not isinstance(data, dict):
            # components, autocomplete, modals: not offered; an ephemeral note instead of a failure
            return Parsed(answer=_say("This bot answers slash commands only.", ephemeral=True))
        member = payload.get("member")
        user = (member.get("user") if isinstance(member, dict) else None) or payload.get("user") or {}
        channel: dict[str, Any] = payload["channel"] if isinstance(payload.get("channel"), dict) else {}
        channel_id = str(payload.get("channel_id") or channel.get("id") or "")
        if not channel_id or not isinstance(user, dict) or user.get("bot"):
            return Parsed(answer=_say("This bot cannot answer here.", ephemeral=True))
        words = _option_words(data.get("options"))
        command = str(data.get("name", ""))
        plain = command == str(settings.get("message_command") or "chat")
        text = " ".join(words) if plain else " ".join([command, *words])
        dm = channel.get("type") in _DM_CHANNEL_TYPES or not payload.get("guild_id")
        message = Incoming(
            channel=self.name,
            platform_message_id=str(payload.get("id")),
            chat_id=channel_id,
            chat_name=channel.get("name"),
            chat_kind="direct" if dm else "group",
            user_id=str(user.get("id", "")),
            user_name=user.get("global_name") or user.get("username"),
            text=text,
            raw=payload,
        )
        return Parsed([message], answer=_say(text if plain else f"/{text}"))

    def _headers(self, out: Outbound) -> dict[str, str]:
        token = out.secrets.get("bot_token") or ""
        if not token:
            raise SendFailed("the connection has no bot token")
        return {"Authorization": f"Bot {token}"}

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        url = f"{out.base_url.rstrip('/')}/channels/{chat_id}/messages"
        response, body = await request(
            out,
            "POST",
            url,
            what="Discord create message",
            headers=self._headers(out),
            json={"content": text, "allowed_mentions": {"parse": []}},
        )
        if response.status_code >= 400 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise SendFailed(f"Discord create message: {message or f'HTTP {response.status_code}'}")
        return str(body["id"]) if "id" in body else None

    async def test(self, out: Outbound) -> dict[str, Any]:
        url = f"{out.base_url.rstrip('/')}/users/@me"
        response, body = await request(out, "GET", url, what="Discord users/@me", headers=self._headers(out))
        if response.status_code >= 400 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise SendFailed(f"Discord users/@me: {message or f'HTTP {response.status_code}'}")
        return {"bot_username": body.get("username"), "bot_id": str(body.get("id", ""))}

    async def register(self, out: Outbound, inbound_url: str) -> None:
        raise SendFailed("Discord takes the Interactions Endpoint URL only in the developer portal")


def _say(text: str, *, ephemeral: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"content": text[:2000] or "…", "allowed_mentions": {"parse": []}}
    if ephemeral:
        data["flags"] = EPHEMERAL
    return {"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": data}
