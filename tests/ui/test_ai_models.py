"""The AI models page against a local server playing OpenAI: add an LLM with a new key, test it
(the answer and latency), see a failing test say why, make it the default, add an embedding
model and see its size, the built-in embedding model's place, and delete a model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.llm_server import FakeLLM, error, fake_llm_in_thread, text
from tests.support.server import running_server
from tests.ui.browser import ApiUser, Shots

KEY = "sk-ui-test-0123456789"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with fake_llm_in_thread(api_key=KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def ai_server(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM, browser: Any) -> Iterator[str]:
    """A server allowed to call the fake model server on loopback (browser first: it skips
    without chromium)."""
    data_dir: Path = tmp_path_factory.mktemp("ai-ui")
    env = {"WIREWORK_OPEN_SIGNUP": "true", "WIREWORK_HTTP_ALLOW_HOSTS": "127.0.0.1"}
    with running_server(data_dir, **env) as (url, _process):
        yield url


def test_add_test_default_and_delete_models(
    browser: Any, ai_server: str, llm: FakeLLM, request: pytest.FixtureRequest
) -> None:
    signup = httpx.post(
        f"{ai_server}/api/v1/auth/signup",
        json={"email": "ai@example.com", "username": "ai", "password": "a-long-password"},
    )
    session = signup.json()["session"]
    user = ApiUser(ai_server, session["token"], session["csrf_token"])
    context = browser.new_context(base_url=ai_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    try:
        user.login(page)
        page.goto("/workflows")
        page.get_by_role("link", name="AI models").click()
        expect(page.get_by_role("heading", name="AI models")).to_be_visible()
        builtin = page.get_by_role("region", name="Built-in embedding model")
        expect(builtin).to_contain_text("all-MiniLM-L6-v2")
        expect(builtin).to_contain_text("in use: no embedding model is the default")

        # An LLM with a new key, made from the form.
        page.get_by_role("button", name="Add model").click()
        dialog = page.get_by_role("dialog", name="Add AI model")
        dialog.get_by_label("Model name").fill("Fast")
        dialog.get_by_label("Model id").fill("fake-gpt")
        dialog.get_by_label("Base URL").fill(llm.openai_url)
        dialog.get_by_role("button", name="New key…").click()
        dialog.get_by_label("Credential name").fill("OpenAI key")
        dialog.get_by_label("Value of api_key").fill(KEY)
        dialog.get_by_role("button", name="Save credential").click()
        expect(dialog.get_by_label("API key credential").locator("option:checked")).to_have_text("OpenAI key")
        dialog.get_by_label("Temperature").fill("0.2")
        shots("add-llm")
        dialog.get_by_role("button", name="Add model").click()
        expect(dialog).to_be_hidden()
        row = page.locator("tr[data-model='Fast']")
        expect(row).to_contain_text("fake-gpt")
        expect(row).to_contain_text("OpenAI key")

        llm.reply(text("OK", usage=(14, 1)))
        row.get_by_role("button", name="Test").click()
        expect(page.get_by_role("status")).to_contain_text("Works: answered “OK” in")
        expect(page.get_by_role("status")).to_contain_text("(14 + 1 tokens)")
        assert llm.chat_requests()[-1].headers["authorization"] == f"Bearer {KEY}"
        assert llm.chat_requests()[-1].body["temperature"] == 0.2

        llm.reply(error(429, "Rate limit reached for requests"))
        row.get_by_role("button", name="Test").click()
        expect(page.get_by_role("alert")).to_contain_text("HTTP 429: Rate limit reached for requests")
        shots("failed-test")

        row.get_by_role("button", name="Make default").click()
        expect(row).to_contain_text("default LLM")

        # An embedding model: its size shown by the test; as the default, the built-in steps aside.
        page.get_by_role("button", name="Add model").click()
        dialog = page.get_by_role("dialog", name="Add AI model")
        dialog.get_by_label("Model name").fill("Vectors")
        dialog.get_by_label("Type").select_option("embedding")
        dialog.get_by_label("Model id").fill("fake-embed")
        dialog.get_by_label("Base URL").fill(llm.openai_url)
        dialog.get_by_label("API key credential").select_option(label="OpenAI key")
        dialog.get_by_label("Dimensions").fill("64")
        dialog.get_by_role("button", name="Add model").click()
        vectors = page.locator("tr[data-model='Vectors']")
        vectors.get_by_role("button", name="Test").click()
        expect(page.get_by_role("status")).to_contain_text("Works: vectors of 64 numbers")
        vectors.get_by_role("button", name="Make default").click()
        expect(vectors).to_contain_text("default embedding")
        expect(builtin).not_to_contain_text("in use")
        shots("models")

        # A refused base URL says why, in the form.
        page.get_by_role("button", name="Add model").click()
        dialog = page.get_by_role("dialog", name="Add AI model")
        dialog.get_by_label("Model name").fill("Metadata")
        dialog.get_by_label("Model id").fill("x")
        dialog.get_by_label("Base URL").fill("http://169.254.169.254/v1")
        dialog.get_by_role("button", name="Add model").click()
        expect(dialog).to_contain_text("169.254.169.254 is a link-local/metadata address")
        dialog.get_by_role("button", name="Close").click()

        page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Delete").click()
        expect(row).to_be_hidden()
        listed = httpx.get(f"{ai_server}/api/v1/ai/models", headers=user.headers).json()["items"]
        assert [m["name"] for m in listed] == ["Vectors"]
    finally:
        context.close()
