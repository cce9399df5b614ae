"""Every route outside the public allow-list refuses a caller without credentials."""

from __future__ import annotations

import uuid

import httpx

from wirework.app import PUBLIC_ROUTES


def _fill(path: str) -> str:
    """Put a random UUID in each path parameter."""
    parts = [str(uuid.uuid4()) if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)


async def test_every_non_public_route_requires_auth(client: httpx.AsyncClient) -> None:
    """Walks the OpenAPI route table (every API route is in it) and calls each route bare."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    checked = 0
    for path, operations in paths.items():
        for method in operations:
            if (method.upper(), path) in PUBLIC_ROUTES:
                continue
            response = await client.request(method.upper(), _fill(path), json={})
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 20  # the walk really covered the API


async def test_public_routes_answer_without_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/docs")).status_code == 200
    assert (await client.post("/api/v1/auth/login", json={"login": "x", "password": "y"})).status_code == 401


async def test_garbage_bearer_tokens_are_401(client: httpx.AsyncClient) -> None:
    for header in ("Bearer", "Bearer ", "Basic abc", "Bearer ww_not-a-key", "Bearer nope"):
        response = await client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401, header
