"""The generic webhook channel: any system that can sign an HTTP POST talks to a bot.

- **Inbound**: `POST` JSON `{"chat_id", "user_id", "text", "message_id"}` (and optionally
  `"user_name"`, `"chat_name"`, `"chat_kind"`: direct/group/channel) with the header
  `X-Wirework-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the
  connection's signing secret>`. A timestamp more than 5 minutes from now is refused; a repeated
  `message_id` is stored once. Types are strict: `text` is a string, the ids strings of 1 to 200
  characters or whole numbers (never booleans); anything else is a 400 naming the field. A body
  may also hold `{"messages": [ … ]}` (up to 100).
- **Outbound**: `POST` to the connection's outbound URL — chosen by the user, so it goes through
  the SSRF guard (`WIREWORK_HTTP_ALLOW_HOSTS` to reach an internal service) — with JSON
  `{"chat_id", "text", "bot": <connection name>}`, signed the same way. A 2xx answer may give
  `{"message_id": …}`; 429 (with Retry-After) and 5xx are retried, other answers are permanent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from wirework.channels.base import (
    BadSignature,
    Incoming,
    Outbound,
    Parsed,
    SendFailed,
    SetupField,
    check_timestamp,
    hmac_sha256_hex,
    json_of,
    now,
    request,
    require,
    same,
)

SIGNATURE_HEADER = "X-Wirework-Signature"
MAX_BATCH = 100
MAX_ID = 200
"""Characters of a chat, user or message id (their columns hold 200)."""
_KINDS = frozenset({"direct", "group", "channel"})


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Wirework-Signature value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={hmac_sha256_hex(secret, str(timestamp).encode() + b'.' + body)}"


def _fields(header: str) -> dict[str, str]:
    parts = (p.partition("=") for p in header.split(","))
    return {k.strip(): v.strip() for k, _, v in parts}


class Webhook:
    name: ClassVar[str] = "webhook"
    display_name: ClassVar[str] = "Webhook (any system)"
    fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "outbound_url",
            "Outbound URL",
            "Where Wirework POSTs the bot's replies ({chat_id, text, bot}, signed). Internal addresses "
            "need WIREWORK_HTTP_ALLOW_HOSTS.",
            secret=False,
        ),
        SetupField(
            "signing_secret",
            "Signing secret",
            "Signs both directions (X-Wirework-Signature). Leave empty and Wirework makes one.",
            generated=True,
        ),
    )
    setup_steps: ClassVar[tuple[str, ...]] = (
        "Enter the URL of your service that should receive the bot's replies, and save.",
        "Copy the signing secret and the inbound URL shown after saving into your service.",
        'Your service POSTs each user message to the inbound URL as JSON {"chat_id", "user_id", '
        '"text", "message_id"} with the header X-Wirework-Signature: t=<unix seconds>,v1=<hex '
        'HMAC-SHA256 of "<t>.<body>" under the signing secret>.',
        'Replies arrive at your URL as JSON {"chat_id", "text", "bot"} signed the same way; answer '
        '2xx (optionally {"message_id": …}); 429 or 5xx makes Wirework send again later.',
    )
    can_test: ClassVar[bool] = False
    can_register: ClassVar[bool] = False
    max_text: ClassVar[int] = 100_000

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        secret = require(secrets, "signing_secret")
        fields = _fields(headers.get(SIGNATURE_HEADER.lower(), ""))
        timestamp, signature = fields.get("t", ""), fields.get("v1", "")
        if not timestamp or not signature:
            raise BadSignature(f"no {SIGNATURE_HEADER} header (t=…,v1=…)")
        expected = hmac_sha256_hex(secret, timestamp.encode() + b"." + body)
        if not same(signature, expected):
            raise BadSignature(f"wrong {SIGNATURE_HEADER}")
        check_timestamp(timestamp, now)

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        items = payload.get("messages") if isinstance(payload, dict) and "messages" in payload else [payload]
        if not isinstance(items, list) or len(items) > MAX_BATCH:
            raise ValueError(f"'messages' must be a list of at most {MAX_BATCH} messages")
        found: list[Incoming] = []
        for index, item in enumerate(items):
            where = f"messages[{index}]" if len(items) > 1 or "messages" in payload else "the body"
            if not isinstance(item, dict):
                raise ValueError(f"{where} must be an object")
            if not isinstance(item.get("text"), str):
                raise ValueError(f"{where} needs text (a string)")
            ids = {k: _id(item.get(k)) for k in ("chat_id", "user_id", "message_id")}
            missing = [k for k in ("chat_id", "user_id") if ids[k] is None]
            wrong = [k for k in ("message_id",) if item.get(k) is not None and ids[k] is None]
            if missing or wrong:
                raise ValueError(
                    f"{where} needs {', '.join(missing + wrong)} as a string of 1 to {MAX_ID} characters "
                    "or a whole number"
                )
            kind = item.get("chat_kind", "direct")
            found.append(
                Incoming(
                    channel=self.name,
                    platform_message_id=ids["message_id"],
                    chat_id=str(ids["chat_id"]),
                    chat_name=_optional_text(item.get("chat_name")),
                    chat_kind=kind if isinstance(kind, str) and kind in _KINDS else "direct",
                    user_id=str(ids["user_id"]),
                    user_name=_optional_text(item.get("user_name")),
                    text=item["text"],
                    raw=item,
                )
            )
        return Parsed(found)

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        url = str(out.settings.get("outbound_url") or "")
        if not url:
            raise SendFailed("the connection has no outbound URL")
        secret = out.secrets.get("signing_secret") or ""
        body = json.dumps({"chat_id": chat_id, "text": text, "bot": out.settings.get("name")}).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(now()))}
        response, answer = await request(
            out, "POST", url, what="webhook reply", headers=headers, content=body
        )
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"webhook reply: {url} answered HTTP {response.status_code}")
        answer = answer if answer is not None else json_of(response)
        if isinstance(answer, dict) and answer.get("message_id") is not None:
            return str(answer["message_id"])
        return None

    async def test(self, out: Outbound) -> dict[str, Any]:
        raise SendFailed("the webhook channel has nothing to test; send a signed message to it")

    async def register(self, out: Outbound, inbound_url: str) -> None:
        raise SendFailed("give the inbound URL to your service yourself")


def _id(value: Any) -> str | None:
    """An id as the tables hold it: a string of 1 to MAX_ID characters, or a whole number (not a
    boolean: `true` is an int to Python, and was stored as "True")."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if 1 <= len(text) <= MAX_ID else None


def _optional_text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None
