"""Roles: what viewers, members, admins and owners may do; instance admins manage users."""

from __future__ import annotations

import httpx

from tests.support.accounts import PASSWORD, signup, signup_invited


async def test_viewer_and_member_cannot_manage_the_org(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "owner")
    viewer = await signup_invited(client, owner, "viewer", role="viewer")
    member = await signup_invited(client, owner, "member", role="member")
    org = owner.org_id
    for who in (viewer, member):
        invited = await client.post(
            f"/api/v1/orgs/{org}/invitations", json={"email": "x@example.com"}, headers=who.headers
        )
        assert invited.status_code == 403
        renamed = await client.patch(f"/api/v1/orgs/{org}", json={"name": "x"}, headers=who.headers)
        assert renamed.status_code == 403
        assert "admin" in renamed.json()["detail"]
    assert (await client.get(f"/api/v1/orgs/{org}/members", headers=viewer.headers)).status_code == 200
    made = await client.post("/api/v1/api-keys", json={"name": "v"}, headers=viewer.headers)
    assert made.status_code == 403


async def test_admin_manages_members_but_not_owners(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "owner")
    admin = await signup_invited(client, owner, "admin", role="admin")
    member = await signup_invited(client, owner, "member")
    org = owner.org_id
    promote = await client.patch(
        f"/api/v1/orgs/{org}/members/{member.user_id}", json={"role": "admin"}, headers=admin.headers
    )
    assert promote.status_code == 200 and promote.json()["role"] == "admin"
    to_owner = await client.patch(
        f"/api/v1/orgs/{org}/members/{member.user_id}", json={"role": "owner"}, headers=admin.headers
    )
    assert to_owner.status_code == 403
    remove_owner = await client.delete(f"/api/v1/orgs/{org}/members/{owner.user_id}", headers=admin.headers)
    assert remove_owner.status_code == 403
    removed = await client.delete(f"/api/v1/orgs/{org}/members/{member.user_id}", headers=admin.headers)
    assert removed.status_code == 204
    assert (await client.get(f"/api/v1/orgs/{org}", headers=member.headers)).status_code == 404


async def test_last_owner_cannot_leave_or_be_demoted(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "owner")
    org = owner.org_id
    leave = await client.delete(f"/api/v1/orgs/{org}/members/{owner.user_id}", headers=owner.headers)
    assert leave.status_code == 409
    demote = await client.patch(
        f"/api/v1/orgs/{org}/members/{owner.user_id}", json={"role": "member"}, headers=owner.headers
    )
    assert demote.status_code == 409
    assert "owner" in demote.json()["detail"]


async def test_only_owner_deletes_the_org(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "owner")
    admin = await signup_invited(client, owner, "admin", role="admin")
    assert (await client.delete(f"/api/v1/orgs/{owner.org_id}", headers=admin.headers)).status_code == 403
    assert (await client.delete(f"/api/v1/orgs/{owner.org_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/api/v1/orgs/{owner.org_id}", headers=owner.headers)).status_code == 404
    assert (
        await client.get(f"/api/v1/orgs/{owner.org_id}/members", headers=admin.headers)
    ).status_code == 404


async def test_user_administration_is_for_instance_admins(client: httpx.AsyncClient) -> None:
    admin = await signup(client, "root")
    member = await signup_invited(client, admin, "member")
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403
    made = await client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "username": "new", "password": PASSWORD, "org_id": admin.org_id},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    listed = (await client.get("/api/v1/users?limit=2", headers=admin.headers)).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    rest = (
        await client.get(f"/api/v1/users?limit=2&cursor={listed['next_cursor']}", headers=admin.headers)
    ).json()
    assert [u["username"] for u in listed["items"] + rest["items"]] == ["root", "member", "new"]
    assert rest["next_cursor"] is None
    login = await client.post("/api/v1/auth/login", json={"login": "new", "password": PASSWORD})
    assert login.json()["organization"]["id"] == admin.org_id
    bad_cursor = await client.get("/api/v1/users?cursor=zzz", headers=admin.headers)
    assert bad_cursor.status_code == 400
    missing = await client.get(f"/api/v1/users/{member.org_id}", headers=admin.headers)
    assert missing.status_code == 404
