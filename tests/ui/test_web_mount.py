"""The web UI is served at `/` with a fallback for the browser's routes, never over the API."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fastapi import FastAPI, HTTPException

from wirework.problems import install_problem_handlers
from wirework.web import mount_web


def _app(dist: Path) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/forms/{form_id}")
    async def form(form_id: str) -> None:
        raise HTTPException(404, f"No form {form_id}.")

    mount_web(app, dist)
    return app


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Wirework</title><div id=root></div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log('hi')")
    (dist / "favicon.svg").write_text("<svg/>")
    return dist


def _get(app: FastAPI, path: str) -> httpx.Response:
    """GET through the ASGI app, on a loop of its own (the browser tests' loop may be running here)."""

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.get(path)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, get()).result()


def test_index_and_browser_routes_answer_the_bundle(tmp_path: Path) -> None:
    app = _app(_dist(tmp_path))
    for path in ("/", "/workflows", "/workflows/0190-abc", "/executions/x?y=1"):
        response = _get(app, path)
        assert response.status_code == 200, path
        assert "id=root" in response.text
        assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_long(tmp_path: Path) -> None:
    app = _app(_dist(tmp_path))
    response = _get(app, "/assets/index-abc123.js")
    assert response.status_code == 200 and "console.log" in response.text
    assert "immutable" in response.headers["cache-control"]
    assert (_get(app, "/favicon.svg")).headers["cache-control"] == "no-cache"
    missing = _get(app, "/assets/gone-123.js")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.status_code == 404


def test_api_and_public_entry_points_are_not_shadowed(tmp_path: Path) -> None:
    app = _app(_dist(tmp_path))
    assert (_get(app, "/api/v1/thing")).json() == {"ok": "yes"}
    for path in (
        "/api/v1/nothing",
        "/api",
        "/webhook/x",
        "/webhook-test/x",
        "/metrics",
        "/redoc/x",
        "/docs/x",
        "/healthz/x",
    ):
        response = _get(app, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_a_routes_own_404_stays_a_problem(tmp_path: Path) -> None:
    response = _get(_app(_dist(tmp_path)), "/forms/abc")
    assert response.status_code == 404
    assert response.json()["detail"] == "No form abc."


def test_paths_cannot_escape_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    app = _app(_dist(tmp_path))
    response = _get(app, "/..%2Fsecret.txt")
    assert "secret" not in response.text


def test_without_a_build_the_root_says_how_to_make_one(tmp_path: Path) -> None:
    app = _app(tmp_path / "no-dist")
    response = _get(app, "/")
    assert response.status_code == 200
    assert "make run" in response.text and "make web" in response.text
    assert (_get(app, "/workflows")).status_code == 200


def test_web_routes_stay_out_of_the_openapi_schema(tmp_path: Path) -> None:
    paths = _app(_dist(tmp_path)).openapi()["paths"]
    assert list(paths) == ["/api/v1/thing", "/forms/{form_id}"]
