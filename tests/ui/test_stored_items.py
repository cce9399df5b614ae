"""A node's large item is not sent with the execution: the node's data shows it as a stored item
and loads it when the user asks."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots, open_node

DEFINITION = {
    "nodes": [
        {"id": "t", "name": "Start", "type": "core.manual_trigger", "parameters": {}},
        {"id": "a", "name": "Pass", "type": "core.noop", "parameters": {}},
    ],
    "edges": [{"from": "t", "to": "a"}],
    "settings": {},
}


def test_a_large_item_loads_when_asked(page: Any, api_user: ApiUser, shots: Shots) -> None:
    headers = {"authorization": f"Bearer {api_user.token}"}
    base = api_user.base_url
    made = httpx.post(
        f"{base}/api/v1/workflows", json={"name": "Large", "definition": DEFINITION}, headers=headers
    )
    body = "needle-" + "x" * 40_000
    run = httpx.post(
        f"{base}/api/v1/workflows/{made.json()['id']}/run",
        json={"input": [{"small": "visible"}, {"body": body}], "wait_s": 20},
        headers=headers,
        timeout=30,
    )
    assert run.json()["status"] == "completed", run.text
    api_user.login(page)
    page.goto(f"/executions/{run.json()['id']}")
    open_node(page, "Pass")
    page.get_by_role("tab", name=re.compile("Output")).click()
    output = page.get_by_test_id("data-output")
    expect(output).to_contain_text("visible")
    expect(output).not_to_contain_text("needle-")
    output.get_by_role("button", name=re.compile("Load item")).click()
    expect(output).to_contain_text("needle-")
    shots("stored-item-loaded")
