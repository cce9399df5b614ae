"""Connecting a bot to Telegram from its page: the step-by-step set-up, the inbound URL, Register
webhook and Test against a local server playing the Telegram Bot API, a message coming in, and
removing the connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.channels.fakes import (
    TELEGRAM_TOKEN,
    FakePlatforms,
    fake_platforms_in_thread,
    telegram_headers,
    telegram_update,
)
from tests.support.server import running_server
from tests.ui.browser import ApiUser, Shots


@pytest.fixture(scope="module")
def telegram_fake() -> Iterator[FakePlatforms]:
    with fake_platforms_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def channels_server(
    tmp_path_factory: pytest.TempPathFactory, telegram_fake: FakePlatforms, browser: Any
) -> Iterator[str]:
    """A server whose Telegram API is the local fake (browser first: it skips without chromium)."""
    data_dir: Path = tmp_path_factory.mktemp("channels-ui")
    env = {"WIREWORK_OPEN_SIGNUP": "true", "WIREWORK_TELEGRAM_API_URL": telegram_fake.base("telegram")}
    with running_server(data_dir, **env) as (url, _process):
        yield url


def test_connect_a_telegram_bot_step_by_step(
    browser: Any, channels_server: str, telegram_fake: FakePlatforms, request: pytest.FixtureRequest
) -> None:
    signup = httpx.post(
        f"{channels_server}/api/v1/auth/signup",
        json={"email": "tg@example.com", "username": "tg", "password": "a-long-password"},
    )
    session = signup.json()["session"]
    user = ApiUser(channels_server, session["token"], session["csrf_token"])
    bot = httpx.post(f"{channels_server}/api/v1/bots", json={"name": "Helpdesk"}, headers=user.headers).json()

    context = browser.new_context(base_url=channels_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    try:
        user.login(page)
        page.goto(f"/bots/{bot['id']}")
        channels = page.get_by_role("region", name="Channels")
        expect(channels.get_by_text("Not connected to any chat platform yet.")).to_be_visible()
        channels.get_by_role("button", name="Connect a platform").click()
        dialog = page.get_by_role("dialog", name="Connect a chat platform")
        expect(dialog.get_by_role("heading", name="Slack")).to_be_visible()  # every platform is offered
        dialog.get_by_role("button", name="Set up Telegram").click()
        expect(dialog.get_by_text("@BotFather", exact=False).first).to_be_visible()  # the steps
        shots("telegram-steps")
        dialog.get_by_label("Bot token").fill(TELEGRAM_TOKEN)
        dialog.get_by_role("button", name="Connect").click()

        inbound_url = dialog.get_by_test_id("inbound-url").inner_text()
        assert inbound_url.startswith(f"{channels_server}/channels/telegram/")
        secret_token = dialog.get_by_test_id("secret-secret_token").inner_text()
        dialog.get_by_role("button", name="Register webhook").click()
        expect(dialog.get_by_test_id("connect-result")).to_contain_text("Telegram now sends updates to")
        assert telegram_fake.registered["telegram"] == {
            "url": inbound_url,
            "secret_token": secret_token,
            "allowed_updates": ["message", "channel_post"],
        }
        dialog.get_by_role("button", name="Test connection").click()
        expect(dialog.get_by_test_id("connect-result")).to_contain_text("@fake_wirework_bot")
        shots("connected")
        dialog.get_by_role("button", name="Done").click()

        row = channels.get_by_test_id("channel-telegram")
        expect(row.get_by_text("@fake_wirework_bot")).to_be_visible()
        expect(row.get_by_text("active")).to_be_visible()

        # Telegram delivers a message with the secret token it was given
        body = json.dumps(telegram_update("hi from telegram")).encode()
        delivered = httpx.post(inbound_url, content=body, headers=telegram_headers(secret_token))
        assert delivered.status_code == 200, delivered.text
        page.reload()
        expect(channels.get_by_test_id("channel-telegram").locator("td").nth(3)).not_to_have_text("—")
        channels.scroll_into_view_if_needed()
        shots("message-in")

        page.once("dialog", lambda d: d.accept())
        channels.get_by_test_id("channel-telegram").get_by_role("button", name="Remove").click()
        expect(channels.get_by_text("Not connected to any chat platform yet.")).to_be_visible()
        assert (
            httpx.post(inbound_url, content=body, headers=telegram_headers(secret_token)).status_code == 404
        )
    finally:
        context.close()
