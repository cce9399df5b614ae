"""The editor's "Build with AI" box against a local server playing OpenAI: a sentence becomes a
new workflow (the diff shown first, feedback given), then a change to it lands on the canvas as
unsaved changes with its diff; a model that never gets it right says so. The workflow settings
offer the workflow as an MCP tool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.llm_server import FakeLLM, fake_llm_in_thread, text
from tests.support.server import running_server
from tests.ui.browser import ApiUser, Shots

GREET = {
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.manual_trigger", "parameters": {}},
        {"id": "greet", "name": "Greet", "type": "core.set", "parameters": {"fields": {"greeting": "Hi"}}},
    ],
    "edges": [{"from": "start", "to": "greet"}],
}
CHANGED = {
    "nodes": [
        {**GREET["nodes"][0], "position": [0, 0]},
        {**GREET["nodes"][1], "position": [260, 0], "parameters": {"fields": {"greeting": "Hello"}}},
        {
            "id": "top",
            "name": "Top 3",
            "type": "core.limit",
            "parameters": {"max_items": 3},
            "position": [520, 0],
        },
    ],
    "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "top"}],
}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with fake_llm_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def ai_server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM, browser: Any) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("ai-prompt-ui")
    env = {"WIREWORK_OPEN_SIGNUP": "true", "WIREWORK_HTTP_ALLOW_HOSTS": "127.0.0.1"}
    with running_server(data_dir, **env) as (url, _process):
        yield url


def user_with_model(base_url: str, llm: FakeLLM) -> ApiUser:
    signup = httpx.post(
        f"{base_url}/api/v1/auth/signup",
        json={"email": "prompt@example.com", "username": "prompt", "password": "a-long-password"},
    )
    session = signup.json()["session"]
    user = ApiUser(base_url, session["token"], session["csrf_token"])
    made = httpx.post(
        f"{base_url}/api/v1/ai/models",
        json={
            "name": "Planner",
            "provider": "openai",
            "model_id": "fake-gpt",
            "configuration": {"base_url": llm.openai_url},
        },
        headers=user.headers,
    )
    assert made.status_code == 201, made.text
    default = httpx.post(f"{base_url}/api/v1/ai/models/{made.json()['id']}/default", headers=user.headers)
    assert default.status_code == 200, default.text
    return user


def test_build_a_workflow_from_a_sentence_then_change_it(
    browser: Any, ai_server: str, llm: FakeLLM, request: pytest.FixtureRequest
) -> None:
    user = user_with_model(ai_server, llm)
    context = browser.new_context(base_url=ai_server, viewport={"width": 1500, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    try:
        user.login(page)
        page.goto("/workflows/new")
        expect(page.get_by_test_id("canvas")).to_be_visible()

        # A new workflow: the diff first, feedback, then the server creates it.
        llm.reply(text(json.dumps(GREET)))
        page.get_by_role("button", name="Build with AI").click()
        box = page.get_by_role("dialog", name="Build with AI")
        box.get_by_label("Prompt").fill("Greet everyone")
        box.get_by_role("button", name="Suggest").click()
        added = box.get_by_test_id("nodes-added")
        expect(added).to_contain_text("+ Start")
        expect(added).to_contain_text("+ Greet")
        expect(box.get_by_test_id("edges-added")).to_contain_text("+ Start → Greet")
        box.get_by_role("button", name="Good suggestion").click()
        expect(box.get_by_role("button", name="Good suggestion")).to_have_attribute("aria-pressed", "true")
        shots("new-workflow-diff")
        box.get_by_role("button", name="Create workflow").click()
        expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}$"))
        expect(page.locator(".react-flow__node")).to_have_count(2)
        expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")
        workflow_id = page.url.rsplit("/", 1)[1]
        listed = httpx.get(f"{ai_server}/api/v1/ai/suggestions", headers=user.headers).json()["items"]
        assert listed[0]["feedback"] == "positive" and listed[0]["applied_workflow_id"] == workflow_id

        # A change: its diff against the saved workflow, then unsaved changes on the canvas.
        llm.reply(text(json.dumps(CHANGED)))
        page.get_by_role("button", name="Build with AI").click()
        box = page.get_by_role("dialog", name="Build with AI")
        box.get_by_label("Prompt").fill("Say hello and keep three")
        box.get_by_role("button", name="Suggest").click()
        expect(box.get_by_test_id("nodes-added")).to_contain_text("+ Top 3")
        changed = box.get_by_test_id("nodes-changed")
        expect(changed).to_contain_text("~ Greet")
        expect(changed).to_contain_text('fields: {"greeting":"Hi"} → {"greeting":"Hello"}')
        expect(box.get_by_test_id("edges-added")).to_contain_text("+ Greet → Top 3")
        shots("change-diff")
        box.get_by_role("button", name="Apply to canvas").click()
        expect(box).to_be_hidden()
        expect(page.locator(".react-flow__node")).to_have_count(3)
        expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
        saved = httpx.get(f"{ai_server}/api/v1/workflows/{workflow_id}", headers=user.headers).json()
        assert [n["type"] for n in saved["definition"]["nodes"]] == [
            "core.manual_trigger",
            "core.set",
            "core.limit",
        ]

        # A model that never writes a valid workflow: the box says so, nothing changes.
        llm.reply(text("Sure!"), text("Here it is"), text("{}"))
        page.get_by_role("button", name="Build with AI").click()
        box = page.get_by_role("dialog", name="Build with AI")
        box.get_by_label("Prompt").fill("Do something")
        box.get_by_role("button", name="Suggest").click()
        expect(box.get_by_role("alert")).to_contain_text("after 3 attempts")
        shots("never-valid")
        box.get_by_role("button", name="Close").click()
        expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")

        # Offered as an MCP tool through the settings, saved with the next version.
        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Workflow settings")
        settings.get_by_label("Offer as an MCP tool").check()
        settings.get_by_label("Tool name").fill("greeter")
        settings.get_by_label("Tool description").fill("Greets the first three")
        settings.get_by_role("button", name="Apply").click()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("save-state")).to_have_text("Saved · v3")
        saved = httpx.get(f"{ai_server}/api/v1/workflows/{workflow_id}", headers=user.headers).json()
        assert saved["definition"]["settings"]["mcp_tool"] == {
            "name": "greeter",
            "description": "Greets the first three",
            "input_schema": {"type": "object", "properties": {}},
        }
    finally:
        context.close()
