"""Issue 11's editor defects, in Chromium against a real server: Execute runs the draft without
publishing it (a webhook workflow waits for a test call), the expression preview knows every
name the server offers (vars too), and "New workflow" creates nothing until the first save."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots, close_panel, drop_node, open_node


def hook_workflow(path: str, word: str) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "hook",
                "name": "Webhook",
                "type": "core.webhook",
                "position": [0, 0],
                "parameters": {"path": path, "response_mode": "last_node"},
            },
            {
                "id": "reply",
                "name": "Reply",
                "type": "core.set",
                "position": [300, 0],
                "parameters": {"fields": {"word": word, "got": "{{ json.body.n }}"}, "keep_only_set": True},
            },
        ],
        "edges": [{"from": "hook", "to": "reply"}],
    }


def create_workflow(user: ApiUser, name: str, definition: dict[str, Any]) -> str:
    created = httpx.post(
        f"{user.base_url}/api/v1/workflows",
        headers=user.headers,
        json={"name": name, "definition": definition},
    )
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    return workflow_id


def versions(user: ApiUser, workflow_id: str) -> list[int]:
    listed = httpx.get(f"{user.base_url}/api/v1/workflows/{workflow_id}/versions", headers=user.headers)
    return [v["version"] for v in listed.json()]


def test_execute_runs_the_draft_of_an_active_workflow_without_publishing_it(
    page: Any, api_user: ApiUser, shots: Shots
) -> None:
    workflow_id = create_workflow(api_user, "Live hook", hook_workflow("defect-one", "saved"))
    activated = httpx.post(
        f"{api_user.base_url}/api/v1/workflows/{workflow_id}/activate", headers=api_user.headers
    )
    assert activated.status_code == 200
    api_user.login(page)
    page.goto(f"/workflows/{workflow_id}")
    open_node(page, "Reply")
    page.get_by_label("Fields value 1").fill("draft")
    close_panel(page)
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")

    # A webhook workflow does not run with an empty item: it waits for a test call.
    page.get_by_role("button", name="Execute workflow", exact=True).click()
    banner = page.get_by_test_id("editor-banner")
    expect(banner).to_contain_text("Waiting for a test call")
    shots("waiting-for-test-call")
    assert versions(api_user, workflow_id) == [1]
    live = httpx.post(f"{api_user.base_url}/webhook/defect-one", json={"n": 1})
    assert live.json() == [{"word": "saved", "got": 1}]  # production still answers with version 1

    found = re.search(r"/webhook-test/[\w-]+", banner.inner_text())
    assert found, banner.inner_text()
    test_call = httpx.post(f"{api_user.base_url}{found.group(0)}", json={"n": 2}, timeout=30)
    assert test_call.json() == [{"word": "draft", "got": 2}]  # the test call ran the draft
    expect(banner).to_contain_text("Run completed")
    expect(page.get_by_test_id("status-Reply")).to_contain_text("1 item")
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")

    # With the webhook's output pinned, Execute runs at once, still without saving.
    open_node(page, "Webhook")
    page.get_by_role("button", name="Pin output").click()
    close_panel(page)
    page.get_by_role("button", name="Execute workflow", exact=True).click()
    expect(banner).to_contain_text("Run completed")
    shots("ran-with-pinned-webhook")
    assert versions(api_user, workflow_id) == [1]
    live = httpx.post(f"{api_user.base_url}/webhook/defect-one", json={"n": 3})
    assert live.json() == [{"word": "saved", "got": 3}]
    runs = httpx.get(f"{api_user.base_url}/api/v1/executions", headers=api_user.headers).json()["items"]
    assert [r["is_draft"] for r in runs] == [False, True, True, False]

    # Saving publishes: now the live webhook answers with the edit, and the pin is in the workflow.
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    live = httpx.post(f"{api_user.base_url}/webhook/defect-one", json={"n": 4})
    assert live.json() == [{"word": "draft", "got": 4}]
    detail = httpx.get(f"{api_user.base_url}/api/v1/workflows/{workflow_id}", headers=api_user.headers).json()
    assert detail["definition"]["pinned"]["hook"]["main"][0]["body"] == {"n": 2}

    page.goto("/executions")  # the editor's runs are marked apart from production, each with its id
    kinds = ["webhook", "webhook", "manual · draft", "test call", "webhook"]
    expect(page.get_by_test_id("execution-kind")).to_have_text(kinds)
    runs = httpx.get(f"{api_user.base_url}/api/v1/executions", headers=api_user.headers).json()["items"]
    expect(page.get_by_test_id("execution-id")).to_have_text([r["id"][-8:] for r in runs])
    shots("executions-marked")


def test_new_workflow_is_created_on_its_first_save_only(page: Any, api_user: ApiUser, shots: Shots) -> None:
    def names() -> list[str]:
        listed = httpx.get(f"{api_user.base_url}/api/v1/workflows", headers=api_user.headers).json()
        return [w["name"] for w in listed["items"]]

    api_user.login(page)
    page.goto("/workflows")
    page.get_by_role("button", name="New workflow").click()
    expect(page.get_by_test_id("canvas")).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("Not saved yet")
    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    assert names() == []  # an abandoned attempt leaves nothing behind

    page.get_by_role("button", name="New workflow").first.click()
    page.get_by_label("Workflow name").fill("First save")
    page.get_by_label("Workflow name").press("Enter")
    drop_node(page, "core.manual_trigger", 600, 300)
    close_panel(page)
    assert names() == []
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")
    assert names() == ["First save"]
    workflow_id = httpx.get(f"{api_user.base_url}/api/v1/workflows", headers=api_user.headers).json()[
        "items"
    ][0]["id"]
    expect(page).to_have_url(re.compile(f"/workflows/{workflow_id}$"))
    shots("saved-once")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    assert names() == ["First save"]


def test_expression_preview_offers_vars_and_every_name_the_server_offers(
    page: Any, api_user: ApiUser, shots: Shots
) -> None:
    base, headers = api_user.base_url, api_user.headers
    made = httpx.post(
        f"{base}/api/v1/variables", headers=headers, json={"name": "LIMIT", "value": "10", "type": "number"}
    )
    assert made.status_code == 201
    definition = hook_workflow("defect-two", "x")
    definition["nodes"][1] = {
        "id": "check",
        "name": "Check",
        "type": "core.if",
        "position": [300, 0],
        "parameters": {"condition": "{{ json.body.total > vars.LIMIT }}"},
    }
    definition["edges"] = [{"from": "hook", "to": "check"}]
    workflow_id = create_workflow(api_user, "Limits", definition)
    ran = httpx.post(
        f"{base}/api/v1/workflows/{workflow_id}/run",
        headers=headers,
        json={"input": [{"body": {"total": 50}}], "start_node": "hook", "wait_s": 10},
    )
    assert ran.json()["status"] == "completed"  # the server renders it

    api_user.login(page)
    page.goto(f"/workflows/{workflow_id}")
    open_node(page, "Check")
    preview = page.get_by_test_id("preview-Condition")
    expect(preview).to_have_text("Result: true")
    shots("vars-previewed")
    names = [n["name"] for n in httpx.get(f"{base}/api/v1/expressions", headers=headers).json()["names"]]
    assert "vars" in names
    condition = page.get_by_label("Condition")
    for name in names:
        condition.fill(f"{{{{ {name} is defined }}}}")
        expect(preview).to_have_text("Result: true")

    # Autocomplete: the fields of vars, then a filter.
    condition.fill("")
    condition.press_sequentially("{{ vars.")
    suggestions = page.get_by_role("listbox", name="Expression suggestions")
    expect(suggestions.get_by_role("option")).to_have_text(["LIMITnumber"])
    shots("autocomplete")
    condition.press("Enter")
    expect(condition).to_have_value("{{ vars.LIMIT")
    condition.press_sequentially(" * 2 > json.body.total | ")
    expect(suggestions.get_by_role("option").first).to_be_visible()
    condition.press("Escape")
    condition.press_sequentially("int }}")
    expect(condition).to_have_value("{{ vars.LIMIT * 2 > json.body.total | int }}")
    expect(preview).to_have_text("Result: false")

    # A failed run names its node as the user named it, not by its id.
    failing = {
        "nodes": [
            {"id": "start", "name": "Start", "type": "core.manual_trigger", "position": [0, 0]},
            {
                "id": "set_1",
                "name": "Compute total",
                "type": "core.set",
                "position": [300, 0],
                "parameters": {"fields": {"double": "{{ json.total * 2 }}"}},
            },
        ],
        "edges": [{"from": "start", "to": "set_1"}],
    }
    failing_id = create_workflow(api_user, "Totals", failing)
    httpx.post(
        f"{base}/api/v1/workflows/{failing_id}/run", headers=headers, json={"input": [{}], "wait_s": 10}
    )
    page.goto("/executions")
    expect(page.locator(".error-cell").first).to_contain_text("Compute total: parameter 'fields.double'")
    page.goto(f"/workflows/{failing_id}")
    page.get_by_test_id("node-Start").click()
    page.get_by_role("button", name="Execute workflow", exact=True).click()
    expect(page.get_by_test_id("editor-banner")).to_contain_text("The run failed at Compute total")
