"""The bots pages: make a bot, talk to it in the test chat, open the conversation as a
transcript with its channel and latency, take it over and answer by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.ui.browser import ApiUser, Shots
from tests.ui.test_chat_widget import DIALOG


def test_a_bot_is_made_tested_and_its_conversation_taken_over(
    page: Any, api_user: ApiUser, shots: Shots
) -> None:
    httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        json={"name": "Echo dialog", "definition": DIALOG},
        headers=api_user.headers,
    ).raise_for_status()
    api_user.login(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/bots")
    page.get_by_role("button", name="New bot").click()
    page.get_by_label("Name").fill("Helper")
    page.get_by_label("Dialog workflow").select_option(label="Echo dialog")
    page.get_by_role("button", name="Create bot").click()
    page.get_by_role("heading", name="Helper").wait_for()
    page.get_by_role("region", name="Channels").wait_for()  # the chat platforms' section has its place

    page.get_by_role("button", name="Test chat").click()
    chat = page.get_by_role("complementary", name="Test chat")
    chat.get_by_label("Message").fill("ping")
    chat.get_by_role("button", name="Send").click()
    chat.get_by_text("You said: ping").wait_for()
    shots("test-chat")

    page.get_by_role("link", name="Conversations").first.click()
    page.get_by_role("link", name="ping").click()
    transcript = page.get_by_label("Transcript")
    transcript.get_by_text("You said: ping").wait_for()
    transcript.get_by_text(" · rest · ").first.wait_for()
    page.get_by_role("button", name="Take over").click()
    page.get_by_text("You answer by hand").wait_for()
    page.get_by_label("Message").fill("A person here.")
    page.get_by_role("button", name="Send").click()
    transcript.get_by_text("A person here.").wait_for()
    shots("taken-over")
    sessions = httpx.get(f"{api_user.base_url}/api/v1/sessions", headers=api_user.headers).json()["items"]
    assert sessions[0]["taken_over_by"] is not None and sessions[0]["message_count"] == 3
    assert errors == []  # no script error on the way
