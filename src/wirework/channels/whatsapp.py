"""WhatsApp Cloud API (Meta): webhook verification, signed message notifications, replies through
the Graph API.

- **Verify** (when the callback URL is saved in the Meta app): `GET ?hub.mode=subscribe&
  hub.verify_token=…&hub.challenge=…` is answered with the challenge, as text, when the verify
  token matches; otherwise 403.
- **Inbound**: `X-Hub-Signature-256` is `sha256=` + hex HMAC-SHA256 of the raw body under the app
  secret. Meta's signature has no timestamp, so a replayed delivery is caught by de-duplication
  (the message id `wamid…`) only. Messages sit in `entry[].changes[].value.messages[]`, the
  sender's name in `value.contacts[]`; `statuses[]` (sent/delivered/read) carry no message and are
  acknowledged. Text messages, button replies and interactive replies are read; other types
  (images, locations…) are acknowledged and left out.
- **Outbound**: `POST {api}/{version}/{phone number id}/messages` with the access token as bearer:
  `{"messaging_product": "whatsapp", "to": …, "type": "text", "text": {"body": …}}`. Rate limits come
  as HTTP 429 or as error codes 4, 80007, 130429, 131048, 131056; 5xx and code 131000 are
  transient too. 4096 characters a message.
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
    hmac_sha256_hex,
    request,
    require,
    same,
)

GRAPH_VERSION = "v21.0"
_RATE_LIMITED = frozenset({4, 80007, 130429, 131048, 131056})
_TRANSIENT = frozenset({1, 2, 131000})
RATE_LIMIT_WAIT_S = 30.0
"""Meta's rate-limit errors say no wait; this is how long before sending again."""


class WhatsApp:
    name: ClassVar[str] = "whatsapp"
    display_name: ClassVar[str] = "WhatsApp (Cloud API)"
    fields: ClassVar[tuple[SetupField, ...]] = (
        SetupField(
            "phone_number_id",
            "Phone number ID",
            "developers.facebook.com → your app → WhatsApp → API Setup: the Phone number ID (not the "
            "number itself).",
            secret=False,
        ),
        SetupField(
            "access_token",
            "Access token",
            "A System User access token with whatsapp_business_messaging (Business Settings → System "
            "users); the temporary token on API Setup lasts 24 hours.",
        ),
        SetupField(
            "app_secret", "App secret", "App settings → Basic → App secret: signs every notification."
        ),
        SetupField(
            "verify_token",
            "Verify token",
            "Any text you choose; Meta sends it back once when you save the callback URL. Leave empty "
            "and Wirework makes one.",
            generated=True,
        ),
    )
    setup_steps: ClassVar[tuple[str, ...]] = (
        "Create a Business app at developers.facebook.com and add the WhatsApp product.",
        "From WhatsApp → API Setup copy the Phone number ID; make an access token (a System User token "
        "lasts; the temporary one 24 hours); from App settings → Basic copy the App secret. Paste them "
        "here and save the connection.",
        "WhatsApp → Configuration → Webhook: paste the inbound URL as the Callback URL and the verify "
        "token shown here, press Verify and save; then subscribe to the messages field.",
        "Press 'Test' (Wirework reads the phone number's details), then send the number a WhatsApp message.",
        "WhatsApp lets a business answer freely for 24 hours after the user's last message; later "
        "sends fail with a clear error (templates are not offered yet).",
    )
    can_test: ClassVar[bool] = True
    can_register: ClassVar[bool] = False
    max_text: ClassVar[int] = 4096

    def challenge(self, query: Mapping[str, str], secrets: Mapping[str, str]) -> str | None:
        """The `hub.challenge` to answer when the subscription request carries our verify token."""
        expected = secrets.get("verify_token") or ""
        token = query.get("hub.verify_token", "")
        if query.get("hub.mode") != "subscribe" or not expected or not same(token, expected):
            return None
        return query.get("hub.challenge", "")

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        secret = require(secrets, "app_secret")
        signature = headers.get("x-hub-signature-256", "")
        if not signature:
            raise BadSignature("no X-Hub-Signature-256 header")
        if not same(signature, "sha256=" + hmac_sha256_hex(secret, body)):
            raise BadSignature("wrong X-Hub-Signature-256")

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        messages: list[Incoming] = []
        entries = payload.get("entry") if isinstance(payload, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else []:
                value = change.get("value") if isinstance(change, dict) else None
                if isinstance(value, dict):
                    messages.extend(self._messages(value, payload, settings))
        return Parsed(messages)

    def _messages(
        self, value: dict[str, Any], payload: dict[str, Any], settings: Mapping[str, Any]
    ) -> list[Incoming]:
        ours = settings.get("phone_number_id")
        metadata: dict[str, Any] = value["metadata"] if isinstance(value.get("metadata"), dict) else {}
        if ours and metadata.get("phone_number_id") not in (None, str(ours)):
            return []  # another number of the same app
        names = {
            str(c.get("wa_id")): (c.get("profile") or {}).get("name")
            for c in value.get("contacts") or []
            if isinstance(c, dict)
        }
        found: list[Incoming] = []
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or "from" not in message:
                continue
            text = _text_of(message)
            if text is None:
                continue
            sender = str(message["from"])
            found.append(
                Incoming(
                    channel=self.name,
                    platform_message_id=str(message.get("id")),
                    chat_id=sender,
                    chat_name=names.get(sender),
                    chat_kind="direct",
                    user_id=sender,
                    user_name=names.get(sender),
                    text=text,
                    raw=payload,
                )
            )
        return found

    def _endpoint(self, out: Outbound, path: str) -> tuple[str, dict[str, str]]:
        token = out.secrets.get("access_token") or ""
        number = out.settings.get("phone_number_id") or ""
        if not token or not number:
            raise SendFailed("the connection has no access token or phone number id")
        version = out.settings.get("graph_version") or GRAPH_VERSION
        url = f"{out.base_url.rstrip('/')}/{version}/{number}{path}"
        return url, {"Authorization": f"Bearer {token}"}

    def _check(self, what: str, response_status: int, body: Any) -> dict[str, Any]:
        error = body.get("error") if isinstance(body, dict) else None
        if response_status < 400 and isinstance(body, dict) and not error:
            return body
        if isinstance(error, dict):
            code = error.get("code")
            text = f"{what}: {error.get('message') or 'error'} (code {code})"
            if code in _RATE_LIMITED:
                raise SendLater(RATE_LIMIT_WAIT_S, text)
            if code in _TRANSIENT or error.get("is_transient"):
                raise SendLater(5.0, text)
            raise SendFailed(text)
        raise SendFailed(f"{what}: HTTP {response_status}")

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        url, headers = self._endpoint(out, "/messages")
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": chat_id,
            "type": "text",
            "text": {"body": text, "preview_url": False},
        }
        response, body = await request(out, "POST", url, what="WhatsApp send", headers=headers, json=payload)
        body = self._check("WhatsApp send", response.status_code, body)
        sent = body.get("messages")
        return str(sent[0]["id"]) if isinstance(sent, list) and sent and "id" in sent[0] else None

    async def test(self, out: Outbound) -> dict[str, Any]:
        url, headers = self._endpoint(out, "")
        response, body = await request(
            out,
            "GET",
            url,
            what="WhatsApp phone number",
            headers=headers,
            params={"fields": "display_phone_number,verified_name"},
        )
        body = self._check("WhatsApp phone number", response.status_code, body)
        return {"phone_number": body.get("display_phone_number"), "verified_name": body.get("verified_name")}

    async def register(self, out: Outbound, inbound_url: str) -> None:
        raise SendFailed("Meta takes the callback URL only in the app's WhatsApp configuration")


def _text_of(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return body if isinstance(body, str) else None
    if kind == "button":
        text = (message.get("button") or {}).get("text")
        return text if isinstance(text, str) else None
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        title = reply.get("title")
        return title if isinstance(title, str) else None
    return None
