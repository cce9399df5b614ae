"""Sign up, log in, sessions, cookies with CSRF, API keys, passwords — through the real API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.support.accounts import PASSWORD, invite, signup, signup_invited
from wirework.accounts.models import ApiKey, AuthSession, User
from wirework.db.engine import Database
from wirework.settings import Settings

PROBLEM = "application/problem+json"


async def test_first_signup_creates_org_owner_and_instance_admin(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice", org_name="Acme")
    me = (await client.get("/api/v1/auth/me", headers=alice.headers)).json()
    assert me["user"]["role"] == "admin"
    assert me["organization"] == {**me["organizations"][0]}
    assert me["organization"]["name"] == "Acme" and me["organization"]["role"] == "owner"


async def test_later_signup_needs_invitation_unless_open(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await signup(client, "alice")
    refused = await client.post(
        "/api/v1/auth/signup", json={"email": "bob@example.com", "username": "bob", "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert "invitation" in refused.json()["detail"]
    settings.open_signup = True
    bob = await signup(client, "bob")
    me = (await client.get("/api/v1/auth/me", headers=bob.headers)).json()
    assert me["user"]["role"] == "user" and me["organization"]["role"] == "owner"


async def test_invitation_joins_the_inviting_org_with_its_role_once(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    token = await invite(client, alice, "bob@example.com", role="viewer")
    bob = await signup(client, "bob", invitation_token=token)
    assert bob.org_id == alice.org_id
    members = (await client.get(f"/api/v1/orgs/{alice.org_id}/members", headers=alice.headers)).json()
    assert {m["username"]: m["role"] for m in members} == {"alice": "owner", "bob": "viewer"}
    again = await client.post(
        "/api/v1/auth/signup",
        json={
            "email": "bob@example.com",
            "username": "bob2",
            "password": PASSWORD,
            "invitation_token": token,
        },
    )
    assert again.status_code == 403


async def test_an_invitation_link_previews_its_organization_without_login_or_use(
    client: httpx.AsyncClient,
) -> None:
    alice = await signup(client, "alice", org_name="Acme")
    token = await invite(client, alice, "bob@example.com", role="member")
    preview = await client.post("/api/v1/invitations/preview", json={"token": token})
    assert preview.status_code == 200, preview.text
    assert {k: preview.json()[k] for k in ("organization_name", "email", "role")} == {
        "organization_name": "Acme",
        "email": "bob@example.com",
        "role": "member",
    }
    bob = await signup(client, "bob", invitation_token=token)  # the preview did not use it
    assert bob.org_id == alice.org_id
    used = await client.post("/api/v1/invitations/preview", json={"token": token})
    assert used.status_code == 403
    assert used.headers["content-type"].startswith("application/problem+json")
    unknown = await client.post("/api/v1/invitations/preview", json={"token": "not-a-token"})
    assert unknown.status_code == 403 and unknown.json()["detail"] == used.json()["detail"]


async def test_invitation_for_another_email_is_refused(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    token = await invite(client, alice, "bob@example.com")
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "eve@example.com", "username": "eve", "password": PASSWORD, "invitation_token": token},
    )
    assert response.status_code == 403
    assert "another email" in response.json()["detail"]


async def test_existing_user_accepts_invitation_and_switches_org(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    alice = await signup(client, "alice")
    settings.open_signup = True
    bob = await signup(client, "bob")
    token = await invite(client, alice, "bob@example.com", role="admin")
    joined = await client.post("/api/v1/invitations/accept", json={"token": token}, headers=bob.headers)
    assert joined.status_code == 200 and joined.json()["role"] == "admin"
    switched = await client.post(
        "/api/v1/auth/switch-org", json={"org_id": alice.org_id}, headers=bob.headers
    )
    assert switched.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bob.headers)).json()["organization"][
        "id"
    ] == alice.org_id


async def test_duplicate_email_and_username_are_409(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.open_signup = True
    await signup(client, "alice")
    for payload in (
        {"email": "ALICE@example.com", "username": "other", "password": PASSWORD},
        {"email": "other@example.com", "username": "Alice", "password": PASSWORD},
    ):
        response = await client.post("/api/v1/auth/signup", json=payload)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == PROBLEM


async def test_login_by_email_or_username(client: httpx.AsyncClient) -> None:
    await signup(client, "alice")
    for login in ("alice", "ALICE@example.com"):
        response = await client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token = response.json()["session"]["token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"]["username"] == "alice"


async def test_wrong_password_and_unknown_user_get_the_same_401(client: httpx.AsyncClient) -> None:
    await signup(client, "alice")
    wrong = await client.post("/api/v1/auth/login", json={"login": "alice", "password": "nope-nope"})
    unknown = await client.post("/api/v1/auth/login", json={"login": "mallory", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_login_is_rate_limited_per_account_with_retry_after(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await signup(client, "alice")
    for _ in range(settings.login_max_attempts):
        response = await client.post("/api/v1/auth/login", json={"login": "alice", "password": "wrong-pass"})
        assert response.status_code in (401, 429)  # failures in a row make the account wait (back-off)
    limited = await client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"] == PROBLEM


async def test_login_is_rate_limited_per_ip_across_accounts(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for i in range(settings.login_max_attempts):
        await client.post("/api/v1/auth/login", json={"login": f"user{i}", "password": "wrong-pass"})
    limited = await client.post("/api/v1/auth/login", json={"login": "someone-else", "password": "x"})
    assert limited.status_code == 429


async def test_logout_ends_the_session(client: httpx.AsyncClient, db: Database) -> None:
    alice = await signup(client, "alice")
    assert (await client.post("/api/v1/auth/logout", headers=alice.headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=alice.headers)).status_code == 401
    async with db.session() as session:
        assert (await session.execute(select(AuthSession))).first() is None


async def test_cookie_auth_needs_csrf_header_on_unsafe_methods(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "a@example.com", "username": "alice", "password": PASSWORD}
    )
    csrf = response.json()["session"]["csrf_token"]
    set_cookie = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("wirework_session="))
    assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
    assert client.cookies.get("wirework_csrf") == csrf
    assert (await client.get("/api/v1/auth/me")).status_code == 200  # GET needs no CSRF token
    refused = await client.post("/api/v1/orgs", json={"name": "Second"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    made = await client.post("/api/v1/orgs", json={"name": "Second"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


async def test_api_key_is_shown_once_listed_by_prefix_and_authenticates(
    client: httpx.AsyncClient, db: Database
) -> None:
    alice = await signup(client, "alice")
    created = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=alice.headers)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("ww_") and created.json()["prefix"] == key[:11]
    listed = (await client.get("/api/v1/api-keys", headers=alice.headers)).json()
    assert [k["prefix"] for k in listed["items"]] == [key[:11]]
    assert "key" not in listed["items"][0]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["auth"] == "api_key"
    async with db.session() as session:
        stored = (await session.execute(select(ApiKey))).scalar_one()
        assert key not in (stored.key_hash, stored.prefix)
    deleted = await client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 401


async def test_expired_api_key_is_refused(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    created = await client.post(
        "/api/v1/api-keys", json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"}, headers=alice.headers
    )
    key = created.json()["key"]
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 401


async def test_password_is_stored_as_argon2id_and_change_ends_other_sessions(
    client: httpx.AsyncClient, db: Database
) -> None:
    alice = await signup(client, "alice")
    other = await client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    other_headers = {"Authorization": f"Bearer {other.json()['session']['token']}"}
    async with db.session() as session:
        assert (await session.execute(select(User.password_hash))).scalar_one().startswith("$argon2id$")
    wrong = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it", "new_password": "another password"},
        headers=alice.headers,
    )
    assert wrong.status_code == 403
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "another password"},
        headers=alice.headers,
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=alice.headers)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=other_headers)).status_code == 401
    relogin = await client.post("/api/v1/auth/login", json={"login": "alice", "password": "another password"})
    assert relogin.status_code == 200


async def test_deactivated_user_cannot_log_in_or_use_sessions(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    bob = await signup_invited(client, alice, "bob")
    response = await client.patch(
        f"/api/v1/users/{bob.user_id}", json={"is_active": False}, headers=alice.headers
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=bob.headers)).status_code == 401
    login = await client.post("/api/v1/auth/login", json={"login": "bob", "password": PASSWORD})
    assert login.status_code == 401


async def test_preferences_round_trip(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    assert (await client.get("/api/v1/users/me/preferences", headers=alice.headers)).json() == {
        "preferences": {}
    }
    prefs = {"timezone": "Europe/Berlin", "editor": {"snap": True, "grid": 16}}
    put = await client.put("/api/v1/users/me/preferences", json={"preferences": prefs}, headers=alice.headers)
    assert put.status_code == 200
    got = await client.get("/api/v1/users/me/preferences", headers=alice.headers)
    assert got.json() == {"preferences": prefs}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "username": "alice", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "username": "alice", "password": "short"}, "password"),
        ({"email": "a@example.com", "username": "no spaces!", "password": PASSWORD}, "username"),
    ],
)
async def test_bad_signup_input_is_422_pointing_at_the_field(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["loc"] for e in response.json()["errors"]] == [["body", field]]


async def test_malformed_json_is_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b'{"login": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("The request body is not valid JSON")
