"""The editor's layout (issue 11): the canvas keeps most of the window with a panel open, a node
dropped under the panel comes into view, a Switch's output labels do not overlap, and fit view
on a large workflow stops at a readable zoom, starting at the trigger. Screenshots of the editor
at 1400x900 and 1920x1080 go to tests/artifacts/editor-layout/."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.browser import ARTIFACTS, ApiUser, drop_node, open_node

SWITCH_RULES = [{"condition": f"{{{{ json.n == {i} }}}}", "output": f"branch_{i}"} for i in range(5)]
DEFINITION = {
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.manual_trigger", "position": [0, 0]},
        {
            "id": "route",
            "name": "Route",
            "type": "core.switch",
            "position": [300, 0],
            "parameters": {"rules": SWITCH_RULES},
        },
        {"id": "done", "name": "Done", "type": "core.noop", "position": [650, 0]},
    ],
    "edges": [{"from": "start", "to": "route"}, {"from": "route", "output": "branch_0", "to": "done"}],
}

# What of the canvas the user sees: React Flow's pane, less what lies over it (the node list,
# the versions panel).
VISIBLE_CANVAS = """() => {
  const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
  let left = pane.left, right = pane.right;
  for (const el of document.querySelectorAll('.palette, .side-panel')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= left || r.left >= right) continue;
    if (r.left <= left) left = Math.max(left, r.right); else right = Math.min(right, r.left);
  }
  return right - left;
}"""


def _create(api_user: ApiUser, name: str, definition: dict[str, Any]) -> str:
    created = httpx.post(
        f"{api_user.base_url}/api/v1/workflows",
        headers=api_user.headers,
        json={"name": name, "definition": definition},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def test_the_canvas_keeps_most_of_the_window_with_a_panel_open(page: Any, api_user: ApiUser) -> None:
    workflow_id = _create(api_user, "Layout", DEFINITION)
    api_user.login(page)
    shots = ARTIFACTS / "editor-layout"
    shots.mkdir(parents=True, exist_ok=True)
    for width, height in [(1400, 900), (1920, 1080)]:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"/workflows/{workflow_id}")
        expect(page.locator(".react-flow__node")).to_have_count(3)
        open_node(page, "Route")
        expect(page.get_by_label("Node details")).to_be_visible()
        visible = page.evaluate(VISIBLE_CANVAS)
        assert visible >= 0.6 * width, f"at {width}x{height} the canvas keeps {visible:.0f} px"
        page.screenshot(path=str(shots / f"editor-{width}x{height}.png"))

        # The versions panel (over the canvas) leaves most of it too.
        page.get_by_role("button", name="Versions").click()
        expect(page.get_by_role("complementary", name="Versions")).to_be_visible()
        visible = page.evaluate(VISIBLE_CANVAS)
        assert visible >= 0.6 * width, (
            f"with versions open at {width}x{height} the canvas keeps {visible:.0f} px"
        )
        page.screenshot(path=str(shots / f"editor-{width}x{height}-versions.png"))
        page.get_by_role("button", name="Close versions").click()

    # A Switch's five output labels do not overlap.
    labels = page.get_by_test_id("node-Route").locator(".handle-label-out")
    expect(labels).to_have_count(5)
    boxes = [labels.nth(i).bounding_box() for i in range(5)]
    for upper, lower in itertools.pairwise(boxes):
        assert upper is not None and lower is not None
        assert upper["y"] + upper["height"] <= lower["y"], f"labels overlap: {upper} {lower}"

    # A node dropped at the canvas's right edge, under where its panel opens, is panned into view.
    page.set_viewport_size({"width": 1400, "height": 900})
    page.get_by_role("button", name="Close panel").click()
    page.get_by_role("button", name="Show nodes").click()
    canvas, palette = page.get_by_test_id("canvas").bounding_box(), page.locator(".palette").bounding_box()
    assert canvas is not None and palette is not None
    drop_node(page, "core.set", int(canvas["width"] - palette["width"]) - 60, 300)
    dropped = page.get_by_test_id("node-Set fields")
    expect(page.get_by_label("Node name")).to_have_value("Set fields")
    pane = page.locator(".react-flow__pane")
    expect(dropped).to_be_visible()
    page.wait_for_function(
        """() => {
          const node = document.querySelector('[data-testid="node-Set fields"]').getBoundingClientRect();
          const pane = document.querySelector('.react-flow__pane').getBoundingClientRect();
          return node.left >= pane.left && node.right <= pane.right;
        }"""
    )
    node_box, pane_box = dropped.bounding_box(), pane.bounding_box()
    assert node_box is not None and pane_box is not None and _inside(node_box, pane_box)


def test_fit_view_on_a_large_workflow_stays_readable_and_starts_at_the_trigger(
    page: Any, api_user: ApiUser
) -> None:
    nodes = [{"id": "start", "name": "Start", "type": "core.manual_trigger"}]
    nodes += [{"id": f"n{i}", "name": f"Step {i}", "type": "core.noop"} for i in range(1, 200)]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    workflow_id = _create(api_user, "Long chain", {"nodes": nodes, "edges": edges})  # laid out 52,000 px wide
    api_user.login(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/workflows/{workflow_id}")
    start = page.get_by_test_id("node-Start")
    expect(start).to_be_visible()
    viewport = page.locator(".react-flow__viewport")
    expect(viewport).to_have_attribute("style", re.compile(r"scale\(0\.5\)"))
    pane = page.locator(".react-flow__pane").bounding_box()
    box = start.bounding_box()
    assert pane is not None and box is not None and _inside(box, pane), (box, pane)
    assert box["x"] - pane["x"] < 100, "the trigger is at the left edge"
    page.get_by_test_id("canvas").click(position={"x": 600, "y": 40})
    page.keyboard.press("1")  # fit again: the same readable view
    expect(viewport).to_have_attribute("style", re.compile(r"scale\(0\.5\)"))
