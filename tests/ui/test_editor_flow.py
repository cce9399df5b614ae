"""A new user builds a webhook → IF → two Set nodes workflow in the browser, saves and
activates it, calls the webhook with requests that take both branches, and finds both runs
with their data in the executions page."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import Shots, close_panel, connect, drop_node, open_node

TRIGGER = {"type": "core.webhook", "id": "webhook_1", "name": "Webhook"}
CALLS = [{"name": "Ada", "n": 7}, {"name": "Bob", "n": 2}]  # one takes each branch
FIELDS = "json.body"  # the webhook's item keeps the posted JSON under `body`


def prepare_trigger(page: Any) -> None:
    open_node(page, TRIGGER["name"])
    page.get_by_label("Path").fill("greeter")
    page.get_by_label("Response mode").select_option("last_node")
    close_panel(page)


def call_webhook(base_url: str, body: dict[str, Any]) -> Any:
    """What a caller does with curl: POST JSON to the production URL."""
    response = httpx.post(f"{base_url}/webhook/greeter", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_signup_build_activate_call_and_see_both_runs(page: Any, ui_server: str, shots: Shots) -> None:
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto("/signup")
    shots("signup")
    page.get_by_label("Email").fill("builder@example.com")
    page.get_by_label("Username").fill("builder")
    page.get_by_label("Password").fill("a-long-password")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    shots("signed-up")

    page.get_by_role("button", name="New workflow").click()
    expect(page.get_by_test_id("canvas")).to_be_visible()
    page.get_by_label("Workflow name").fill("Greeter")
    page.get_by_label("Workflow name").press("Enter")

    drop_node(page, TRIGGER["type"], 80, 300)
    drop_node(page, "core.if", 380, 300)
    drop_node(page, "core.set", 700, 160)
    drop_node(page, "core.set", 700, 440)
    close_panel(page)
    expect(page.locator(".react-flow__node")).to_have_count(4)
    shots("nodes-dropped")

    connect(page, TRIGGER["id"], "main", "if_1")
    connect(page, "if_1", "true", "set_1")
    connect(page, "if_1", "false", "set_2")
    expect(page.locator(".react-flow__edge")).to_have_count(3)
    shots("connected")

    # Saving without the IF's condition: the error shows on the node and next to the field.
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("node-IF")).to_have_class(re.compile(r"\binvalid\b"))
    open_node(page, "IF")
    expect(page.locator('[data-field="condition"] .field-error')).to_contain_text("required")
    shots("validation-error")

    page.get_by_label("Condition").fill(f"{{{{ {FIELDS}.n > 5 }}}}")
    close_panel(page)
    open_node(page, "Set fields")
    page.get_by_role("button", name="Add field").click()
    page.get_by_label("Fields name 1").fill("greeting")
    page.get_by_label("Fields value 1").fill(f"Hello {{{{ {FIELDS}.name }}}}")
    expect(page.get_by_test_id("preview-Fields value 1")).to_contain_text("Run the workflow")
    shots("expression-set")
    close_panel(page)
    open_node(page, "Set fields 1")
    page.get_by_role("button", name="Add field").click()
    page.get_by_label("Fields name 1").fill("note")
    page.get_by_label("Fields value 1").fill(f"{{{{ {FIELDS}.name }}}} is small")
    close_panel(page)
    prepare_trigger(page)

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")
    expect(page.get_by_test_id("node-IF")).not_to_have_class(re.compile(r"\binvalid\b"))
    shots("saved")

    page.get_by_label("Active", exact=True).click(force=True)
    expect(page.get_by_label("Active", exact=True)).to_be_checked()
    shots("activated")

    ada = call_webhook(ui_server, CALLS[0])  # the last node's items: the request plus the new field
    assert [(item["body"], item["greeting"]) for item in ada] == [(CALLS[0], "Hello Ada")]
    bob = call_webhook(ui_server, CALLS[1])
    assert [(item["body"], item["note"]) for item in bob] == [(CALLS[1], "Bob is small")]

    page.get_by_role("link", name="Back").click()
    page.get_by_role("link", name="Executions").click()
    rows = page.locator(".executions-table tbody tr")
    expect(rows).to_have_count(2)
    for index in range(2):
        expect(rows.nth(index)).to_contain_text("Greeter")
        expect(rows.nth(index)).to_contain_text("completed")
    shots("executions")

    rows.first.get_by_role("link", name="Greeter").click()  # newest first: Bob's run
    expect(page.get_by_test_id("status-Set fields 1")).to_contain_text("1 item")
    open_node(page, "Set fields 1")
    page.get_by_role("tab", name=re.compile("Output")).click()
    expect(page.get_by_test_id("data-output")).to_contain_text("Bob is small")
    shots("execution-bob")

    page.go_back()
    page.locator(".executions-table tbody tr").nth(1).get_by_role("link", name="Greeter").click()
    expect(page.get_by_test_id("status-Set fields")).to_contain_text("1 item")
    open_node(page, "Set fields")
    page.get_by_role("tab", name=re.compile("Output")).click()
    expect(page.get_by_test_id("data-output")).to_contain_text("Hello Ada")
    page.get_by_test_id("data-output").get_by_role("button", name="JSON").click()
    expect(page.get_by_test_id("data-output").locator("pre")).to_contain_text('"greeting": "Hello Ada"')
    shots("execution-ada")


def test_log_out_and_back_in(page: Any, api_user: Any, shots: Shots) -> None:
    page.goto("/login")
    page.get_by_label("Email or username").fill("testlogoutandbackin")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill("a-long-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shots("logged-out")
