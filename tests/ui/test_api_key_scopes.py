"""The API keys page makes keys with the scopes the server offers, and the key is held to them."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots


def test_a_read_only_key_reads_and_cannot_change(page: Any, api_user: ApiUser, shots: Shots) -> None:
    api_user.login(page)
    page.goto("/api-keys")
    expect(page.get_by_label("workflows:write")).to_be_checked()  # every scope by default
    page.get_by_role("button", name="Read only").click()
    expect(page.get_by_label("workflows:write")).not_to_be_checked()
    expect(page.get_by_label("workflows:read")).to_be_checked()
    page.get_by_label("Key name").fill("reader")
    shots("scopes")
    page.get_by_role("button", name="Create key").click()
    key = page.locator(".alert-success code").inner_text()
    expect(page.get_by_test_id("scopes-reader")).to_have_text("read only (all areas)")

    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{api_user.base_url}/api/v1/workflows", headers=headers).status_code == 200
    refused = httpx.post(f"{api_user.base_url}/api/v1/workflows", json={"name": "x"}, headers=headers)
    assert refused.status_code == 403 and "workflows:write" in refused.json()["detail"]
