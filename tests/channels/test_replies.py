"""End to end on every platform: a signed delivery reaches the bot's dialog workflow (Chat trigger →
Reply), and the reply arrives at the local server playing the platform, in the right chat, with the
connection's credentials; a 429 is honoured and the reply is sent again after the platform's wait."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.bots.conftest import make_bot
from tests.channels.fakes import (
    DISCORD_TOKEN,
    SLACK_TOKEN,
    TELEGRAM_TOKEN,
    WHATSAPP_PHONE_ID,
    WHATSAPP_TOKEN,
    FakePlatforms,
    discord_command,
    discord_headers,
    discord_keys,
    fake_platforms,
    slack_event,
    slack_headers,
    telegram_headers,
    telegram_update,
    webhook_headers,
    whatsapp_headers,
    whatsapp_notification,
)
from tests.support.accounts import signup
from wirework.bots.models import Delivery, Message, MessageRole
from wirework.db.engine import Database
from wirework.settings import Settings

Signed = Callable[[dict[str, Any], str], tuple[bytes, dict[str, str]]]


@pytest.fixture
async def fake(settings: Settings) -> AsyncIterator[FakePlatforms]:
    async with fake_platforms() as platforms:
        settings.telegram_api_url = platforms.base("telegram")
        settings.slack_api_url = platforms.base("slack")
        settings.discord_api_url = platforms.base("discord")
        settings.whatsapp_api_url = platforms.base("whatsapp")
        settings.http_allow_hosts = "127.0.0.1"
        yield platforms


DISCORD_KEY, DISCORD_PUBLIC = discord_keys()
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _telegram(connection: dict[str, Any], text: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps(telegram_update(text)).encode(), telegram_headers(connection["secrets"]["secret_token"])


def _slack(connection: dict[str, Any], text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(slack_event(text)).encode()
    return body, slack_headers(SLACK_SECRET, body, int(time.time()))


def _discord(connection: dict[str, Any], text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(discord_command("chat", [{"type": 3, "name": "message", "value": text}])).encode()
    return body, discord_headers(DISCORD_KEY, body, int(time.time()))


def _whatsapp(connection: dict[str, Any], text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(whatsapp_notification(text)).encode()
    return body, whatsapp_headers("appsecret123", body)


def _webhook(connection: dict[str, Any], text: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"chat_id": "room-7", "user_id": "u1", "text": text, "message_id": "m-1"}).encode()
    return body, webhook_headers(connection["secrets"]["signing_secret"], body, int(time.time()))


PLATFORMS: dict[str, tuple[Callable[[FakePlatforms], dict[str, str]], Signed, str]] = {
    "telegram": (lambda f: {"bot_token": TELEGRAM_TOKEN}, _telegram, "1111111"),
    "slack": (lambda f: {"bot_token": SLACK_TOKEN, "signing_secret": SLACK_SECRET}, _slack, "D0PNCRP9N"),
    "discord": (
        lambda f: {
            "application_id": "775799577604522054",
            "public_key": DISCORD_PUBLIC,
            "bot_token": DISCORD_TOKEN,
        },
        _discord,
        "645027906669510667",
    ),
    "whatsapp": (
        lambda f: {
            "phone_number_id": WHATSAPP_PHONE_ID,
            "access_token": WHATSAPP_TOKEN,
            "app_secret": "appsecret123",
        },
        _whatsapp,
        "16315551234",
    ),
    "webhook": (lambda f: {"outbound_url": f"{f.url}/hook"}, _webhook, "room-7"),
}


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _sent_replies(db: Database, channel: str) -> list[Message]:
    """The bot's replies on `channel`, once they are all recorded as sent."""
    deadline = time.monotonic() + 15
    while True:
        async with db.session() as session:
            stmt = select(Message).where(Message.channel == channel, Message.role == MessageRole.assistant)
            replies = list((await session.execute(stmt)).scalars())
        if replies and all(r.delivery == Delivery.sent for r in replies):
            return replies
        if time.monotonic() > deadline:
            raise AssertionError(f"replies not sent: {[(r.delivery, r.error) for r in replies]}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("platform", list(PLATFORMS))
async def test_a_message_gets_its_reply_on_the_platform(
    platform: str, client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot = await make_bot(client, ann)
    values, deliver, chat_id = PLATFORMS[platform]
    response = await client.post(
        f"/api/v1/bots/{bot.id}/channels",
        json={"platform": platform, "name": "main", "values": values(fake)},
        headers=ann.headers,
    )
    assert response.status_code == 201, response.text
    connection = response.json()
    body, headers = deliver(connection, "hello there")
    inbound = await client.post(httpx.URL(connection["inbound_url"]).path, content=body, headers=headers)
    assert inbound.status_code == 200, inbound.text
    await _until(lambda: bool(fake.texts(platform)))
    (sent,) = [s for s in fake.sent if s.platform == platform]
    assert (sent.chat_id, sent.text) == (chat_id, "You said: hello there")
    (reply,) = await _sent_replies(db, platform)
    assert reply.platform_message_id is not None  # the platform's id of the sent message is kept


async def test_a_rate_limited_reply_is_sent_again_after_retry_after(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot = await make_bot(client, ann)
    created = await client.post(
        f"/api/v1/bots/{bot.id}/channels",
        json={"platform": "telegram", "name": "main", "values": {"bot_token": TELEGRAM_TOKEN}},
        headers=ann.headers,
    )
    connection = created.json()
    fake.throttle["telegram"], fake.retry_after = 1, 2
    body, headers = _telegram(connection, "are you there")
    throttled_at = time.monotonic()
    assert (
        await client.post(httpx.URL(connection["inbound_url"]).path, content=body, headers=headers)
    ).status_code == 200
    await _until(lambda: bool(fake.texts("telegram")), timeout=30)
    resent_after = time.monotonic() - throttled_at
    assert fake.texts("telegram") == ["You said: are you there"]  # once, after the 429
    assert fake.calls.count("telegram sendMessage") == 2
    assert resent_after >= 2  # Telegram said retry_after 2: not sooner
    (reply,) = await _sent_replies(db, "telegram")
    assert reply.attempts == 2
