"""Each platform adapter alone, against payloads and signatures made the way the platform makes
them, and against the local fake platform server: verification (good, bad, missing, replayed),
reading messages (bots and echoes left out), sending, rate limits and permanent errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

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
from wirework.channels.base import (
    BadSignature,
    Outbound,
    SendFailed,
    SendLater,
    hmac_sha256_hex,
    platform_client,
    split_text,
)
from wirework.channels.discord import Discord
from wirework.channels.slack import Slack
from wirework.channels.telegram import Telegram
from wirework.channels.webhook import Webhook
from wirework.channels.whatsapp import WhatsApp
from wirework.security.ssrf import SsrfPolicy, guarded_client


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture
async def fake() -> AsyncIterator[FakePlatforms]:
    async with fake_platforms() as platforms:
        yield platforms


def _out(fake: FakePlatforms, platform: str, secrets: dict[str, str], **settings: Any) -> Outbound:
    return Outbound(platform_client(), fake.base(platform), settings, secrets)


# ---------------------------------------------------------------- Telegram


def test_telegram_checks_the_secret_token_header() -> None:
    telegram, secrets = Telegram(), {"secret_token": "s3cret-token_1"}
    body = json.dumps(telegram_update("hi")).encode()
    telegram.verify(_lower(telegram_headers("s3cret-token_1")), body, secrets, time.time())
    for headers in ({}, _lower(telegram_headers("s3cret-token_2")), _lower(telegram_headers(""))):
        with pytest.raises(BadSignature):
            telegram.verify(headers, body, secrets, time.time())
    with pytest.raises(BadSignature):  # a connection without a token accepts nothing
        telegram.verify(_lower(telegram_headers("")), body, {}, time.time())


def test_telegram_reads_text_messages_and_leaves_bots_and_edits_out() -> None:
    parsed = Telegram().parse(telegram_update("hello there", message_id=7), {})
    (message,) = parsed.messages
    assert (message.chat_id, message.user_id, message.text) == ("1111111", "1111111", "hello there")
    assert (message.platform_message_id, message.chat_kind, message.user_name) == (
        "1111111:7",
        "direct",
        "analima",
    )
    assert Telegram().parse(telegram_update("beep", is_bot=True), {}).messages == []
    edited = {"update_id": 5, "edited_message": telegram_update("x")["message"]}
    assert Telegram().parse(edited, {}).messages == []
    group = telegram_update("hi all")
    group["message"]["chat"] = {"id": -100200, "title": "Team", "type": "supergroup"}
    (message,) = Telegram().parse(group, {}).messages
    assert (message.chat_id, message.chat_name, message.chat_kind) == ("-100200", "Team", "group")


async def test_telegram_sends_tests_registers_and_honours_retry_after(fake: FakePlatforms) -> None:
    telegram = Telegram()
    out = _out(fake, "telegram", {"bot_token": TELEGRAM_TOKEN, "secret_token": "tok"})
    assert await telegram.test(out) == {"bot_username": "fake_wirework_bot", "bot_id": "123456789"}
    await telegram.register(out, "https://wirework.example.com/channels/telegram/abc")
    assert fake.registered["telegram"]["url"] == "https://wirework.example.com/channels/telegram/abc"
    assert fake.registered["telegram"]["secret_token"] == "tok"
    assert await telegram.send_one(out, "1111111", "hello") == "1000"
    fake.throttle["telegram"], fake.retry_after = 1, 7
    with pytest.raises(SendLater) as later:
        await telegram.send_one(out, "1111111", "again")
    assert later.value.after_s == 7
    with pytest.raises(SendFailed, match="blocked by the user"):
        await telegram.send_one(out, "403", "hello")
    with pytest.raises(SendFailed, match="Unauthorized"):
        await telegram.test(_out(fake, "telegram", {"bot_token": "123:wrong"}))
    assert fake.texts("telegram") == ["hello"]


# ---------------------------------------------------------------- Slack


def test_slack_checks_the_signature_and_refuses_replays() -> None:
    slack, secrets = Slack(), {"signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}
    body = json.dumps(slack_event("hi")).encode()
    now = time.time()
    slack.verify(_lower(slack_headers(secrets["signing_secret"], body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature, match="wrong"):
        slack.verify(_lower(slack_headers("another-secret", body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature, match="wrong"):  # the body changed after signing
        slack.verify(
            _lower(slack_headers(secrets["signing_secret"], body, int(now))), body + b" ", secrets, now
        )
    with pytest.raises(BadSignature, match="replay"):  # a correct signature, six minutes old
        slack.verify(
            _lower(slack_headers(secrets["signing_secret"], body, int(now) - 360)), body, secrets, now
        )
    with pytest.raises(BadSignature, match="no X-Slack-Signature"):
        slack.verify({}, body, secrets, now)


def test_slack_answers_the_challenge_and_ignores_bots_and_edits() -> None:
    slack = Slack()
    challenge = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    assert slack.parse(challenge, {}).answer == {"challenge": challenge["challenge"]}
    (message,) = slack.parse(slack_event("hello"), {}).messages
    assert (message.chat_id, message.user_id, message.chat_kind) == ("D0PNCRP9N", "U2147483697", "direct")
    assert message.platform_message_id == "D0PNCRP9N:1355517523.000005"
    assert slack.parse(slack_event("echo", bot_id="B0BOT"), {}).messages == []
    assert slack.parse(slack_event("edit", subtype="message_changed"), {}).messages == []
    own = slack_event("mine")
    own["event"]["user"] = "U0BOT"
    assert slack.parse(own, {"bot_user_id": "U0BOT"}).messages == []


async def test_slack_sends_with_the_bot_token_and_honours_retry_after(fake: FakePlatforms) -> None:
    slack = Slack()
    out = _out(fake, "slack", {"bot_token": SLACK_TOKEN})
    assert (await slack.test(out))["bot_user_id"] == "U0BOT"
    sent_id = await slack.send_one(out, "C024BE91L", "hello")
    assert sent_id is not None and sent_id.startswith("C024BE91L:1700000000.")
    assert fake.sent[-1].headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    fake.throttle["slack"], fake.retry_after = 1, 3
    with pytest.raises(SendLater) as later:
        await slack.send_one(out, "C024BE91L", "again")
    assert later.value.after_s == 3
    with pytest.raises(SendFailed, match="channel_not_found"):
        await slack.send_one(out, "C_MISSING", "hello")
    with pytest.raises(SendFailed, match="invalid_auth"):
        await slack.send_one(_out(fake, "slack", {"bot_token": "xoxb-wrong"}), "C024BE91L", "hello")


# ---------------------------------------------------------------- Discord


def test_discord_checks_the_ed25519_signature() -> None:
    discord = Discord()
    private, public = discord_keys()
    other, _ = discord_keys()
    secrets = {"public_key": public}
    body = json.dumps({"type": 1, "id": "1", "application_id": "2", "token": "t", "version": 1}).encode()
    now = time.time()
    discord.verify(_lower(discord_headers(private, body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature):  # signed by another key, as Discord's own endpoint check does
        discord.verify(_lower(discord_headers(other, body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature):
        discord.verify(
            _lower(discord_headers(private, body, int(now))), body.replace(b"1", b"2"), secrets, now
        )
    with pytest.raises(BadSignature, match="replay"):
        discord.verify(_lower(discord_headers(private, body, int(now) - 600)), body, secrets, now)
    with pytest.raises(BadSignature):
        discord.verify({"x-signature-ed25519": "zz", "x-signature-timestamp": "1"}, body, secrets, now)


def test_discord_pongs_and_reads_commands_as_text() -> None:
    discord = Discord()
    assert discord.parse({"type": 1}, {}).answer == {"type": 1}
    parsed = discord.parse(
        discord_command("chat", [{"type": 3, "name": "message", "value": "hello bot"}]), {}
    )
    (message,) = parsed.messages
    assert (message.text, message.chat_id, message.chat_kind) == ("hello bot", "645027906669510667", "group")
    assert (message.user_id, message.user_name, message.platform_message_id) == (
        "53908232506183680",
        "Mason",
        "786008729715212338",
    )
    assert parsed.answer["type"] == 4 and parsed.answer["data"]["content"] == "hello bot"
    todo = discord_command(
        "todo", [{"type": 1, "name": "add", "options": [{"type": 3, "name": "item", "value": "buy milk"}]}]
    )
    assert discord.parse(todo, {}).messages[0].text == "todo add buy milk"


async def test_discord_replies_as_the_bot_and_honours_retry_after(fake: FakePlatforms) -> None:
    discord = Discord()
    out = _out(fake, "discord", {"bot_token": DISCORD_TOKEN})
    assert (await discord.test(out))["bot_username"] == "wirework-bot"
    assert await discord.send_one(out, "645027906669510667", "hi") == "1000"
    fake.throttle["discord"], fake.retry_after = 1, 2.5
    with pytest.raises(SendLater) as later:
        await discord.send_one(out, "645027906669510667", "again")
    assert later.value.after_s == 2.5
    with pytest.raises(SendFailed, match="Unauthorized"):
        await discord.send_one(_out(fake, "discord", {"bot_token": "wrong"}), "645027906669510667", "hi")


# ---------------------------------------------------------------- WhatsApp


def test_whatsapp_verify_request_and_signature() -> None:
    whatsapp, secrets = WhatsApp(), {"verify_token": "my-verify", "app_secret": "appsecret123"}
    query = {"hub.mode": "subscribe", "hub.verify_token": "my-verify", "hub.challenge": "1158201444"}
    assert whatsapp.challenge(query, secrets) == "1158201444"
    assert whatsapp.challenge({**query, "hub.verify_token": "guess"}, secrets) is None
    body = json.dumps(whatsapp_notification("hi")).encode()
    whatsapp.verify(_lower(whatsapp_headers("appsecret123", body)), body, secrets, time.time())
    with pytest.raises(BadSignature):
        whatsapp.verify(_lower(whatsapp_headers("other", body)), body, secrets, time.time())
    with pytest.raises(BadSignature):
        whatsapp.verify({}, body, secrets, time.time())


def test_whatsapp_reads_messages_and_acknowledges_statuses() -> None:
    parsed = WhatsApp().parse(whatsapp_notification("Hola"), {"phone_number_id": WHATSAPP_PHONE_ID})
    (message,) = parsed.messages
    assert (message.chat_id, message.user_name, message.text) == ("16315551234", "Kerry Fisher", "Hola")
    status = whatsapp_notification("x")
    value = status["entry"][0]["changes"][0]["value"]
    del value["messages"]
    value["statuses"] = [{"id": "wamid.X", "status": "delivered", "timestamp": "1", "recipient_id": "1"}]
    assert WhatsApp().parse(status, {}).messages == []
    # a notification for another phone number of the same app is not this connection's
    assert WhatsApp().parse(whatsapp_notification("x"), {"phone_number_id": "999"}).messages == []


async def test_whatsapp_sends_and_backs_off_when_rate_limited(fake: FakePlatforms) -> None:
    whatsapp = WhatsApp()
    out = _out(fake, "whatsapp", {"access_token": WHATSAPP_TOKEN}, phone_number_id=WHATSAPP_PHONE_ID)
    assert (await whatsapp.test(out))["verified_name"] == "Fake Shop"
    assert (await whatsapp.send_one(out, "16315551234", "hi")) == "wamid.FAKE1000"
    fake.throttle["whatsapp"] = 1
    with pytest.raises(SendLater):
        await whatsapp.send_one(out, "16315551234", "again")
    bad = _out(fake, "whatsapp", {"access_token": "expired"}, phone_number_id=WHATSAPP_PHONE_ID)
    with pytest.raises(SendFailed, match="code 190"):
        await whatsapp.send_one(bad, "16315551234", "hi")


# ---------------------------------------------------------------- generic webhook


def test_webhook_signature_window_and_shape() -> None:
    webhook, secrets = Webhook(), {"signing_secret": "whsec"}
    body = json.dumps({"chat_id": "c1", "user_id": "u1", "text": "hi", "message_id": "m1"}).encode()
    now = time.time()
    webhook.verify(_lower(webhook_headers("whsec", body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature):
        webhook.verify(_lower(webhook_headers("nope", body, int(now))), body, secrets, now)
    with pytest.raises(BadSignature, match="replay"):
        webhook.verify(_lower(webhook_headers("whsec", body, int(now) - 301)), body, secrets, now)
    (message,) = webhook.parse(json.loads(body), {}).messages
    assert (message.chat_id, message.user_id, message.text, message.platform_message_id) == (
        "c1",
        "u1",
        "hi",
        "m1",
    )
    with pytest.raises(ValueError, match="needs text"):
        webhook.parse({"chat_id": "c1", "user_id": "u1"}, {})


async def test_webhook_replies_go_through_the_ssrf_guard(fake: FakePlatforms) -> None:
    webhook = Webhook()
    secrets = {"signing_secret": "whsec"}
    allowed = Outbound(
        guarded_client(SsrfPolicy.from_entries(["127.0.0.1"])),
        "",
        {"outbound_url": f"{fake.url}/hook"},
        secrets,
    )
    assert (await webhook.send_one(allowed, "c1", "hello")).startswith("hook-")  # type: ignore[union-attr]
    sent = fake.sent[-1]
    timestamp = sent.headers["x-wirework-signature"].split(",")[0][2:]
    assert (
        _lower(webhook_headers("whsec", sent.body, int(timestamp)))["x-wirework-signature"]
        == sent.headers["x-wirework-signature"]
    )
    refused = Outbound(guarded_client(SsrfPolicy()), "", {"outbound_url": f"{fake.url}/hook"}, secrets)
    with pytest.raises(SendFailed, match="loopback"):
        await webhook.send_one(refused, "c1", "hello")
    fake.throttle["webhook"] = 1
    with pytest.raises(SendLater):
        await webhook.send_one(allowed, "c1", "hello")


def test_long_texts_are_split_at_word_boundaries() -> None:
    text = ("word " * 1000).strip()
    pieces = split_text(text, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == text
    assert split_text("short", 100) == ["short"]
    assert "".join(split_text("x" * 250, 100)) == "x" * 250


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_non_finite_timestamp_is_no_timestamp(stamp: str) -> None:
    """float() reads "nan" and "inf", and NaN compares false with everything: a delivery signed with
    t=nan passed the replay window forever. Slack and the webhook channel refuse it as unsigned."""
    body = json.dumps({"chat_id": "c1", "user_id": "u1", "text": "hi"}).encode()
    webhook_signature = hmac_sha256_hex("whsec", stamp.encode() + b"." + body)
    with pytest.raises(BadSignature, match="finite"):
        Webhook().verify(
            {"x-wirework-signature": f"t={stamp},v1={webhook_signature}"},
            body,
            {"signing_secret": "whsec"},
            0,
        )
    slack_signature = "v0=" + hmac_sha256_hex("slsec", f"v0:{stamp}:".encode() + body)
    with pytest.raises(BadSignature, match="finite"):
        Slack().verify(
            {"x-slack-request-timestamp": stamp, "x-slack-signature": slack_signature},
            body,
            {"signing_secret": "slsec"},
            time.time(),
        )


def test_webhook_ids_and_text_are_strictly_typed_and_bounded() -> None:
    """`"text": true` was stored as "True" (a bool is an int to Python), and ids past the 200-character
    columns were 500s on PostgreSQL and MariaDB: each is a ValueError (a 400) naming the field."""
    webhook = Webhook()
    good = {"chat_id": 42, "user_id": "u" * 200, "text": "hi", "message_id": 7}
    (message,) = webhook.parse(good, {}).messages
    assert (message.chat_id, message.platform_message_id) == ("42", "7")
    for field, value in [
        ("text", True),
        ("text", 5),
        ("chat_id", True),
        ("user_id", "u" * 201),
        ("chat_id", ""),
        ("message_id", "m" * 201),
        ("message_id", False),
        ("user_id", 1.5),
    ]:
        with pytest.raises(ValueError, match=field):
            webhook.parse({**good, field: value}, {})
    odd_kind = webhook.parse({**good, "chat_kind": ["group"], "user_name": 5}, {}).messages[0]
    assert (odd_kind.chat_kind, odd_kind.user_name) == ("direct", None)
