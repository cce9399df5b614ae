"""The embeddable widget on a plain HTML page of another origin holds a conversation, and a
reload of that page continues it (the visitor id lives in that site's storage)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import free_port
from tests.ui.browser import ApiUser

DIALOG = {
    "nodes": [
        {"id": "t", "name": "Chat", "type": "chat.trigger"},
        {
            "id": "r",
            "name": "Reply",
            "type": "chat.reply",
            "parameters": {"text": "You said: {{ json.text }}"},
        },
    ],
    "edges": [{"from": "t", "to": "r"}],
    "settings": {},
}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Another site (another port: another origin) serving plain files."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{port}"
    server.shutdown()


def _bot(user: ApiUser, origins: list[str]) -> dict[str, Any]:
    workflow = httpx.post(
        f"{user.base_url}/api/v1/workflows",
        json={"name": "widget", "definition": DIALOG},
        headers=user.headers,
    ).json()["id"]
    response = httpx.post(
        f"{user.base_url}/api/v1/bots",
        json={
            "name": "Shop helper",
            "welcome_message": "Hello! How can I help?",
            "dialog_workflow_id": workflow,
            "settings": {"web_chat_enabled": True, "web_chat_origins": origins},
        },
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_the_widget_on_another_site_holds_a_conversation(
    page: Any, api_user: ApiUser, shop: tuple[Path, str]
) -> None:
    folder, site = shop
    bot = _bot(api_user, [site])
    (folder / "index.html").write_text(
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>"
        f'<script src="{api_user.base_url}/chat/widget.js" data-bot="{bot["public_id"]}" defer></script>'
        "</body></html>"
    )
    page.goto(f"{site}/index.html")
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog", name="Chat")
    panel.get_by_text("Shop helper").wait_for()
    panel.get_by_text("Online").wait_for()
    panel.get_by_text("Hello! How can I help?").wait_for()
    box = panel.get_by_label("Message")
    box.fill("Do you ship to Porto?")
    box.press("Enter")
    panel.get_by_text("You said: Do you ship to Porto?").wait_for()

    page.reload()  # the same visitor: the conversation goes on
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog", name="Chat")
    panel.get_by_text("You said: Do you ship to Porto?").wait_for()
    box = panel.get_by_label("Message")
    box.fill("Thanks")
    box.press("Enter")
    panel.get_by_text("You said: Thanks").wait_for()

    sessions = httpx.get(f"{api_user.base_url}/api/v1/sessions", headers=api_user.headers).json()["items"]
    assert [(s["channel"], s["message_count"]) for s in sessions] == [("web", 5)]


def test_a_site_not_on_the_list_gets_no_chat(page: Any, api_user: ApiUser, shop: tuple[Path, str]) -> None:
    folder, site = shop
    bot = _bot(api_user, ["https://elsewhere.example"])
    (folder / "index.html").write_text(
        "<!doctype html><body>"
        f'<script src="{api_user.base_url}/chat/widget.js" data-bot="{bot["public_id"]}"></script>'
    )
    page.goto(f"{site}/index.html")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_text("Chat not allowed on this site").wait_for()
