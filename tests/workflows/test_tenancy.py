"""Organization A cannot read, change or run anything of organization B's workflows domain."""

from __future__ import annotations

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, run
from wirework.settings import Settings


async def test_member_of_a_gets_404_for_every_workflow_object_of_b(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.open_signup = True
    alice = await signup(client, "alice", org_name="A")
    bob = await signup(client, "bob", org_name="B")
    wf = await create(client, bob, chain(TRIGGER, node("stop", "core.stop_error", {"message": "x"})))
    execution = (await run(client, bob, wf))["id"]
    cred = (
        await client.post(
            "/api/v1/credentials", json={"name": "c", "type": "t", "data": {"k": "v"}}, headers=bob.headers
        )
    ).json()["id"]
    var = (
        await client.post("/api/v1/variables", json={"name": "v", "value": "1"}, headers=bob.headers)
    ).json()["id"]
    attempts = [
        ("GET", f"/api/v1/workflows/{wf}", None),
        ("PATCH", f"/api/v1/workflows/{wf}", {"name": "x"}),
        ("DELETE", f"/api/v1/workflows/{wf}", None),
        ("GET", f"/api/v1/workflows/{wf}/export", None),
        ("GET", f"/api/v1/workflows/{wf}/versions", None),
        ("GET", f"/api/v1/workflows/{wf}/versions/1", None),
        ("POST", f"/api/v1/workflows/{wf}/versions", {"definition": chain(TRIGGER)}),
        ("POST", f"/api/v1/workflows/{wf}/versions/1/restore", None),
        ("POST", f"/api/v1/workflows/{wf}/run", {}),
        ("POST", f"/api/v1/workflows/{wf}/duplicate", None),
        ("POST", f"/api/v1/workflows/{wf}/activate", None),
        ("GET", f"/api/v1/executions/{execution}", None),
        ("POST", f"/api/v1/executions/{execution}/retry", None),
        ("POST", f"/api/v1/executions/{execution}/cancel", None),
        ("DELETE", f"/api/v1/executions/{execution}", None),
        ("GET", f"/api/v1/credentials/{cred}", None),
        ("PATCH", f"/api/v1/credentials/{cred}", {"name": "y"}),
        ("DELETE", f"/api/v1/credentials/{cred}", None),
        ("PATCH", f"/api/v1/variables/{var}", {"value": "2"}),
        ("DELETE", f"/api/v1/variables/{var}", None),
        ("POST", "/api/v1/variables", {"name": "w", "value": "1", "workflow_id": wf}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=alice.headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
    for path in ("/api/v1/workflows", "/api/v1/executions"):
        assert (await client.get(path, headers=alice.headers)).json()["items"] == []
    assert (await client.get("/api/v1/credentials", headers=alice.headers)).json() == []
    assert (await client.get("/api/v1/variables", headers=alice.headers)).json() == []
    sub = await create(
        client, alice, chain(TRIGGER, node("call", "core.execute_workflow", {"workflow_id": wf}))
    )
    result = await run(client, alice, sub)
    assert result["status"] == "failed" and "not found" in result["error"]
    assert (await client.get(f"/api/v1/workflows/{wf}", headers=bob.headers)).json()["name"] == "wf"
