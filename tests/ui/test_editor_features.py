"""Editor features of issue 11 (part 2), as a user sees them: paste from the system clipboard
(between workflows, an exported workflow, junk), sticky notes, duplicate, disable and rename
inline, the palette's double-click and Enter, banners that clear, "execute previous nodes",
dark mode, a template's preview, and a fresh instance opening on Sign up."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.server import running_server
from tests.ui.browser import ApiUser, Shots, open_node

CHAIN = {
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.manual_trigger", "position": [0, 0]},
        {
            "id": "double",
            "name": "Double",
            "type": "core.set",
            "position": [300, 0],
            "parameters": {"fields": {"twice": "{{ json.n * 2 }}"}},
        },
        {
            "id": "triple",
            "name": "Triple",
            "type": "core.set",
            "position": [600, 0],
            "parameters": {"fields": {"thrice": "{{ json.n * 3 }}"}},
        },
    ],
    "edges": [{"from": "start", "to": "double"}, {"from": "double", "to": "triple"}],
}
TRIGGER_ONLY = {"nodes": [CHAIN["nodes"][0]], "edges": []}


def _create(api_user: ApiUser, name: str, definition: dict[str, Any]) -> str:
    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        headers=api_user.headers,
        json={"name": name, "definition": definition},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _saved(api_user: ApiUser, workflow_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api_user.base_url}/api/v1/workflows/{workflow_id}", headers=api_user.headers)
    definition: dict[str, Any] = response.json()["definition"]
    return definition


@pytest.fixture
def clipboard_page(browser: Any, ui_server: str) -> Iterator[Any]:
    """A page whose scripts may read and write the system clipboard, as a user's browser lets the app."""
    context = browser.new_context(base_url=ui_server, viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_paste_reads_the_system_clipboard(clipboard_page: Any, api_user: ApiUser) -> None:
    page = clipboard_page
    source = _create(api_user, "Source", CHAIN)
    target = _create(api_user, "Target", TRIGGER_ONLY)
    api_user.login(page)
    nodes = page.locator(".react-flow__node")

    # Copy in workflow A, open workflow B, paste: the nodes and the edge between them arrive.
    page.goto(f"/workflows/{source}")
    expect(nodes).to_have_count(3)
    page.get_by_test_id("node-Double").click()
    page.get_by_test_id("node-Triple").click(modifiers=["Shift"])
    page.keyboard.press("Control+c")
    page.goto(f"/workflows/{target}")
    expect(nodes).to_have_count(1)
    page.get_by_test_id("canvas").click(position={"x": 400, "y": 500})
    page.keyboard.press("Control+v")
    expect(nodes).to_have_count(3)
    expect(page.get_by_test_id("node-Double")).to_be_visible()
    expect(page.get_by_test_id("node-Triple")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    # An exported workflow's JSON (GET /workflows/{id}/export), as a user copies it from a file.
    exported = httpx.get(f"{api_user.base_url}/api/v1/workflows/{source}/export", headers=api_user.headers)
    assert exported.status_code == 200, exported.text
    page.evaluate("text => navigator.clipboard.writeText(text)", json.dumps(exported.json(), indent=2))
    page.get_by_test_id("canvas").click(position={"x": 400, "y": 600})
    page.keyboard.press("Control+v")
    expect(nodes).to_have_count(6)
    expect(page.get_by_test_id("node-Start 1")).to_be_visible()  # names stay unique
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Pasted 3 nodes")

    # Junk says what was expected and changes nothing.
    for junk, message in [
        ("just some text", "does not hold workflow JSON"),
        (
            '{"nodes": [{"id": "x", "name": "X", "type": "evil.node"}]}',
            '"evil.node", which this server does not have',
        ),
    ]:
        page.evaluate("text => navigator.clipboard.writeText(text)", junk)
        page.keyboard.press("Control+v")
        expect(page.get_by_test_id("editor-banner")).to_contain_text(message)
        expect(nodes).to_have_count(6)

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    assert {n["name"] for n in _saved(api_user, target)["nodes"]} >= {
        "Double",
        "Triple",
        "Start 1",
        "Double 1",
    }


def test_notes_duplicate_disable_rename_and_dark_mode(page: Any, api_user: ApiUser, shots: Shots) -> None:
    workflow_id = _create(api_user, "Features", CHAIN)
    api_user.login(page)
    page.goto(f"/workflows/{workflow_id}")
    nodes = page.locator(".react-flow__node-wirework")
    expect(nodes).to_have_count(3)

    # A sticky note: add, write, save; it comes back from the server.
    page.get_by_role("button", name="+ Note").click()
    note = page.get_by_test_id("sticky-note")
    expect(note).to_have_count(1)
    note.dblclick()
    page.get_by_label("Note text").fill("Doubles, then triples n")
    page.get_by_test_id("canvas").click(position={"x": 300, "y": 700})

    # Ctrl+D duplicates; D disables (greyed and struck through); a double-click renames inline.
    page.get_by_test_id("node-Double").click()
    page.keyboard.press("Control+d")
    expect(nodes).to_have_count(4)
    expect(page.get_by_test_id("node-Double 1")).to_be_visible()
    page.keyboard.press("d")
    expect(page.get_by_test_id("node-Double 1")).to_have_class(re.compile(r"(^|\s)disabled(\s|$)"))
    page.get_by_test_id("node-Double 1").locator(".wf-node-name").dblclick()
    rename = page.get_by_label("Rename node")
    rename.fill("Triple")
    rename.press("Enter")
    expect(
        page.get_by_role("alert").filter(has_text='Another node is already named "Triple"')
    ).to_be_visible()
    rename.fill("Double again")
    rename.press("Enter")
    expect(page.get_by_test_id("node-Double again")).to_be_visible()
    shots("note-duplicate-disabled")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved · v2")
    saved = _saved(api_user, workflow_id)
    assert [n["text"] for n in saved["sticky_notes"]] == ["Doubles, then triples n"]
    assert {n["name"]: n.get("disabled", False) for n in saved["nodes"]}["Double again"] is True
    page.reload()
    expect(page.get_by_test_id("sticky-note")).to_contain_text("Doubles, then triples n")

    # Dark mode: a toggle, remembered across reloads.
    html = page.locator("html")
    expect(html).not_to_have_attribute("data-theme", "dark")
    page.get_by_role("button", name="Dark mode").click()
    expect(html).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.locator(".react-flow__node-wirework")).to_have_count(4)
    shots("dark")
    page.get_by_role("button", name="Light mode").click()
    expect(html).to_have_attribute("data-theme", "light")


def test_palette_banners_and_execute_previous_nodes(page: Any, api_user: ApiUser) -> None:
    workflow_id = _create(api_user, "Palette", CHAIN)
    api_user.login(page)
    page.goto(f"/workflows/{workflow_id}")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    edges = page.locator(".react-flow__edge")
    expect(edges).to_have_count(2)

    # "Execute previous nodes" on Triple runs Start and Double only, and shows Triple's input.
    open_node(page, "Start")
    page.get_by_label("Test input").fill('[{"n": 7}]')
    open_node(page, "Triple")
    page.get_by_role("button", name="Execute previous nodes").click()
    expect(page.get_by_test_id("editor-banner")).to_contain_text("Run completed")
    expect(page.get_by_test_id("status-Double")).to_contain_text("1 item")
    expect(page.get_by_test_id("status-Triple")).to_have_count(0)
    page.get_by_role("tab", name="Input").click()
    expect(page.get_by_label("Node details")).to_contain_text("14")  # Double's twice: 7 * 2

    # The success banner goes by itself.
    expect(page.get_by_test_id("editor-banner")).to_be_hidden(timeout=10_000)

    # Respond to webhook is not a trigger.
    page.get_by_role("button", name="Show nodes").click()
    palette = page.get_by_role("complementary", name="Nodes")
    triggers = palette.locator("section").filter(has=page.locator("h4", has_text="Triggers"))
    expect(triggers.get_by_test_id("palette-core.webhook")).to_be_visible()
    expect(triggers.get_by_test_id("palette-core.respond_webhook")).to_have_count(0)
    expect(palette.get_by_test_id("palette-core.respond_webhook")).to_be_visible()

    # Double-click adds the node after the selected one, connected to its free output.
    page.get_by_test_id("node-Triple").click()
    palette = page.get_by_role("complementary", name="Nodes")
    palette.get_by_test_id("palette-core.limit").dblclick()
    expect(page.get_by_test_id("node-Limit")).to_be_visible()
    expect(edges).to_have_count(3)
    expect(page.locator('.react-flow__edge[data-id="triple:main->limit_1:main"]')).to_have_count(1)

    # Enter in the search adds the match (after the new selection, Limit).
    search = palette.get_by_label("Search nodes")
    search.fill("sort")
    search.press("Enter")
    expect(page.get_by_test_id("node-Sort")).to_be_visible()
    expect(edges).to_have_count(4)


def test_template_preview_shows_the_graph_before_using_it(page: Any, api_user: ApiUser) -> None:
    api_user.login(page)
    page.goto("/templates")
    card = page.locator(".card").filter(has_text="Route orders by size")
    card.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("template-preview")
    expect(preview.locator(".react-flow__node")).not_to_have_count(0)
    expect(preview.locator(".react-flow__edge")).not_to_have_count(0)
    dialog = page.get_by_role("dialog", name="Route orders by size")
    dialog.get_by_role("button", name="Use this template").click()
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-f-]{36}$"))


def test_a_fresh_instance_opens_on_sign_up(browser: Any, tmp_path: Any) -> None:
    with running_server(tmp_path) as (url, _process):
        context = browser.new_context(base_url=url)
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
        expect(page.get_by_test_id("first-account")).to_contain_text("yours will be the first")
        page.get_by_label("Email").fill("first@example.com")
        page.get_by_label("Username").fill("first")
        page.get_by_label("Password").fill("a-long-password")
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # now that someone exists
        context.close()
