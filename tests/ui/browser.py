"""Helpers of the browser tests: Debian's chromium, a user whose session the browser takes over,
and numbered screenshots under tests/artifacts/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class ApiUser:
    """A user made through the API, whose session the browser can take over."""

    base_url: str
    token: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def login(self, page: Any) -> None:
        page.context.add_cookies(
            [
                {"name": "wirework_session", "value": self.token, "url": self.base_url, "httpOnly": True},
                {"name": "wirework_csrf", "value": self.csrf, "url": self.base_url},
            ]
        )


class Shots:
    """Numbered screenshots of one test under tests/artifacts/<test>/."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.dir = ARTIFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.dir / f"{self.count:02d}-{step}.png"))


# ---------------------------------------------------------------- the canvas


def drop_node(page: Any, node_type: str, x: int, y: int) -> None:
    """Drop at (x, y) of the canvas the user sees: right of the node list, which lies over it."""
    palette = page.locator(".palette").bounding_box()
    page.get_by_test_id(f"palette-{node_type}").drag_to(
        page.get_by_test_id("canvas"), target_position={"x": x + (palette["width"] if palette else 0), "y": y}
    )


def open_node(page: Any, name: str) -> None:
    page.get_by_test_id(f"node-{name}").click()
    expect(page.get_by_label("Node name")).to_have_value(name)


def close_panel(page: Any) -> None:
    page.get_by_role("button", name="Close panel").click()


def connect(page: Any, source: str, output: str, target: str, input_: str = "main") -> None:
    start = page.locator(f'.react-flow__handle.source[data-nodeid="{source}"][data-handleid="{output}"]')
    end = page.locator(f'.react-flow__handle.target[data-nodeid="{target}"][data-handleid="{input_}"]')
    start.hover()
    page.mouse.down()
    box = end.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()
