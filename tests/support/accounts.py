"""Small factories for accounts through the real API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery"


@dataclass
class Account:
    token: str
    user_id: str
    org_id: str
    username: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _account(body: dict[str, Any]) -> Account:
    return Account(
        token=body["session"]["token"],
        user_id=body["user"]["id"],
        org_id=body["organization"]["id"],
        username=body["user"]["username"],
        email=body["user"]["email"],
    )


async def signup(client: httpx.AsyncClient, username: str, **extra: Any) -> Account:
    payload = {"email": f"{username}@example.com", "username": username, "password": PASSWORD, **extra}
    response = await client.post("/api/v1/auth/signup", json=payload)
    assert response.status_code == 201, response.text
    return _account(response.json())


async def invite(client: httpx.AsyncClient, by: Account, email: str, role: str = "member") -> str:
    response = await client.post(
        f"/api/v1/orgs/{by.org_id}/invitations", json={"email": email, "role": role}, headers=by.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def signup_invited(
    client: httpx.AsyncClient, by: Account, username: str, role: str = "member"
) -> Account:
    token = await invite(client, by, f"{username}@example.com", role)
    return await signup(client, username, invitation_token=token)
