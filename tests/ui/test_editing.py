"""Editing in the canvas: copy/paste, undo/redo, delete, versions (view, restore), pinning,
and running again from one node."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots, open_node

DEFINITION = {
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.manual_trigger", "position": [0, 0]},
        {
            "id": "double",
            "name": "Double",
            "type": "core.set",
            "position": [300, 0],
            "parameters": {"fields": {"twice": "{{ json.n * 2 }}"}},
        },
    ],
    "edges": [{"from": "start", "to": "double"}],
}


def test_copy_paste_undo_versions_pin_and_rerun(page: Any, api_user: ApiUser, shots: Shots) -> None:
    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        headers=api_user.headers,
        json={"name": "Doubler", "definition": DEFINITION},
    )
    assert created.status_code == 201, created.text
    api_user.login(page)
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(f"/workflows/{created.json()['id']}")
    nodes = page.locator(".react-flow__node")
    expect(nodes).to_have_count(2)
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")

    open_node(page, "Double")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(nodes).to_have_count(3)
    expect(page.get_by_test_id("node-Double 1")).to_be_visible()
    shots("pasted")
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(2)
    page.keyboard.press("Control+Shift+z")
    expect(nodes).to_have_count(3)
    page.get_by_test_id("node-Double 1").click()
    page.keyboard.press("Delete")
    expect(nodes).to_have_count(2)
    page.keyboard.press("1")  # zoom to fit

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_label("Versions").locator("li")
    expect(versions).to_have_count(2)
    versions.nth(1).get_by_role("button", name="View").click()
    expect(page.get_by_text("Viewing version 1 (read-only).")).to_be_visible()
    shots("viewing-v1")
    page.get_by_role("button", name="Back to editing").click()
    versions.nth(1).get_by_role("button", name="Restore").click()
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Restored as version 3")
    expect(versions).to_have_count(3)
    page.get_by_role("button", name="Close versions").click()

    open_node(page, "Start")
    page.get_by_label("Test input").fill(json.dumps([{"n": 21}]))
    page.get_by_role("button", name="Execute workflow", exact=True).click()
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Run completed")
    open_node(page, "Double")
    page.get_by_role("button", name="Add field").click()
    page.get_by_label("Fields name 2").fill("again")
    page.get_by_label("Input fields").get_by_text("n", exact=True).drag_to(
        page.get_by_label("Fields value 2")
    )
    expect(page.get_by_label("Fields value 2")).to_have_value("{{ json.n }}")
    expect(page.get_by_test_id("preview-Fields value 2")).to_contain_text("21")
    page.get_by_role("tab", name=re.compile("Output")).click()
    expect(page.get_by_test_id("data-output")).to_contain_text("42")
    page.get_by_role("button", name="Pin output").click()
    expect(page.get_by_role("button", name="Unpin output")).to_be_visible()
    page.get_by_role("button", name="Execute from this node").click()
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Run completed")
    expect(page.get_by_test_id("status-Double")).to_contain_text("1 item")
    shots("rerun")

    executions = httpx.get(f"{api_user.base_url}/api/v1/executions", headers=api_user.headers).json()["items"]
    assert [e["status"] for e in executions] == ["completed", "completed"]
