"""A member of organization A gets 404 for every object of organization B."""

from __future__ import annotations

import httpx

from tests.support.accounts import Account, invite, signup, signup_invited
from wirework.settings import Settings


async def _two_tenants(
    client: httpx.AsyncClient, settings: Settings
) -> tuple[Account, Account, dict[str, str]]:
    settings.open_signup = True
    alice = await signup(client, "alice", org_name="A")
    bob = await signup(client, "bob", org_name="B")
    carol = await signup_invited(client, bob, "carol")
    key = (await client.post("/api/v1/api-keys", json={"name": "b"}, headers=bob.headers)).json()
    await invite(client, bob, "dave@example.com")
    invitation = (await client.get(f"/api/v1/orgs/{bob.org_id}/invitations", headers=bob.headers)).json()[0]
    return alice, bob, {"carol": carol.user_id, "key": key["id"], "invitation": invitation["id"]}


async def test_member_of_a_sees_nothing_of_b(client: httpx.AsyncClient, settings: Settings) -> None:
    alice, bob, ids = await _two_tenants(client, settings)
    b = bob.org_id
    attempts = [
        ("GET", f"/api/v1/orgs/{b}", None),
        ("PATCH", f"/api/v1/orgs/{b}", {"name": "pwned"}),
        ("DELETE", f"/api/v1/orgs/{b}", None),
        ("GET", f"/api/v1/orgs/{b}/members", None),
        ("PATCH", f"/api/v1/orgs/{b}/members/{ids['carol']}", {"role": "owner"}),
        ("DELETE", f"/api/v1/orgs/{b}/members/{ids['carol']}", None),
        ("GET", f"/api/v1/orgs/{b}/invitations", None),
        ("POST", f"/api/v1/orgs/{b}/invitations", {"email": "x@example.com"}),
        ("DELETE", f"/api/v1/orgs/{b}/invitations/{ids['invitation']}", None),
        ("DELETE", f"/api/v1/api-keys/{ids['key']}", None),
        ("POST", "/api/v1/auth/switch-org", {"org_id": b}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=alice.headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
        assert "not found" in response.json()["detail"]
    orgs = (await client.get("/api/v1/orgs", headers=alice.headers)).json()
    assert [o["name"] for o in orgs] == ["A"]
    # and B is untouched
    members = (await client.get(f"/api/v1/orgs/{b}/members", headers=bob.headers)).json()
    assert {m["username"]: m["role"] for m in members} == {"bob": "owner", "carol": "member"}
    assert (await client.get(f"/api/v1/orgs/{b}", headers=bob.headers)).json()["name"] == "B"


async def test_api_keys_list_only_the_callers_org(client: httpx.AsyncClient, settings: Settings) -> None:
    alice, _, _ = await _two_tenants(client, settings)
    await client.post("/api/v1/api-keys", json={"name": "a"}, headers=alice.headers)
    names = [k["name"] for k in (await client.get("/api/v1/api-keys", headers=alice.headers)).json()["items"]]
    assert names == ["a"]


async def test_api_key_acts_only_in_its_own_org(client: httpx.AsyncClient, settings: Settings) -> None:
    alice, bob, _ = await _two_tenants(client, settings)
    key = (await client.post("/api/v1/api-keys", json={"name": "a"}, headers=alice.headers)).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get(f"/api/v1/orgs/{bob.org_id}", headers=headers)).status_code == 404
    switch = await client.post("/api/v1/auth/switch-org", json={"org_id": alice.org_id}, headers=headers)
    assert switch.status_code == 403
