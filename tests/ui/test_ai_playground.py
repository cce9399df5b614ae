"""The chat playground of an AI agent node in the editor: a message runs the canvas's draft against
a local server playing OpenAI, the answer shows with the agent's tool steps, and the next message
carries the conversation so far as `history`. Also: the web chat widget shows an AI answer growing
(partial text) before the stored message completes it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.llm_server import FakeLLM, fake_llm_in_thread, text, tool_call
from tests.support.server import running_server
from tests.ui.browser import ApiUser, Shots, open_node


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with fake_llm_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def ai_server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM, browser: Any) -> Iterator[str]:
    """A server that may reach the fake model on 127.0.0.1 (browser first: it skips without chromium)."""
    data_dir: Path = tmp_path_factory.mktemp("ai-ui")
    env = {"WIREWORK_OPEN_SIGNUP": "true", "WIREWORK_HTTP_ALLOW_HOSTS": "127.0.0.1"}
    with running_server(data_dir, **env) as (url, _process):
        yield url


def user_with_model(base: str, name: str, llm: FakeLLM) -> ApiUser:
    signup = httpx.post(
        f"{base}/api/v1/auth/signup",
        json={"email": f"{name}@example.com", "username": name, "password": "a-long-password"},
    )
    assert signup.status_code == 201, signup.text
    session = signup.json()["session"]
    user = ApiUser(base, session["token"], session["csrf_token"])
    model = httpx.post(
        f"{base}/api/v1/ai/models",
        json={
            "name": "fake",
            "provider": "openai",
            "model_id": "fake-gpt",
            "configuration": {"base_url": llm.openai_url},
        },
        headers=user.headers,
    )
    assert model.status_code == 201, model.text
    default = httpx.post(f"{base}/api/v1/ai/models/{model.json()['id']}/default", headers=user.headers)
    assert default.status_code == 200, default.text
    return user


def workflow(base: str, user: ApiUser, name: str, definition: dict[str, Any]) -> str:
    response = httpx.post(
        f"{base}/api/v1/workflows", json={"name": name, "definition": definition}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_chat_with_an_agent_node_in_the_editor(
    browser: Any, ai_server: str, llm: FakeLLM, request: pytest.FixtureRequest
) -> None:
    user = user_with_model(ai_server, "playground", llm)
    orders = workflow(
        ai_server,
        user,
        "Orders",
        {
            "nodes": [
                {"id": "t", "name": "Start", "type": "core.manual_trigger", "parameters": {}},
                {
                    "id": "s",
                    "name": "Status",
                    "type": "core.set",
                    "parameters": {"fields": {"status": "shipped"}},
                },
            ],
            "edges": [{"from": "t", "output": "main", "to": "s", "input": "main"}],
            "settings": {},
        },
    )
    agent = {
        "id": "a",
        "name": "Helper",
        "type": "ai.agent",
        "position": [300, 0],
        "parameters": {
            "system": "You answer questions about orders.",
            "tools": [
                {
                    "kind": "workflow",
                    "name": "order_status",
                    "description": "The status of an order.",
                    "workflow_id": orders,
                    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
                }
            ],
        },
    }
    trigger = {
        "id": "t",
        "name": "Start",
        "type": "core.manual_trigger",
        "parameters": {},
        "position": [0, 0],
    }
    workflow_id = workflow(
        ai_server,
        user,
        "Order helper",
        {"nodes": [trigger, agent], "edges": [{"from": "t", "output": "main", "to": "a"}], "settings": {}},
    )
    llm.reply(tool_call("order_status", {"order": "A1"}), text("Order A1 is shipped."), text("A2 is too."))
    asked_before = len(llm.chat_requests())

    context = browser.new_context(base_url=ai_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    try:
        user.login(page)
        page.goto(f"/workflows/{workflow_id}")
        open_node(page, "Helper")
        page.get_by_role("tab", name=re.compile("Chat")).click()
        page.get_by_label("Playground message").fill("Where is my order A1?")
        page.get_by_role("button", name="Send").click()

        log = page.get_by_role("log", name="Playground conversation")
        expect(log.get_by_test_id("playground-assistant")).to_contain_text("Order A1 is shipped.")
        step = log.get_by_test_id("playground-step")
        expect(step).to_contain_text('order_status({"order":"A1"})')
        step.locator("summary").click()
        expect(step).to_contain_text('"status":"shipped"')
        shots("first-answer")

        page.get_by_label("Playground message").fill("And A2?")
        page.get_by_role("button", name="Send").click()
        expect(log.get_by_test_id("playground-assistant").nth(1)).to_contain_text("A2 is too.")
        shots("second-answer")
    finally:
        context.close()

    first, _, second = llm.chat_requests()[asked_before:]
    assert first.body["messages"][0] == {"role": "system", "content": "You answer questions about orders."}
    assert [(m["role"], m["content"]) for m in second.body["messages"]] == [
        ("system", "You answer questions about orders."),
        ("user", "Where is my order A1?"),
        ("assistant", "Order A1 is shipped."),
        ("user", "And A2?"),
    ]


def test_the_web_chat_widget_shows_an_ai_answer_growing(
    browser: Any, ai_server: str, llm: FakeLLM, request: pytest.FixtureRequest
) -> None:
    user = user_with_model(ai_server, "widget", llm)
    dialog = workflow(
        ai_server,
        user,
        "Dialog",
        {
            "nodes": [
                {"id": "t", "name": "Chat", "type": "chat.trigger", "parameters": {}},
                {"id": "c", "name": "Answer", "type": "ai.chat", "parameters": {"reply": True}},
            ],
            "edges": [{"from": "t", "output": "main", "to": "c", "input": "main"}],
            "settings": {},
        },
    )
    bot = httpx.post(
        f"{ai_server}/api/v1/bots",
        json={"name": "Streamer", "dialog_workflow_id": dialog, "settings": {"web_chat_enabled": True}},
        headers=user.headers,
    )
    assert bot.status_code == 201, bot.text
    answer = "This answer arrives a few characters at a time, as the model writes it."
    llm.reply(text(answer, chunk_delay=0.15))

    context = browser.new_context(base_url=ai_server, viewport={"width": 1000, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    try:
        page.goto(f"/chat/{bot.json()['public_id']}")
        launcher = page.get_by_role("button", name="Open chat")
        if launcher.is_visible():
            launcher.click()
        panel = page.get_by_role("dialog", name="Chat")
        panel.get_by_text("Online").wait_for()
        box = panel.get_by_label("Message")
        box.fill("Tell me something")
        box.press("Enter")
        growing = page.locator(".ww-partial .ww-bubble")
        expect(growing).to_be_visible()
        partial = growing.inner_text()
        assert answer.startswith(partial) and partial != answer
        shots("growing")
        done = page.locator(".ww-theirs .ww-bubble", has_text=answer)
        expect(done).to_have_count(1)
        expect(page.locator(".ww-partial")).to_have_count(0)
        shots("complete")
    finally:
        context.close()
