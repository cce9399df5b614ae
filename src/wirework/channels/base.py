"""What every chat-platform adapter shares: the set-up fields it asks for, the verdicts of inbound
verification, outbound errors, splitting long replies, and reading a platform's 429 answer.

An adapter knows one platform's wire protocol and nothing of the database: `verify` checks a
delivery's signature (raising `BadSignature`), `parse` turns a verified body into messages (and the
answer the platform expects back), `send` posts one reply. `channels.service` stores and routes.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Protocol

import certifi
import httpx

from wirework.security.ssrf import SsrfBlocked

REPLAY_WINDOW_S = 300
"""A signed delivery whose timestamp is further than this from now is refused (Slack's own rule)."""

SEND_TIMEOUT_S = 15.0
NETWORK_RETRY_S = 5.0
"""How long to wait before sending again after a network error or a 5xx without Retry-After."""


class BadSignature(Exception):
    """The delivery is not from the platform: unsigned, wrongly signed, or replayed. Answered 401."""


class SendLater(Exception):
    """Sending failed for now (429, 5xx, network): send again after `after_s` seconds."""

    def __init__(self, after_s: float, reason: str) -> None:
        super().__init__(reason)
        self.after_s = after_s
        self.reason = reason


class SendFailed(Exception):
    """Sending can never succeed as it is (bad token, unknown chat, bot blocked): do not retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SetupField:
    """One value the set-up form asks for. Secret ones are sealed in a credential; the others are
    kept in the connection's settings. `generated`: Wirework makes a random one when left empty
    (a token you then paste into the platform)."""

    name: str
    label: str
    help: str
    secret: bool = True
    required: bool = True
    generated: bool = False


@dataclass(slots=True)
class Incoming:
    """One user message from a platform, in the shape `bots.service.receive` takes."""

    channel: str
    platform_message_id: str | None
    chat_id: str
    chat_name: str | None
    chat_kind: str  # "direct" | "group" | "channel"
    user_id: str
    user_name: str | None
    text: str
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class Parsed:
    """What a verified delivery holds: messages to store, and what to answer the platform."""

    messages: list[Incoming] = field(default_factory=list)
    answer: Any = None
    """JSON to answer with (Slack's challenge, Discord's PONG); None answers `{"ok": true}`."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """What a send needs besides the text: an HTTP client, the platform's base URL (a setting, so
    tests point it at a local server), the connection's settings and its opened secrets."""

    client: httpx.AsyncClient
    base_url: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]


class Adapter(Protocol):
    name: ClassVar[str]
    display_name: ClassVar[str]
    fields: ClassVar[tuple[SetupField, ...]]
    setup_steps: ClassVar[tuple[str, ...]]
    can_test: ClassVar[bool]
    can_register: ClassVar[bool]
    max_text: ClassVar[int]

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str], now: float) -> None:
        """Raise BadSignature unless the platform signed this delivery (recently)."""

    def parse(self, payload: Any, settings: Mapping[str, Any]) -> Parsed:
        """Messages in a verified delivery; the platform's own and bots' messages are left out."""

    async def send_one(self, out: Outbound, chat_id: str, text: str) -> str | None:
        """Post one message (at most `max_text` characters); its platform id."""

    async def test(self, out: Outbound) -> dict[str, Any]:
        """A cheap authenticated call: what the platform says about the bot (name, team)."""

    async def register(self, out: Outbound, inbound_url: str) -> None:
        """Tell the platform the inbound URL (where its API allows that)."""


def now() -> float:
    return time.time()


def hmac_sha256_hex(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings (signatures, tokens)."""
    return hmac.compare_digest(a.encode(), b.encode())


def require(secrets: Mapping[str, str], name: str) -> str:
    value = secrets.get(name) or ""
    if not value:
        # A connection without its secret cannot verify anything: refuse rather than accept all.
        raise BadSignature(f"the connection has no {name} to check the signature with")
    return str(value)


def check_timestamp(raw: str, now: float, window_s: float = REPLAY_WINDOW_S) -> None:
    try:
        sent = float(raw)
    except ValueError:
        raise BadSignature("the signature timestamp is not a number") from None
    # float() takes "nan" and "inf": NaN compares False with everything, so it passed the window.
    if not math.isfinite(sent):
        raise BadSignature("the signature timestamp is not a finite number")
    if abs(now - sent) > window_s:
        raise BadSignature(f"the signature timestamp is more than {window_s:g} s from now (a replay?)")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a line break or a space where one is
    near the end, so a long reply arrives whole as several messages."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", limit // 2, limit)
        if cut <= 0:
            cut = rest.rfind(" ", limit // 2, limit)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ") if cut < limit else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def retry_after(response: httpx.Response, body: Any = None, default: float = NETWORK_RETRY_S) -> float:
    """Seconds to wait, from the platform's answer: a JSON `retry_after` (Telegram's
    `parameters.retry_after`, Discord's `retry_after`), else the Retry-After header (seconds or an
    HTTP date), else `default`."""
    if isinstance(body, dict):
        for holder in (body.get("parameters"), body):
            if isinstance(holder, dict) and isinstance(holder.get("retry_after"), int | float):
                return max(0.0, float(holder["retry_after"]))
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(header) if header else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    return default


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def request(
    out: Outbound,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> tuple[httpx.Response, Any]:
    """One call to the platform; a network error or timeout is SendLater (the platform may have
    got it: delivery is at least once), a 429 or 5xx is SendLater after the platform's wait."""
    try:
        response = await out.client.request(method, url, headers=dict(headers or {}), **kwargs)
    except SsrfBlocked as exc:  # a user-chosen URL (the webhook channel) pointing inside
        raise SendFailed(f"{what}: {exc}") from None
    except httpx.HTTPError as exc:
        raise SendLater(NETWORK_RETRY_S, f"{what}: {type(exc).__name__}: {exc}") from None
    body = json_of(response)
    if response.status_code == 429 or response.status_code >= 500:
        wait = retry_after(response, body)
        raise SendLater(wait, f"{what}: HTTP {response.status_code}, retry after {wait:g} s")
    return response, body


@cache
def _ssl_context() -> ssl.SSLContext:
    # Made once: building a context loads the CA bundle (milliseconds), and a client is made per send.
    return ssl.create_default_context(cafile=certifi.where())


def platform_client() -> httpx.AsyncClient:
    """A client for a platform's fixed API host (set by the operator, not by users): no proxy or
    ~/.netrc from the environment, no redirects."""
    return httpx.AsyncClient(
        timeout=SEND_TIMEOUT_S, verify=_ssl_context(), follow_redirects=False, trust_env=False
    )
