"""The Members page and the invitation link: invite, sign up by invitation, change a role,
remove a member, the last owner's 409; and an existing user logging in to accept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots

LAST_OWNER = "An organization needs at least one owner"


@pytest.fixture
def guest(browser: Any, ui_server: str) -> Iterator[Any]:
    """A second, logged-out browser: the invitee."""
    context = browser.new_context(base_url=ui_server, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _me(user: ApiUser) -> dict[str, Any]:
    me = httpx.get(f"{user.base_url}/api/v1/auth/me", headers=user.headers)
    assert me.status_code == 200, me.text
    return dict(me.json())


def _members(user: ApiUser, org_id: str) -> dict[str, str]:
    rows = httpx.get(f"{user.base_url}/api/v1/orgs/{org_id}/members", headers=user.headers).json()
    return {m["username"]: m["role"] for m in rows}


def test_invite_sign_up_change_role_and_remove(
    page: Any, guest: Any, api_user: ApiUser, shots: Shots, request: pytest.FixtureRequest
) -> None:
    owner = _me(api_user)
    org = owner["organization"]
    api_user.login(page)
    page.goto("/workflows")
    page.get_by_role("link", name="Members").click()
    members = page.get_by_role("table", name="Members")
    expect(members).to_contain_text(owner["user"]["username"])

    page.get_by_label("Invite email").fill("bob@example.com")
    expect(page.get_by_label("Invite role")).to_have_value("member")
    page.get_by_role("button", name="Invite member").click()
    link = page.get_by_test_id("invite-link")
    expect(link).to_contain_text("/invite?token=")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.get_by_role("table", name="Pending invitations")).to_contain_text("bob@example.com")
    shots("invited")
    accept_url = link.inner_text()

    # The invitee, logged out, opens the link and signs up with the invitation.
    guest_shots = Shots(guest, request.node.name + "-invitee")
    guest.goto(accept_url)
    expect(
        guest.get_by_role("heading", name=re.compile(r"You were invited to join .+ as member"))
    ).to_be_visible()
    expect(guest.get_by_label("Email")).to_have_value("bob@example.com")  # from the invitation
    expect(guest.get_by_label("Organization name (optional)")).to_have_count(0)
    guest_shots("invitation")
    guest.get_by_label("Email").fill("bob@example.com")
    guest.get_by_label("Username").fill("bob")
    guest.get_by_label("Password").fill("a-long-password")
    guest.get_by_role("button", name="Sign up and join").click()
    expect(guest).to_have_url(f"{api_user.base_url}/workflows")
    expect(guest.get_by_label("Organization")).to_have_value(org["id"])
    guest_shots("joined")

    page.reload()
    bob_role = page.get_by_label("Role of bob")
    expect(bob_role).to_have_value("member")
    expect(page.get_by_text("No pending invitations.")).to_be_visible()
    bob_role.select_option("viewer")
    expect(bob_role).to_have_value("viewer")
    assert _members(api_user, org["id"])["bob"] == "viewer"
    shots("bob-viewer")

    # A viewer reads the list, without role selects, removals or invitations; and may leave.
    guest.goto("/members")
    expect(guest.get_by_role("table", name="Members")).to_contain_text(owner["user"]["username"])
    expect(guest.get_by_role("combobox", name="Role of bob")).to_have_count(0)
    expect(guest.get_by_role("button", name="Remove")).to_have_count(0)
    expect(guest.get_by_role("button", name="Invite member")).to_have_count(0)
    expect(guest.get_by_role("button", name="Leave organization")).to_be_visible()
    guest_shots("viewer-read-only")

    page.once("dialog", lambda dialog: dialog.accept())
    members.locator("tr", has_text="bob@example.com").get_by_role("button", name="Remove").click()
    expect(members).not_to_contain_text("bob@example.com")
    assert "bob" not in _members(api_user, org["id"])

    # The sole owner can neither step down nor leave: the 409 shows under their row.
    me_row = members.locator("tr", has_text="(you)")
    page.get_by_label(f"Role of {owner['user']['username']}").select_option("admin")
    expect(members.get_by_role("alert")).to_contain_text(LAST_OWNER)
    expect(page.get_by_label(f"Role of {owner['user']['username']}")).to_have_value("owner")
    page.once("dialog", lambda dialog: dialog.accept())
    me_row.get_by_role("button", name="Leave organization").click()
    expect(members.get_by_role("alert")).to_contain_text(LAST_OWNER)
    shots("last-owner")
    assert _me(api_user)["organization"]["role"] == "owner"


def test_existing_user_logs_in_to_accept(page: Any, api_user: ApiUser, shots: Shots) -> None:
    base = api_user.base_url
    org_id = _me(api_user)["organization"]["id"]
    carol = httpx.post(
        f"{base}/api/v1/auth/signup",
        json={"email": "carol@example.com", "username": "carol", "password": "a-long-password"},
    )
    assert carol.status_code == 201, carol.text

    def invite(email: str) -> str:
        made = httpx.post(
            f"{base}/api/v1/orgs/{org_id}/invitations",
            headers=api_user.headers,
            json={"email": email, "role": "admin"},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["token"])

    # Logged out: the link leads to the login, which comes back to the invitation.
    token = invite("carol@example.com")
    page.goto(f"/invite?token={token}")
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email or username").fill("carol")
    page.get_by_label("Password").fill("a-long-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/invite?token={token}")
    expect(page.get_by_text("You are logged in as carol")).to_be_visible()

    # An invitation sent to someone else is refused, plainly.
    page.goto(f"/invite?token={invite('dave@example.com')}")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("sent to another email address")
    shots("wrong-email")

    page.goto(f"/invite?token={token}")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page).to_have_url(f"{base}/workflows")
    expect(page.get_by_label("Organization")).to_have_value(org_id)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_label("Role of carol")).to_have_value("admin")
    shots("accepted")

    # Used now: opening the link again says so at once.
    page.goto(f"/invite?token={token}")
    expect(page.get_by_role("alert")).to_contain_text("unknown, used or expired")
    expect(page.get_by_role("button", name="Accept invitation")).to_have_count(0)
