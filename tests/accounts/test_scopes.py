"""API key scopes are checked on every route: a key without the scope a route needs gets 403."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create
from wirework.accounts.scopes import ALL_SCOPES, required_scope
from wirework.app import PUBLIC_ROUTES


def _fill(path: str) -> str:
    return "/".join(str(uuid.uuid4()) if p.startswith("{") else p for p in path.split("/"))


async def _key(client: httpx.AsyncClient, who: Account, scopes: list[str] | None) -> dict[str, str]:
    body: dict[str, Any] = {"name": "k"} if scopes is None else {"name": "k", "scopes": scopes}
    response = await client.post("/api/v1/api-keys", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def _routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    paths = (await client.get("/openapi.json")).json()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if (method.upper(), path) not in PUBLIC_ROUTES
    ]


def _scope_refusal(response: httpx.Response) -> bool:
    return (
        response.status_code == 403
        and response.headers["content-type"] == "application/problem+json"
        and "scope" in response.json()["detail"]
    )


async def test_every_route_refuses_a_key_without_its_scope(client: httpx.AsyncClient) -> None:
    """Walks every route of the API: each names a scope, a key holding every scope but that one
    gets 403 problem+json, and a key holding them all is not refused for a scope."""
    ann = await signup(client, "ann")
    routes = await _routes(client)
    assert len(routes) >= 60
    uncovered = [r for r in routes if required_scope(*r) is None]
    assert uncovered == [], f"routes no scope covers (no key may call them): {uncovered}"
    all_but = {s: await _key(client, ann, [x for x in ALL_SCOPES if x != s]) for s in ALL_SCOPES}
    full = await _key(client, ann, None)
    for method, path in routes:
        needed = required_scope(method, path)
        assert needed is not None
        url = _fill(path)
        refused = await client.request(method, url, json={}, headers=all_but[needed])
        assert _scope_refusal(refused), f"{method} {path} without {needed}: {refused.status_code}"
        allowed = await client.request(method, url, json={}, headers=full)
        assert not _scope_refusal(allowed), f"{method} {path} with every scope: {allowed.text}"


async def test_scopes_mean_what_their_names_say(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER))
    reader = await _key(client, ann, ["workflows:read"])
    assert (await client.get(f"/api/v1/workflows/{workflow_id}", headers=reader)).status_code == 200
    assert (await client.get("/api/v1/node-types", headers=reader)).status_code == 200
    renamed = await client.patch(f"/api/v1/workflows/{workflow_id}", json={"name": "x"}, headers=reader)
    assert renamed.status_code == 403 and "workflows:write" in renamed.json()["detail"]
    assert _scope_refusal(await client.get("/api/v1/executions", headers=reader))
    assert _scope_refusal(await client.get("/api/v1/credentials", headers=reader))
    assert _scope_refusal(await client.get("/api/v1/auth/me", headers=reader))

    runner = await _key(client, ann, ["executions:read", "executions:write"])
    ran = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={"wait_s": 5}, headers=runner)
    assert ran.status_code == 201, ran.text
    assert (await client.get(f"/api/v1/executions/{ran.json()['id']}", headers=runner)).status_code == 200
    assert _scope_refusal(await client.get(f"/api/v1/workflows/{workflow_id}", headers=runner))

    # The web login is not limited by scopes.
    assert (await client.get("/api/v1/credentials", headers=ann.headers)).status_code == 200


async def test_unknown_or_no_scopes_are_refused_when_making_a_key(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    unknown = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["workflows:read", "forms:write"]},
        headers=ann.headers,
    )
    assert unknown.status_code == 422 and "forms:write" in unknown.text
    empty = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": []}, headers=ann.headers)
    assert empty.status_code == 422
    made = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["workflows:read"]}, headers=ann.headers
    )
    assert made.json()["scopes"] == ["workflows:read"]
    listed = (await client.get("/api/v1/api-keys", headers=ann.headers)).json()["items"]
    assert listed[0]["scopes"] == ["workflows:read"]
    offered = (await client.get("/api/v1/api-keys/scopes", headers=ann.headers)).json()
    assert [s["scope"] for s in offered] == list(ALL_SCOPES)


async def test_a_key_cannot_make_a_key_with_more_scopes(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    limited = await _key(client, ann, ["api-keys:write", "workflows:read"])
    wider = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["credentials:read"]}, headers=limited
    )
    assert wider.status_code == 403 and "credentials:read" in wider.json()["detail"]
    same = await client.post("/api/v1/api-keys", json={"name": "k"}, headers=limited)
    assert same.status_code == 201
    assert sorted(same.json()["scopes"]) == ["api-keys:write", "workflows:read"]
