"""Browser-test fixtures: a real `wirework serve` on a fresh SQLite database, and Debian's chromium.

The tests never download a browser: they drive /usr/bin/chromium and skip, saying why, when it
is missing (CI installs it) or when the UI bundle has not been built (`make web`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import running_server
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, ApiUser, Shots
from wirework.web import DIST


def _needs_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: install Debian's chromium (apt-get install chromium)")
    if not (DIST / "index.html").is_file():
        pytest.skip("the web UI is not built: run `make web`")


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server process with its own data dir (fresh SQLite database)."""
    _needs_browser()
    data_dir = tmp_path_factory.mktemp("ui-server")
    with running_server(data_dir, WIREWORK_OPEN_SIGNUP="true") as (url, _process):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per module: sync Playwright keeps an event loop running in this thread while
    it is open, which the async tests of other modules must not meet."""
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, ui_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=ui_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def api_user(ui_server: str, request: pytest.FixtureRequest) -> ApiUser:
    name = re.sub(r"[^a-z0-9]", "", request.node.name.lower())[:40]
    response = httpx.post(
        f"{ui_server}/api/v1/auth/signup",
        json={"email": f"{name}@example.com", "username": name, "password": "a-long-password"},
    )
    assert response.status_code == 201, response.text
    session = response.json()["session"]
    return ApiUser(ui_server, session["token"], session["csrf_token"])


@pytest.fixture
def shots(page: Any, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name)
