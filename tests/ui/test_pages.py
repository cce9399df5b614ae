"""The pages around the editor: workflows list, templates, credentials, variables, API keys,
executions filters, and the organization switcher."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots


def test_templates_credentials_variables_keys_and_lists(page: Any, api_user: ApiUser, shots: Shots) -> None:
    api_user.login(page)
    page.goto("/templates")
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    shots("templates")
    cards.first.get_by_role("button", name="Use this template").click()
    expect(page.get_by_test_id("canvas")).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")

    page.get_by_role("link", name="Back").click()
    rows = page.locator(".table tbody tr")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Duplicate").click()
    expect(rows).to_have_count(2)
    page.get_by_label("Search workflows").fill("(copy)")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("checkbox").click(force=True)
    expect(rows.first.get_by_role("checkbox")).to_be_checked()
    shots("workflows")
    page.once("dialog", lambda dialog: dialog.accept())
    rows.first.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No workflows match.")).to_be_visible()
    page.get_by_label("Search workflows").fill("")
    expect(rows).to_have_count(1)
    with page.expect_download() as download:
        rows.first.get_by_role("button", name="Export").click()
    exported = download.value.path().read_bytes()
    page.get_by_label("Import file").set_input_files(
        files=[{"name": "flow.json", "mimeType": "application/json", "buffer": exported}]
    )
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v1")
    page.get_by_role("link", name="Back").click()
    expect(rows).to_have_count(2)

    page.get_by_role("link", name="Credentials").click()
    page.get_by_role("button", name="New credential").click()
    page.get_by_label("Credential name").fill("Service token")
    page.get_by_label("Value of token").fill("s3cret-value")
    page.get_by_role("button", name="Save credential").click()
    expect(page.locator(".table")).to_contain_text("Service token")
    expect(page.locator("body")).not_to_contain_text("s3cret-value")
    shots("credentials")

    page.get_by_role("link", name="Variables").click()
    page.get_by_role("button", name="New variable").click()
    page.get_by_label("Variable name").fill("not a name")
    page.get_by_label("Variable value").fill("eu")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_be_visible()  # 422 shown next to the name
    page.get_by_label("Variable name").fill("REGION")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".table")).to_contain_text("REGION")
    shots("variables")

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    key = page.locator(".alert-success code").inner_text()
    me = httpx.get(f"{api_user.base_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    shots("api-keys")

    page.get_by_role("link", name="Executions").click()
    page.get_by_label("Status").select_option("failed")
    expect(page.get_by_text("No executions match.")).to_be_visible()
    shots("executions")


def test_switch_organization(page: Any, api_user: ApiUser) -> None:
    api_user.login(page)
    page.goto("/workflows")
    page.once("dialog", lambda dialog: dialog.accept("Second org"))
    page.get_by_label("Organization").select_option("__new")
    expect(page.get_by_label("Organization")).to_contain_text("Second org")
    me = httpx.get(f"{api_user.base_url}/api/v1/auth/me", headers=api_user.headers).json()
    assert me["organization"]["name"] == "Second org"


def test_credential_picker_creates_one_and_settings_set_tags(
    page: Any, api_user: ApiUser, shots: Shots
) -> None:
    definition = {
        "nodes": [
            {"id": "start", "name": "Start", "type": "core.manual_trigger"},
            {
                "id": "call",
                "name": "Call API",
                "type": "core.http_request",
                "position": [300, 0],
                "parameters": {"url": "https://example.com", "authentication": "bearer"},
            },
        ],
        "edges": [{"from": "start", "to": "call"}],
    }
    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        headers=api_user.headers,
        json={"name": "Caller", "definition": definition},
    )
    assert created.status_code == 201, created.text
    api_user.login(page)
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(f"/workflows/{created.json()['id']}")
    page.get_by_test_id("node-Call API").click()
    page.get_by_label("Credential bearer").select_option("__new")
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Credential name").fill("API token")
    dialog.get_by_label("Value of token").fill("t0ken")
    dialog.get_by_role("button", name="Save credential").click()
    expect(page.get_by_label("Credential bearer").locator("option:checked")).to_have_text("API token")
    shots("credential-picked")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    saved = httpx.get(
        f"{api_user.base_url}/api/v1/workflows/{created.json()['id']}", headers=api_user.headers
    )
    call = saved.json()["definition"]["nodes"][1]
    assert list(call["credentials"]) == ["bearer"]

    page.get_by_role("button", name="Settings", exact=True).click()
    page.get_by_label("Tags").fill("alpha, beta")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v3")
    saved = httpx.get(
        f"{api_user.base_url}/api/v1/workflows/{created.json()['id']}", headers=api_user.headers
    )
    assert saved.json()["tags"] == ["alpha", "beta"]
    assert saved.json()["definition"]["settings"]["timezone"] == "Europe/Berlin"
