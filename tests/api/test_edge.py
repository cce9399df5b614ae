"""The HTTP edge of the API and UI: body limits, the one strict JSON parser, security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.accounts import signup
from tests.support.apps import client_of
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.security.bodies import MAX_JSON_DEPTH
from wirework.settings import Settings

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


async def test_deep_json_on_public_routes_is_400_without_a_traceback(
    client: httpx.AsyncClient, capfd: pytest.CaptureFixture[str]
) -> None:
    ann = await signup(client, "ann")
    capfd.readouterr()
    calls = 0
    for depth in (1_000, 100_000):
        for body in (
            b"[" * depth + b"]" * depth,
            b'{"login": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
        ):
            for path, headers in (
                ("/api/v1/auth/login", JSON),
                ("/api/v1/auth/signup", JSON),
                ("/api/v1/workflows", {**JSON, **ann.headers}),
            ):
                response = await client.post(path, content=body, headers=headers)
                calls += 1
                assert response.status_code == 400, (path, depth, response.text)
                assert response.headers["content-type"] == PROBLEM
                assert f"nests deeper than {MAX_JSON_DEPTH} levels" in response.json()["detail"]
    logged = capfd.readouterr().err
    assert "Traceback" not in logged and "unhandled_error" not in logged
    assert logged.count("status=400") == calls == len(logged.splitlines())  # one line each


async def test_non_standard_json_in_an_api_body_is_400(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    for value in (b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"\\ud800"'):
        body = b'{"preferences": {"x": ' + value + b"}}"
        response = await client.put(
            "/api/v1/users/me/preferences", content=body, headers={**JSON, **ann.headers}
        )
        assert response.status_code == 400, (value, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["type"] == "json_invalid"
    stored = await client.get("/api/v1/users/me/preferences", headers=ann.headers)
    assert stored.json() == {"preferences": {}}


async def test_api_bodies_have_a_size_limit_declared_or_streamed(settings: Settings, db: Database) -> None:
    limit = 64 * 1024
    app = create_app(settings.model_copy(update={"api_max_body_bytes": limit}), db=db)
    async with app.router.lifespan_context(app), client_of(app) as client:
        ann = await signup(client, "ann")
        headers = {**JSON, **ann.headers}
        big = b'{"preferences": {"x": "' + b"a" * limit + b'"}}'
        declared = await client.put("/api/v1/users/me/preferences", content=big, headers=headers)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == PROBLEM

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked, counted while read
            yield b'{"preferences": {"x": "'
            for _ in range(5):
                yield b"a" * (limit // 4)
            yield b'"}}'

        streamed = await client.put("/api/v1/users/me/preferences", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert streamed.headers["content-type"] == PROBLEM
        small = {"preferences": {"x": "a" * (limit // 2)}}
        assert (
            await client.put("/api/v1/users/me/preferences", json=small, headers=ann.headers)
        ).status_code == 200


async def test_the_ui_and_api_send_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/", "/workflows/abc", "/api/v1/auth/me", "/healthz", "/api/v1/nothing"):
        response = await client.get(path)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    api = (await client.get("/api/v1/auth/me")).headers["content-security-policy"]
    assert "script-src 'self';" in api and "style-src 'self';" in api and "unsafe" not in api
    docs = await client.get("/docs")
    if docs.status_code == 200:  # Swagger UI comes from its CDN with an inline start script
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert docs.headers["x-frame-options"] == "DENY"
