"""HTTP routes of accounts: /api/v1/auth, /orgs, /invitations, /api-keys, /users."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from wirework.accounts import service
from wirework.accounts.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    ActiveOrgId,
    CurrentPrincipal,
    InstanceAdmin,
    require_role,
)
from wirework.accounts.models import (
    ApiKey,
    AuthSession,
    Membership,
    Organization,
    OrgRole,
    User,
    UserLoginToken,
)
from wirework.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuthOut,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    InvitationPreview,
    LoginIn,
    MemberOut,
    MemberUpdate,
    MeOut,
    MeUpdate,
    MyOrganizationOut,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    Page,
    PasswordChange,
    Preferences,
    ScopeOut,
    SessionOut,
    SignupIn,
    SwitchOrgIn,
    UserCreate,
    UserOut,
    UserUpdate,
)
from wirework.accounts.scopes import ALL_SCOPES, AREAS
from wirework.db.pagination import MAX_LIMIT, paginate
from wirework.deps import SessionDep, SettingsDep
from wirework.errors import TooManyRequests, Unauthorized
from wirework.problems import problem_responses
from wirework.security import tokens
from wirework.security.ratelimit import UNLIMITED, DatabaseLimits
from wirework.settings import Settings

AUTHED = problem_responses(400, 401, 403, 422)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page.")]

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=problem_responses(400, 422))
orgs_router = APIRouter(prefix="/api/v1/orgs", tags=["orgs"], responses=AUTHED)
invitations_router = APIRouter(prefix="/api/v1/invitations", tags=["orgs"], responses=AUTHED)
api_keys_router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"], responses=AUTHED)
users_router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=AUTHED)
routers = [auth_router, orgs_router, invitations_router, api_keys_router, users_router]

# A login being checked holds its account this long at most (longer only if its process died).
LOGIN_HOLD_S = 10


# ---------------------------------------------------------------- sessions and cookies


def _set_session_cookies(response: Response, settings: Settings, token: str, ttl: timedelta) -> None:
    max_age = int(ttl.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        tokens.csrf_token_for(token),
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def _clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


async def _open_session(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: Settings,
    user: User,
    org_id: uuid.UUID | None,
) -> tuple[AuthSession, SessionOut]:
    ttl = timedelta(hours=settings.session_ttl_hours)
    auth, token = await service.start_session(
        session,
        user,
        org_id=org_id,
        ttl=ttl,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    _set_session_cookies(response, settings, token, ttl)
    return auth, SessionOut(token=token, csrf_token=tokens.csrf_token_for(token), expires_at=auth.expires_at)


class AuthStatus(BaseModel):
    has_users: bool = Field(
        description="Whether any account exists: a new instance's web UI opens on Sign up instead of Log in."
    )


@auth_router.get("/status", response_model=AuthStatus)
async def auth_status(session: SessionDep) -> AuthStatus:
    """Public, and says only whether the instance has an account yet (it tells nothing after
    the first one is made)."""
    first = (await session.execute(select(User.id).limit(1))).first()  # not count(*): one row is enough
    return AuthStatus(has_users=first is not None)


@auth_router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthOut,
    responses=problem_responses(400, 403, 409, 422),
)
async def signup(
    body: SignupIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> AuthOut:
    """Create an account. The first account creates the instance's first organization and
    becomes instance admin (in production it is made with `wirework user create --admin`)."""
    user, org = await service.signup(
        session,
        email=body.email,
        username=body.username,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        org_name=body.org_name,
        invitation_token=body.invitation_token,
        open_signup=settings.open_signup,
        first_account_over_http=settings.env != "production" or settings.open_signup,
    )
    _, session_out = await _open_session(request, response, session, settings, user, org.id)
    await session.commit()
    return AuthOut(
        user=UserOut.model_validate(user),
        organization=OrganizationOut.model_validate(org),
        session=session_out,
    )


@auth_router.post("/login", response_model=AuthOut, responses=problem_responses(400, 401, 422, 429))
async def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> AuthOut:
    """Log in with email or username. After 3 failures in a row the account waits 1, 2, 4 …
    seconds (at most WIREWORK_LOGIN_BACKOFF_MAX_SECONDS) before its next try, from wherever it
    comes; then the right password passes. Too many failures from one address refuse that address for the
    window. Either refusal is 429 with Retry-After; every server process counts together."""
    limits: DatabaseLimits = request.app.state.limits
    address_key = "login-ip:" + (request.client.host if request.client else "unknown")
    window = settings.login_window_seconds
    wait = await limits.over(address_key, settings.login_max_attempts, window)
    if wait:
        raise TooManyRequests(
            f"Too many failed logins from this address; try again in {wait} seconds.", retry_after=wait
        )
    known = await service.find_login_user(session, body.login)
    account_key = "login-account:" + (str(known.id) if known else body.login.strip().lower())
    wait = await limits.claim(account_key, LOGIN_HOLD_S)  # one try at a time, after the back-off
    if wait:
        raise TooManyRequests(
            f"Too many failed logins for this account; try again in {wait} seconds.", retry_after=wait
        )
    try:
        user = await service.authenticate(session, body.login, body.password)
    except Unauthorized:
        await limits.fail(account_key, max_delay_s=settings.login_backoff_max_seconds, forget_s=window)
        await limits.hit(address_key, UNLIMITED, window)
        raise
    await limits.clear(account_key)
    auth, session_out = await _open_session(request, response, session, settings, user, None)
    org = await session.get(Organization, auth.org_id) if auth.org_id else None
    await session.commit()
    return AuthOut(
        user=UserOut.model_validate(user),
        organization=OrganizationOut.model_validate(org) if org else None,
        session=session_out,
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHED)
async def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    """End this login. With an API key there is no login to end; delete the key instead."""
    if principal.auth == "session":
        await service.end_session(session, principal.credential_id)
        await session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_session_cookies(response)
    return response


def _my_org(org: Organization, role: OrgRole) -> MyOrganizationOut:
    return MyOrganizationOut(id=org.id, name=org.name, slug=org.slug, created_at=org.created_at, role=role)


async def _my_orgs(session: SessionDep, user_id: uuid.UUID) -> list[MyOrganizationOut]:
    return [_my_org(org, role) for org, role in await service.my_organizations(session, user_id)]


async def _me(session: SessionDep, principal: service.Principal) -> MeOut:
    orgs = await _my_orgs(session, principal.user.id)
    active = next((o for o in orgs if o.id == principal.org_id), None)
    return MeOut(
        user=UserOut.model_validate(principal.user),
        organization=active,
        organizations=orgs,
        auth=principal.auth,
    )


@auth_router.get("/me", response_model=MeOut, responses=AUTHED)
async def me(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """Who you are, the organization you act in, and all your organizations."""
    return await _me(session, principal)


@auth_router.patch("/me", response_model=UserOut, responses=AUTHED)
async def update_me(body: MeUpdate, principal: CurrentPrincipal, session: SessionDep) -> User:
    user = await service.update_user(session, principal.user, body.model_dump(exclude_unset=True))
    await session.commit()
    return user


@auth_router.post("/password", status_code=status.HTTP_204_NO_CONTENT, responses=AUTHED)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Change your password; every other login of yours ends."""
    keep = principal.credential_id if principal.auth == "session" else None
    await service.change_password(
        session, principal.user, body.current_password, body.new_password, keep_session=keep
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post("/switch-org", response_model=MeOut, responses={**AUTHED, **problem_responses(404)})
async def switch_org(body: SwitchOrgIn, principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """Make another of your organizations the one this login acts in."""
    await service.switch_org(session, principal, body.org_id)
    await session.commit()
    principal.org_id = body.org_id
    principal.org_role = await service.membership_role(session, body.org_id, principal.user.id)
    return await _me(session, principal)


# ---------------------------------------------------------------- organizations and members


@orgs_router.get("", response_model=list[MyOrganizationOut])
async def list_orgs(principal: CurrentPrincipal, session: SessionDep) -> list[MyOrganizationOut]:
    """Your organizations, with your role in each."""
    return await _my_orgs(session, principal.user.id)


@orgs_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MyOrganizationOut,
    responses=problem_responses(409),
)
async def create_org(
    body: OrganizationCreate, principal: CurrentPrincipal, session: SessionDep
) -> MyOrganizationOut:
    """Create an organization; you become its owner."""
    org = await service.create_organization(session, name=body.name, slug=body.slug, owner=principal.user)
    await session.commit()
    return _my_org(org, OrgRole.owner)


@orgs_router.get("/{org_id}", response_model=MyOrganizationOut, responses=problem_responses(404))
async def get_org(org_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> MyOrganizationOut:
    org, role = await service.require_org(session, principal, org_id, OrgRole.viewer)
    return _my_org(org, role)


@orgs_router.patch("/{org_id}", response_model=MyOrganizationOut, responses=problem_responses(404, 409))
async def update_org(
    org_id: uuid.UUID, body: OrganizationUpdate, principal: CurrentPrincipal, session: SessionDep
) -> MyOrganizationOut:
    org, role = await service.require_org(session, principal, org_id, OrgRole.admin)
    org = await service.update_organization(
        session, org, body.model_dump(exclude_unset=True, exclude_none=True)
    )
    await session.commit()
    return _my_org(org, role)


@orgs_router.delete("/{org_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def delete_org(org_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    """Delete an organization and everything it owns. Owners only."""
    org, _ = await service.require_org(session, principal, org_id, OrgRole.owner)
    await service.delete_organization(session, org)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _member_out(member: Membership, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        username=user.username,
        email=user.email,
        role=member.role,
        joined_at=member.created_at,
    )


@orgs_router.get("/{org_id}/members", response_model=list[MemberOut], responses=problem_responses(404))
async def list_members(
    org_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[MemberOut]:
    await service.require_org(session, principal, org_id, OrgRole.viewer)
    return [_member_out(m, u) for m, u in await service.list_members(session, org_id)]


@orgs_router.patch(
    "/{org_id}/members/{user_id}", response_model=MemberOut, responses=problem_responses(404, 409)
)
async def update_member(
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> MemberOut:
    """Change a member's role. Admins manage members; only owners grant or take the owner role."""
    _, role = await service.require_org(session, principal, org_id, OrgRole.admin)
    member = await service.change_member_role(session, org_id, role, user_id, body.role)
    user = await service.get_user(session, user_id)
    await session.commit()
    return _member_out(member, user)


@orgs_router.delete(
    "/{org_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409),
)
async def remove_member(
    org_id: uuid.UUID, user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Remove a member (admins), or leave the organization yourself."""
    _, role = await service.require_org(session, principal, org_id, OrgRole.viewer)
    await service.remove_member(session, org_id, principal, role, user_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _invitation_out(inv: UserLoginToken) -> InvitationOut:
    assert inv.org_id is not None and inv.email is not None and inv.role is not None
    return InvitationOut(
        id=inv.id,
        org_id=inv.org_id,
        email=inv.email,
        role=inv.role,
        expires_at=inv.expires_at,
        used_at=inv.used_at,
        created_at=inv.created_at,
    )


@orgs_router.get(
    "/{org_id}/invitations", response_model=list[InvitationOut], responses=problem_responses(404)
)
async def list_invitations(
    org_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> list[InvitationOut]:
    await service.require_org(session, principal, org_id, OrgRole.admin)
    return [_invitation_out(i) for i in await service.list_invitations(session, org_id)]


@orgs_router.post(
    "/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    responses=problem_responses(404, 409),
)
async def create_invitation(
    org_id: uuid.UUID,
    body: InvitationCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> InvitationCreated:
    """Invite someone by their email address. No email is sent (Wirework does not send mail
    yet): give them the accept URL yourself. The token is shown only now."""
    _, role = await service.require_org(session, principal, org_id, OrgRole.admin)
    invitation, token = await service.create_invitation(
        session,
        org_id=org_id,
        inviter=principal,
        inviter_role=role,
        email=body.email,
        role=body.role,
        ttl=timedelta(hours=settings.invitation_ttl_hours),
    )
    await session.commit()
    out = _invitation_out(invitation)
    return InvitationCreated(
        **out.model_dump(), token=token, accept_url=f"{settings.effective_public_url}/invite?token={token}"
    )


@orgs_router.delete(
    "/{org_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
)
async def revoke_invitation(
    org_id: uuid.UUID, invitation_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    await service.require_org(session, principal, org_id, OrgRole.admin)
    await service.revoke_invitation(session, org_id, invitation_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@invitations_router.post("/preview", response_model=InvitationPreview, responses=problem_responses(403, 422))
async def preview_invitation(body: InvitationAccept, session: SessionDep) -> InvitationPreview:
    """What an invitation offers (organization, role, the email it was sent to), for the page
    its link opens; needs no login, only the token, and does not use the invitation."""
    invitation, org = await service.preview_invitation(session, body.token)
    assert invitation.email is not None and invitation.role is not None
    return InvitationPreview(
        organization_name=org.name,
        email=invitation.email,
        role=invitation.role,
        expires_at=invitation.expires_at,
    )


@invitations_router.post("/accept", response_model=MyOrganizationOut)
async def accept_invitation(
    body: InvitationAccept, principal: CurrentPrincipal, session: SessionDep
) -> MyOrganizationOut:
    """Join an organization with an invitation sent to your email."""
    org = await service.accept_invitation(session, body.token, principal.user)
    role = await service.membership_role(session, org.id, principal.user.id)
    await session.commit()
    assert role is not None
    return _my_org(org, role)


# ---------------------------------------------------------------- API keys


@api_keys_router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ApiKeyOut]:
    """Your API keys in the current organization, by prefix."""
    rows, next_cursor = await paginate(
        session, service.api_keys_query(principal, org_id), ApiKey.id, limit=limit, cursor=cursor
    )
    return Page(items=[ApiKeyOut.model_validate(k) for k in rows], next_cursor=next_cursor)


@api_keys_router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> ApiKeyCreated:
    """Make a key that acts as you in the current organization, limited to `scopes`. The key is
    shown only now."""
    require_role(principal, OrgRole.member)
    api_key, key = await service.create_api_key(
        session, principal, org_id, name=body.name, expires_at=body.expires_at, scopes=body.scopes
    )
    await session.commit()
    return ApiKeyCreated(**ApiKeyOut.model_validate(api_key).model_dump(), key=key)


@api_keys_router.get("/scopes", response_model=list[ScopeOut])
async def list_scopes(principal: CurrentPrincipal) -> list[ScopeOut]:
    """The scopes a key can have: `<area>:read` (GET) and `<area>:write` (changes) per area."""
    return [
        ScopeOut(
            scope=scope,
            description=f"{'Read' if scope.endswith(':read') else 'Change'} {AREAS[scope.split(':')[0]]}",
        )
        for scope in ALL_SCOPES
    ]


@api_keys_router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def delete_api_key(
    key_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    await service.delete_api_key(session, principal, org_id, key_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- users (instance admin) and preferences


@users_router.get("/me/preferences", response_model=Preferences)
async def get_preferences(principal: CurrentPrincipal, session: SessionDep) -> Preferences:
    return Preferences(preferences=await service.get_preferences(session, principal.user.id))


@users_router.put("/me/preferences", response_model=Preferences)
async def put_preferences(body: Preferences, principal: CurrentPrincipal, session: SessionDep) -> Preferences:
    """Replace your preferences."""
    prefs = await service.set_preferences(session, principal.user.id, body.preferences)
    await session.commit()
    return Preferences(preferences=prefs)


@users_router.get("", response_model=Page[UserOut])
async def list_users(
    _: InstanceAdmin, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[UserOut]:
    """Every user of the instance (instance admins)."""
    rows, next_cursor = await paginate(session, select(User), User.id, limit=limit, cursor=cursor)
    return Page(items=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor)


@users_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=UserOut, responses=problem_responses(404, 409)
)
async def create_user(body: UserCreate, admin: InstanceAdmin, session: SessionDep) -> User:
    """Create a user (instance admins), optionally adding them to an organization."""
    if body.org_id is not None:
        await service.require_org(session, admin, body.org_id, OrgRole.admin)
    user = await service.create_user(
        session,
        email=body.email,
        username=body.username,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        role=body.role,
    )
    if body.org_id is not None:
        session.add(Membership(org_id=body.org_id, user_id=user.id, role=body.org_role))
    await session.commit()
    return user


@users_router.get("/{user_id}", response_model=UserOut, responses=problem_responses(404))
async def get_user(user_id: uuid.UUID, _: InstanceAdmin, session: SessionDep) -> User:
    return await service.get_user(session, user_id)


@users_router.patch("/{user_id}", response_model=UserOut, responses=problem_responses(404))
async def update_user(user_id: uuid.UUID, body: UserUpdate, _: InstanceAdmin, session: SessionDep) -> User:
    """Change a user's names, instance role or active flag; deactivating ends their logins."""
    user = await service.get_user(session, user_id)
    user = await service.update_user(session, user, body.model_dump(exclude_unset=True, exclude_none=True))
    await session.commit()
    return user
