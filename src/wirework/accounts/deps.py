"""Authentication for routes: who is calling (bearer token or session cookie) and in which org.

Every route outside the public allow-list depends on `CurrentPrincipal` (or something built on
it); `tests/accounts/test_route_auth.py` walks the route table to prove it. An API key is also
held to its scopes there, on every route (`accounts.scopes`; tests/accounts/test_scopes.py).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from wirework.accounts.models import OrgRole
from wirework.accounts.scopes import required_scope
from wirework.accounts.service import Principal, resolve_token
from wirework.deps import SessionDep
from wirework.errors import Forbidden, Unauthorized
from wirework.security import tokens

SESSION_COOKIE = "wirework_session"
CSRF_COOKIE = "wirework_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer realm="wirework"'})


async def get_principal(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization")
    via_cookie = False
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Use 'Authorization: Bearer <API key or session token>'.")
        token = token.strip()
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token:
            raise _unauthorized("Log in, or send 'Authorization: Bearer <API key>'.")
        via_cookie = True
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not tokens.equals(sent, tokens.csrf_token_for(token)):
                raise Forbidden(f"Missing or wrong {CSRF_HEADER} header for a cookie-authenticated request.")
    principal = await resolve_token(session, token, via_cookie=via_cookie)
    if principal is None:
        raise _unauthorized("The token is unknown or expired; log in again.")
    if principal.scopes is not None:
        _check_scope(request, principal.scopes)
    # Persist last-seen stamps now: the route may only read and never commit.
    if session.dirty:
        await session.commit()
    return principal


def _check_scope(request: Request, scopes: frozenset[str]) -> None:
    """403 unless the API key has the scope this route needs (see `accounts.scopes`)."""
    route = request.scope.get("route")
    needed = required_scope(request.method, getattr(route, "path", ""))
    if needed is None:
        raise Forbidden("API keys cannot call this route; use a web login.")
    if needed not in scopes:
        raise Forbidden(
            f"This API key does not have the {needed} scope this route needs; make a key with it "
            "(POST /api/v1/api-keys with scopes)."
        )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_instance_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_instance_admin:
        raise Forbidden("This needs an instance administrator.")
    return principal


InstanceAdmin = Annotated[Principal, Depends(get_instance_admin)]


def get_active_org(principal: CurrentPrincipal) -> uuid.UUID:
    if principal.org_id is None:
        raise Forbidden("No organization selected: switch to one with POST /api/v1/auth/switch-org.")
    return principal.org_id


ActiveOrgId = Annotated[uuid.UUID, Depends(get_active_org)]


def require_role(principal: Principal, role: OrgRole) -> None:
    """Raise 403 unless the caller has at least `role` in the active organization."""
    if principal.org_role is None or not principal.org_role.at_least(role):
        have = principal.org_role.value if principal.org_role else "no role"
        raise Forbidden(f"This needs the {role.value} role in the organization; you have {have}.")
