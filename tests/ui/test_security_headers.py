"""The UI works under its Content-Security-Policy: the browser reports no violation while the
login page, the workflow list and the editor (React Flow's inline styles) render and run."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_the_ui_runs_under_its_content_security_policy(page: Any, api_user: ApiUser, shots: Shots) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    landing = page.goto("/")
    assert landing is not None
    assert "script-src 'self'" in landing.headers["content-security-policy"]
    assert landing.headers["x-frame-options"] == "DENY"
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []

    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        headers=api_user.headers,
        json={
            "name": "Under CSP",
            "definition": {
                "nodes": [
                    {"id": "start", "name": "Start", "type": "core.manual_trigger", "position": [0, 0]},
                    {"id": "set", "name": "Set", "type": "core.set", "position": [300, 0],
                     "parameters": {"fields": {"x": "{{ 1 + 1 }}"}}},
                ],
                "edges": [{"from": "start", "to": "set"}],
            },
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    api_user.login(page)
    page.goto("/")
    expect(page.get_by_text("Under CSP")).to_be_visible()
    page.goto(f"/workflows/{created.json()['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    page.get_by_role("button", name="Execute workflow", exact=True).click()
    expect(page.get_by_test_id("status-Set")).to_contain_text("1 item")
    shots("editor-under-csp")
    assert page.evaluate("window.__cspViolations") == []
    assert not [line for line in console if "Content Security Policy" in line]
