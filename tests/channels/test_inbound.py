"""A bot connected to each platform through the API, deliveries signed the way each platform signs
them posted to the public inbound URL: a good one is stored once (duplicates dropped), a bad one is
401 and stores nothing; WhatsApp's subscription check; tenant isolation of connections."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

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
from tests.support.accounts import Account, signup
from wirework.bots.models import Bot, Message
from wirework.channels.models import Platform, PlatformBot, PlatformChannel, PlatformUser
from wirework.db.engine import Database
from wirework.settings import Settings
from wirework.workflows.models import Credential


@pytest.fixture
async def fake(settings: Settings) -> AsyncIterator[FakePlatforms]:
    async with fake_platforms() as platforms:
        settings.telegram_api_url = platforms.base("telegram")
        settings.slack_api_url = platforms.base("slack")
        settings.discord_api_url = platforms.base("discord")
        settings.whatsapp_api_url = platforms.base("whatsapp")
        settings.http_allow_hosts = "127.0.0.1"
        yield platforms


async def make_bot(db: Database, account: Account, name: str = "Helper") -> str:
    async with db.session() as session:
        bot = Bot(org_id=uuid.UUID(account.org_id), name=name, public_id=uuid.uuid4().hex, settings={})
        session.add(bot)
        await session.commit()
        return str(bot.id)


async def connect(
    client: httpx.AsyncClient, who: Account, bot_id: str, platform: str, values: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/bots/{bot_id}/channels",
        json={"platform": platform, "name": f"{platform} main", "values": values},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def path_of(connection: dict[str, Any]) -> str:
    return str(httpx.URL(connection["inbound_url"]).path)


async def stored(db: Database, channel: str) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            select(Message.content).where(Message.channel == channel).order_by(Message.created_at)
        )
        return [str(r) for r in rows.scalars()]


async def test_platforms_are_listed_from_the_registry(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    platforms = (await client.get(f"/api/v1/bots/{bot_id}/platforms", headers=ann.headers)).json()
    assert [p["name"] for p in platforms] == ["telegram", "slack", "discord", "whatsapp", "webhook"]
    telegram = platforms[0]
    assert [f["name"] for f in telegram["fields"]] == ["bot_token", "secret_token"]
    assert telegram["fields"][1]["generated"] and not telegram["fields"][1]["required"]
    assert any("BotFather" in step for step in telegram["setup_steps"])
    async with db.session() as session:  # the platforms table was filled at start from the same list
        names = set((await session.execute(select(Platform.name))).scalars())
    assert names == {"telegram", "slack", "discord", "whatsapp", "webhook"}


async def test_telegram_update_is_stored_once_and_a_bad_secret_stores_nothing(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    secret = connection["secrets"]["secret_token"]
    assert "bot_token" not in connection["secrets"] and "bot_token" not in json.dumps(connection["settings"])
    body = json.dumps(telegram_update("hello bot", message_id=41)).encode()

    refused = await client.post(path_of(connection), content=body, headers=telegram_headers("guess"))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["content-security-policy"] == "sandbox"
    unsigned = await client.post(
        path_of(connection), content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert await stored(db, "telegram") == []

    for _ in range(2):  # Telegram delivers again when it did not see the 200
        response = await client.post(path_of(connection), content=body, headers=telegram_headers(secret))
        assert response.status_code == 200, response.text
    assert await stored(db, "telegram") == ["hello bot"]
    async with db.session() as session:
        user = (await session.execute(select(PlatformUser))).scalar_one()
        chat = (await session.execute(select(PlatformChannel))).scalar_one()
    assert (user.platform_user_id, user.name) == ("1111111", "analima")
    assert chat.platform_chat_id == "1111111"

    listed = (await client.get(f"/api/v1/bots/{bot_id}/channels", headers=ann.headers)).json()
    assert listed[0]["last_inbound_at"] is not None and "secrets" not in listed[0]


async def test_telegram_test_and_register_call_the_bot_api(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms, settings: Settings
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    base = f"/api/v1/bots/{bot_id}/channels/{connection['id']}"
    tested = (await client.post(f"{base}/test", headers=ann.headers)).json()
    assert tested["ok"] and tested["info"]["bot_username"] == "fake_wirework_bot"
    registered = (await client.post(f"{base}/register", headers=ann.headers)).json()
    assert registered["ok"], registered
    assert fake.registered["telegram"]["url"] == connection["inbound_url"]
    assert fake.registered["telegram"]["secret_token"] == connection["secrets"]["secret_token"]
    assert connection["inbound_url"].startswith(settings.effective_public_url + "/channels/telegram/")
    # a wrong token: the test says so, and the connection shows the error
    await client.patch(base, json={"values": {"bot_token": "1:wrong"}}, headers=ann.headers)
    tested = (await client.post(f"{base}/test", headers=ann.headers)).json()
    assert not tested["ok"] and "Unauthorized" in tested["detail"]
    assert "Unauthorized" in (await client.get(base, headers=ann.headers)).json()["last_error"]


async def test_slack_signed_events_are_stored_and_replays_refused(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    connection = await connect(
        client, ann, bot_id, "slack", {"bot_token": SLACK_TOKEN, "signing_secret": secret}
    )
    url, now = path_of(connection), int(time.time())

    challenge = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"}).encode()
    answered = await client.post(url, content=challenge, headers=slack_headers(secret, challenge, now))
    assert answered.json() == {"challenge": "abc123"}

    body = json.dumps(slack_event("hi from slack")).encode()
    old = await client.post(url, content=body, headers=slack_headers(secret, body, now - 600))
    assert old.status_code == 401 and "replay" in old.json()["detail"]
    forged = await client.post(url, content=body, headers=slack_headers("not-the-secret", body, now))
    assert forged.status_code == 401
    assert await stored(db, "slack") == []
    for retry in range(2):  # Slack retries with X-Slack-Retry-Num
        headers = {**slack_headers(secret, body, now), "X-Slack-Retry-Num": str(retry)}
        assert (await client.post(url, content=body, headers=headers)).status_code == 200
    echo = json.dumps(slack_event("my own reply", ts="1355517600.000001", bot_id="B0BOT")).encode()
    assert (await client.post(url, content=echo, headers=slack_headers(secret, echo, now))).status_code == 200
    assert await stored(db, "slack") == ["hi from slack"]


async def test_discord_interactions_are_verified_with_ed25519(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    private, public = discord_keys()
    impostor, _ = discord_keys()
    connection = await connect(
        client,
        ann,
        bot_id,
        "discord",
        {"application_id": "775799577604522054", "public_key": public, "bot_token": DISCORD_TOKEN},
    )
    url, now = path_of(connection), int(time.time())
    ping = json.dumps(
        {"type": 1, "id": "1", "application_id": "775799577604522054", "token": "t", "version": 1}
    )
    # Discord checks the endpoint with a bad signature first and refuses one that accepts it
    assert (
        await client.post(url, content=ping, headers=discord_headers(impostor, ping.encode(), now))
    ).status_code == 401
    pong = await client.post(url, content=ping, headers=discord_headers(private, ping.encode(), now))
    assert pong.json() == {"type": 1}

    command = json.dumps(
        discord_command("chat", [{"type": 3, "name": "message", "value": "hello discord"}])
    ).encode()
    for _ in range(2):
        answer = await client.post(url, content=command, headers=discord_headers(private, command, now))
        assert answer.status_code == 200 and answer.json()["type"] == 4
    assert await stored(db, "discord") == ["hello discord"]


async def test_whatsapp_verify_signature_and_dedup(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(
        client,
        ann,
        bot_id,
        "whatsapp",
        {"phone_number_id": WHATSAPP_PHONE_ID, "access_token": WHATSAPP_TOKEN, "app_secret": "appsecret123"},
    )
    url, verify_token = path_of(connection), connection["secrets"]["verify_token"]
    query = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": "1158201444"}
    verified = await client.get(url, params=query)
    assert (verified.status_code, verified.text) == (200, "1158201444")
    assert (await client.get(url, params={**query, "hub.verify_token": "guess"})).status_code == 403

    body = json.dumps(whatsapp_notification("Hola")).encode()
    assert (await client.post(url, content=body, headers=whatsapp_headers("wrong", body))).status_code == 401
    assert await stored(db, "whatsapp") == []
    for _ in range(3):
        assert (
            await client.post(url, content=body, headers=whatsapp_headers("appsecret123", body))
        ).status_code == 200
    assert await stored(db, "whatsapp") == ["Hola"]


async def test_webhook_channel_answers_each_message_status(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "webhook", {"outbound_url": f"{fake.url}/hook"})
    secret, url, now = connection["secrets"]["signing_secret"], path_of(connection), int(time.time())
    body = json.dumps({"chat_id": "c1", "user_id": "u1", "text": "ping", "message_id": "m1"}).encode()
    assert (await client.post(url, content=body, headers=webhook_headers("x", body, now))).status_code == 401
    first = await client.post(url, content=body, headers=webhook_headers(secret, body, now))
    again = await client.post(url, content=body, headers=webhook_headers(secret, body, now))
    assert first.json()["messages"] == [{"message_id": "m1", "status": "stored"}]
    assert again.json()["messages"] == [{"message_id": "m1", "status": "duplicate"}]
    bad = json.dumps({"chat_id": "c1", "text": "no user"}).encode()
    missing = await client.post(url, content=bad, headers=webhook_headers(secret, bad, now))
    assert missing.status_code == 400 and "user_id" in missing.json()["detail"]
    assert await stored(db, "webhook") == ["ping"]


async def test_unknown_paused_or_oversized_deliveries_are_refused(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms, settings: Settings
) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    headers = telegram_headers(connection["secrets"]["secret_token"])
    body = json.dumps(telegram_update("hi")).encode()
    token = path_of(connection).rsplit("/", 1)[1]
    assert (
        await client.post(f"/channels/telegram/{'x' * 43}", content=body, headers=headers)
    ).status_code == 404
    assert (await client.post(f"/channels/slack/{token}", content=body, headers=headers)).status_code == 404
    assert (await client.post(f"/channels/nope/{token}", content=body, headers=headers)).status_code == 404
    big = json.dumps(telegram_update("x" * (settings.channel_max_body_bytes + 10))).encode()
    too_big = await client.post(path_of(connection), content=big, headers=headers)
    assert too_big.status_code == 413
    base = f"/api/v1/bots/{bot_id}/channels/{connection['id']}"
    paused = await client.patch(base, json={"is_active": False}, headers=ann.headers)
    assert paused.json()["is_active"] is False
    assert (await client.post(path_of(connection), content=body, headers=headers)).status_code == 404
    assert await stored(db, "telegram") == []


async def test_connections_check_their_values(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    cases = [
        ("telegram", {}, "values.bot_token"),
        ("telegram", {"bot_token": "1:a", "secret_token": "has spaces"}, "values.secret_token"),
        ("discord", {"application_id": "1", "public_key": "zz", "bot_token": "t"}, "values.public_key"),
        ("webhook", {"outbound_url": "ftp://example.com/x"}, "values.outbound_url"),
        ("telegram", {"bot_token": "1:a", "password": "x"}, "values.password"),
    ]
    for platform, values, where in cases:
        response = await client.post(
            f"/api/v1/bots/{bot_id}/channels",
            json={"platform": platform, "name": "x", "values": values},
            headers=ann.headers,
        )
        assert response.status_code == 422, (platform, response.text)
        assert where in response.json()["detail"], response.text
    unknown = await client.post(
        f"/api/v1/bots/{bot_id}/channels", json={"platform": "irc", "name": "x"}, headers=ann.headers
    )
    assert unknown.status_code == 422 and "telegram" in unknown.json()["detail"]


async def test_deleting_a_connection_deletes_its_secrets(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Credential))).scalar_one() == 1
    deleted = await client.delete(f"/api/v1/bots/{bot_id}/channels/{connection['id']}", headers=ann.headers)
    assert deleted.status_code == 204
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Credential))).scalar_one() == 0
        assert (await session.execute(select(func.count()).select_from(PlatformBot))).scalar_one() == 0


async def test_another_organization_sees_no_connection(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    settings.open_signup = True
    ann = await signup(client, "ann", org_name="A")
    bob = await signup(client, "bob", org_name="B")
    bot_id = await make_bot(db, bob)
    connection = await connect(client, bob, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    base, item = f"/api/v1/bots/{bot_id}", f"/api/v1/bots/{bot_id}/channels/{connection['id']}"
    attempts = [
        ("GET", f"{base}/platforms", None),
        ("GET", f"{base}/channels", None),
        ("POST", f"{base}/channels", {"platform": "telegram", "name": "x", "values": {"bot_token": "1:a"}}),
        ("GET", item, None),
        ("PATCH", item, {"is_active": False}),
        ("DELETE", item, None),
        ("POST", f"{item}/test", None),
        ("POST", f"{item}/register", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=ann.headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
    # Ann's own bot cannot reach Bob's connection by its id either
    own_bot = await make_bot(db, ann)
    response = await client.get(f"/api/v1/bots/{own_bot}/channels/{connection['id']}", headers=ann.headers)
    assert response.status_code == 404
    assert (await client.get(item, headers=bob.headers)).json()["is_active"] is True


async def test_refused_messages_are_answered_so_platforms_stop_retrying(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    """A message longer than the bot takes is dropped politely: 200 to Telegram (which would
    deliver it again and again otherwise), the reason to the webhook's caller and to the Discord
    user; nothing is stored."""
    ann = await signup(client, "ann")
    async with db.session() as session:
        bot = Bot(
            org_id=uuid.UUID(ann.org_id),
            name="Terse",
            public_id=uuid.uuid4().hex,
            settings={"max_message_length": 5},
        )
        session.add(bot)
        await session.commit()
        bot_id = str(bot.id)
    telegram = await connect(client, ann, bot_id, "telegram", {"bot_token": TELEGRAM_TOKEN})
    body = json.dumps(telegram_update("far too long for this bot")).encode()
    answer = await client.post(
        path_of(telegram), content=body, headers=telegram_headers(telegram["secrets"]["secret_token"])
    )
    assert answer.status_code == 200

    webhook = await connect(client, ann, bot_id, "webhook", {"outbound_url": f"{fake.url}/hook"})
    body = json.dumps({"chat_id": "c", "user_id": "u", "text": "far too long", "message_id": "m9"}).encode()
    answer = await client.post(
        path_of(webhook),
        content=body,
        headers=webhook_headers(webhook["secrets"]["signing_secret"], body, int(time.time())),
    )
    (result,) = answer.json()["messages"]
    assert result["status"] == "refused" and result["reason"]

    private, public = discord_keys()
    discord = await connect(
        client,
        ann,
        bot_id,
        "discord",
        {"application_id": "1", "public_key": public, "bot_token": DISCORD_TOKEN},
    )
    body = json.dumps(
        discord_command("chat", [{"type": 3, "name": "message", "value": "far too long"}])
    ).encode()
    answer = await client.post(
        path_of(discord), content=body, headers=discord_headers(private, body, int(time.time()))
    )
    assert answer.status_code == 200
    assert answer.json()["data"] == {"content": result["reason"], "flags": 64}
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 0


async def test_webhook_ids_at_and_past_their_columns_are_stored_or_refused_never_a_500(
    client: httpx.AsyncClient, db: Database, fake: FakePlatforms
) -> None:
    """Ids of 200 characters (the columns' size) are stored on every database, a repeat of one is a
    duplicate; longer ones, and `"text": true`, are a 400 problem and store nothing. Past 200 they
    were 500s on PostgreSQL and MariaDB."""
    ann = await signup(client, "ann")
    bot_id = await make_bot(db, ann)
    connection = await connect(client, ann, bot_id, "webhook", {"outbound_url": f"{fake.url}/hook"})
    secret, url, now = connection["secrets"]["signing_secret"], path_of(connection), int(time.time())
    ids = {"chat_id": "c" * 200, "user_id": "u" * 200, "message_id": "m" * 200}
    body = json.dumps({**ids, "text": "long ids", "user_name": "n" * 300}).encode()
    for expected in ("stored", "duplicate"):
        answer = await client.post(url, content=body, headers=webhook_headers(secret, body, now))
        assert answer.status_code == 200, answer.text
        assert answer.json()["messages"][0]["status"] == expected
    for field, value in [*((k, v + "x") for k, v in ids.items()), ("text", True)]:
        bad = json.dumps({**ids, "text": "too long", field: value}).encode()
        refused = await client.post(url, content=bad, headers=webhook_headers(secret, bad, now))
        assert refused.status_code == 400, (field, refused.text)
        assert (
            refused.headers["content-type"] == "application/problem+json"
            and field in refused.json()["detail"]
        )
    assert await stored(db, "webhook") == ["long ids"]
    async with db.session() as session:
        assert await session.scalar(select(PlatformUser.name)) == "n" * 200
