"""A new user builds, saves and runs a workflow in the browser, then finds the run's data.

The trigger is isolated in `TRIGGER`, `FIELDS`, `prepare_trigger` and `fire_trigger`: switching
the scenario to a webhook trigger (core.webhook, whose item has the posted JSON under `body`)
changes only those four (see tests/ui/test_triggers.py for the webhook steps).
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.ui.browser import Shots, close_panel, connect, drop_node, open_node

TRIGGER = {"type": "core.manual_trigger", "id": "manual_trigger_1", "name": "Manual trigger"}
INPUT_ITEMS = [{"name": "Ada", "n": 7}, {"name": "Bob", "n": 2}]
FIELDS = "json"  # where the trigger's items keep the fields; "json.body" for a webhook


def prepare_trigger(page: Any) -> None:
    """Give the trigger the items to emit (a webhook trigger would set its path instead)."""
    open_node(page, TRIGGER["name"])
    page.get_by_label("Test input").fill(json.dumps(INPUT_ITEMS))
    close_panel(page)


def fire_trigger(page: Any) -> None:
    """Start a run (a webhook trigger would click "Listen for test call" and POST to the test URL)."""
    page.get_by_role("button", name="Execute workflow", exact=True).click()


def test_signup_build_save_run_and_see_the_execution(page: Any, shots: Shots) -> None:
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

    fire_trigger(page)
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Run completed")
    expect(page.get_by_test_id("status-Set fields")).to_contain_text("1 item")
    expect(page.get_by_test_id("status-Set fields 1")).to_contain_text("1 item")
    shots("ran")

    open_node(page, "Set fields")
    expect(page.get_by_test_id("preview-Fields value 1")).to_contain_text("Hello Ada")
    page.get_by_role("tab", name=re.compile("Output")).click()
    expect(page.get_by_test_id("data-output")).to_contain_text("Hello Ada")
    page.get_by_test_id("data-output").get_by_role("button", name="JSON").click()
    expect(page.get_by_test_id("data-output").locator("pre")).to_contain_text('"greeting": "Hello Ada"')
    shots("node-output")

    page.get_by_role("link", name="Back").click()
    page.get_by_role("link", name="Executions").click()
    row = page.locator(".executions-table tbody tr").first
    expect(row).to_contain_text("Greeter")
    expect(row).to_contain_text("completed")
    shots("executions")
    row.get_by_role("link", name="Greeter").click()
    expect(page.get_by_test_id("status-Set fields 1")).to_contain_text("1 item")
    open_node(page, "Set fields 1")
    expect(page.get_by_test_id("data-output")).to_contain_text("Bob is small")
    shots("execution-opened")


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
