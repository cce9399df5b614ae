"""Trigger nodes in the editor: the webhook's URLs and a test call, the schedule's next fire times."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots, close_panel, connect, drop_node, open_node


def _new_workflow(page: Any, api_user: ApiUser, name: str) -> None:
    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows", headers=api_user.headers, json={"name": name}
    )
    assert created.status_code == 201, created.text
    api_user.login(page)
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(f"/workflows/{created.json()['id']}")
    expect(page.get_by_test_id("canvas")).to_be_visible()


def test_webhook_urls_and_a_test_call_show_the_data(page: Any, api_user: ApiUser, shots: Shots) -> None:
    _new_workflow(page, api_user, "Hook")
    drop_node(page, "core.webhook", 120, 300)
    page.get_by_label("Path").fill("ui-greet")
    origin = api_user.base_url
    expect(page.get_by_test_id("webhook-production-url")).to_have_text(f"{origin}/webhook/ui-greet")
    expect(page.get_by_test_id("webhook-test-url")).to_contain_text("Listen for test call")
    drop_node(page, "core.set", 480, 300)
    page.get_by_role("button", name="Add field").click()
    page.get_by_label("Fields name 1").fill("greeting")
    page.get_by_label("Fields value 1").fill("Hi {{ json.body.name }}")
    close_panel(page)
    connect(page, "webhook_1", "main", "set_1")

    open_node(page, "Webhook")
    page.get_by_role("button", name="Listen for test call").click()
    expect(page.get_by_role("button", name="Listening…")).to_be_visible()
    test_url = page.get_by_test_id("webhook-test-url")
    expect(test_url).to_have_text(re.compile(rf"^{re.escape(origin)}/webhook-test/[A-Za-z0-9_-]{{40,}}$"))
    shots("listening")
    answer = httpx.post(test_url.inner_text(), json={"name": "Ada"})
    assert answer.status_code in (200, 202), answer.text
    expect(page.get_by_test_id("status-Set fields")).to_contain_text("1 item")
    open_node(page, "Set fields")
    page.get_by_role("tab", name=re.compile("Output")).click()
    expect(page.get_by_test_id("data-output")).to_contain_text("Hi Ada")
    shots("received")


def test_schedule_shows_its_next_fire_times(page: Any, api_user: ApiUser, shots: Shots) -> None:
    _new_workflow(page, api_user, "Every five minutes")
    drop_node(page, "core.schedule", 120, 300)
    page.get_by_label("Cron").fill("*/5 * * * *")
    page.get_by_label("Timezone").fill("Europe/Berlin")
    times = page.get_by_test_id("schedule-next").locator("li")
    expect(times).to_have_count(5)
    expect(times.first).to_contain_text(re.compile(r":(00|05|10|15|20|25|30|35|40|45|50|55):00\+0[12]:00"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")
    page.get_by_label("Active", exact=True).click(force=True)
    expect(page.get_by_label("Active", exact=True)).to_be_checked()
    page.get_by_role("button", name="Close panel").click()
    page.get_by_test_id("node-Schedule").click()
    expect(page.get_by_test_id("schedule-live")).to_contain_text("next run")
    shots("schedule")
