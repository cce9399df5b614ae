"""Slack Events API: signed event deliveries in, chat.postMessage out.

- **Inbound**: Slack signs each request: `X-Slack-Signature` is `v0=` + hex HMAC-SHA256 of
  `v0:{X-Slack-Request-Timestamp}:{raw body}` under the app's signing secret. A timestamp more than
  5 minutes from now is refused (a replay). `url_verification` (when the Request URL is entered) is
  answered with its `challenge`. `event_callback` carrying a `message` or `app_mention` event is a
  user message; messages with a `bot_id` or a `subtype` (edits, joins, bot posts, our own replies)
  are left out, so the bot never answers itself. Slack retries a delivery it got no 2xx for within
  3 s; a message is de-duplicated by `<channel>:<ts>`, which also makes the `message` and
  `app_mention` events of one message a single message.
- **Outbound**: `POST {api}/chat.postMessage` with `Authorization: Bearer xoxb-…`; a 429 carries
  `Retry-After`. Slack answers most errors with 200 and `{"ok": false, "error": …}`.
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
    SendLater,
    SetupField,
    check_timestamp,
    hmac_sha256_hex,
    request,
    require,
    retry_after,
    same,
)

# Errors Slack answers that clear up by themselves; every other error is permanent.
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_KINDS = {"im": "direct", "mpim": "group", "group": "group", "channel": "group"}


class Slack:
    name: ClassVar[str] = "slack"
    display_name: ClassVar[str] = "Slack"
    fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "bot_token",
            "Bot User OAuth Token",
            "api.slack.com/apps → your app → OAuth & Permissions; starts with xoxb-. Needs the "
            "chat:write scope, and channels:history / im:history to read messages.",
        ),
        SetupField(
            "signing_secret",
            "Signing secret",
            "api.slack.com/apps → your app → Basic Information → App Credentials → Signing Secret.",
        ),
    )
    setup_steps: ClassVar[tuple[str, ...]] = (
        "Create an app at api.slack.com/apps (From scratch) in your workspace.",
        "OAuth & Permissions: add the bot scopes chat:write, channels:history, groups:history, "
        "im:history and app_mentions:read, then Install to Workspace and copy the Bot User OAuth Token.",
        "Basic Information: copy the Signing Secret. Paste both here and save the connection.",
        "Event Subscriptions: turn them on and paste the inbound URL as the Request URL (Slack checks it "
        "at once), then subscribe to the bot events message.im, message.channels, message.groups and "
        "app_mention. Save.",
        "Press 'Test' (Wirework calls auth.test), invite the bot to a channel (/invite @yourbot) or "
        "write to it directly.",
    )
    can_test: ClassVar[bool] = True
    can_register: ClassVar[bool] = False
    max_text: ClassVar[int] = 4000  # Slack truncates a text past 40,000 and advises staying under 4,000

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        secret = require(secrets, "signing_secret")
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            raise BadSignature("no X-Slack-Signature / X-Slack-Request-Timestamp headers")
        check_timestamp(timestamp, now)
        expected = "v0=" + hmac_sha256_hex(secret, b"v0:" + timestamp.encode() + b":" + body)
        if not same(signature, expected):
            raise BadSignature("wrong X-Slack-Signature")

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        if not isinstance(payload, dict):
            return Parsed()
        if payload.get("type") == "url_verification":
            return Parsed(answer={"challenge": str(payload.get("challenge", ""))})
        event = payload.get("event")
        if payload.get("type") != "event_callback" or not isinstance(event, dict):
            return Parsed()
        if event.get("type") not in ("message", "app_mention"):
            return Parsed()
        if event.get("bot_id") or event.get("subtype") or not event.get("user"):
            return Parsed()
        own = settings.get("bot_user_id")
        if own and event.get("user") == own:
            return Parsed()
        text, channel = event.get("text"), event.get("channel")
        if not isinstance(text, str) or not isinstance(channel, str):
            return Parsed()
        kind = _KINDS.get(str(event.get("channel_type")), "direct" if channel.startswith("D") else "group")
        return Parsed(
            [
                Incoming(
                    channel=self.name,
                    platform_message_id=f"{channel}:{event.get('ts')}",
                    chat_id=channel,
                    chat_name=None,
                    chat_kind=kind,
                    user_id=str(event["user"]),
                    user_name=None,
                    text=text,
                    raw=payload,
                )
            ]
        )

    async def _call(self, out: Outbound, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = out.secrets.get("bot_token") or ""
        if not token:
            raise SendFailed("the connection has no bot token")
        response, body = await request(
            out,
            "POST",
            f"{out.base_url.rstrip('/')}/api/{method}",
            what=f"Slack {method}",
            headers={"Authorization": f"Bearer {token}"},
            json=payload,
        )
        if not isinstance(body, dict):
            raise SendFailed(f"Slack {method}: HTTP {response.status_code} without a JSON answer")
        if not body.get("ok"):
            error = str(body.get("error") or f"HTTP {response.status_code}")
            if error in _TRANSIENT:
                wait = retry_after(response)
                raise SendLater(wait, f"Slack {method}: {error}, retry after {wait:g} s")
            raise SendFailed(f"Slack {method}: {error}")
        return body

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        body = await self._call(out, "chat.postMessage", {"channel": chat_id, "text": text})
        return f"{body.get('channel', chat_id)}:{body['ts']}" if body.get("ts") else None

    async def test(self, out: Outbound) -> dict[str, Any]:
        body = await self._call(out, "auth.test", {})
        return {
            "team": body.get("team"),
            "bot_user_id": body.get("user_id"),
            "bot_username": body.get("user"),
        }

    async def register(self, out: Outbound, inbound_url: str) -> None:
        raise SendFailed("Slack takes the Request URL only in the app's settings; paste it there")
