"""What accounts do: sign up, log in, sessions and API keys, organizations, members, invitations.

Functions take the caller's session and never commit: the request (or CLI command) owns the
transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.accounts.models import (
    ApiKey,
    AuthSession,
    InstanceRole,
    LoginTokenPurpose,
    Membership,
    Organization,
    OrgRole,
    User,
    UserLoginToken,
    UserPreferences,
)
from wirework.accounts.scopes import ALL_SCOPES, effective_scopes, unknown_scopes
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from wirework.security import passwords, tokens

INVALID_LOGIN = "Invalid login or password."


@dataclass
class Principal:
    """Who is calling, and in which organization they act."""

    user: User
    auth: Literal["session", "api_key"]
    credential_id: uuid.UUID
    org_id: uuid.UUID | None
    org_role: OrgRole | None
    via_cookie: bool = False
    scopes: frozenset[str] | None = None
    """What an API key may do (see `accounts.scopes`); None for a web login, which scopes do
    not limit."""

    @property
    def is_instance_admin(self) -> bool:
        return self.user.role == InstanceRole.admin


# ---------------------------------------------------------------- users


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    username: str,
    password: str,
    first_name: str | None = None,
    last_name: str | None = None,
    role: InstanceRole = InstanceRole.user,
) -> User:
    email = normalize_email(email)
    clash = (
        await session.execute(
            select(User.email, User.username).where(
                or_(User.email == email, func.lower(User.username) == username.lower())
            )
        )
    ).first()
    if clash is not None:
        what = "email" if clash.email == email else "username"
        raise Conflict(f"A user with this {what} already exists.")
    user = User(
        email=email,
        username=username,
        password_hash=passwords.hash_password(password),
        first_name=first_name,
        last_name=last_name,
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def update_user(session: AsyncSession, user: User, changes: dict[str, Any]) -> User:
    for field, value in changes.items():
        setattr(user, field, value)
    if changes.get("is_active") is False:
        await revoke_all_sessions(session, user.id)
    await session.flush()
    return user


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, *, keep_session: uuid.UUID | None
) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise Forbidden("The current password is wrong.")
    user.password_hash = passwords.hash_password(new)
    await revoke_all_sessions(session, user.id, except_id=keep_session)


# ---------------------------------------------------------------- organizations


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("'", "")).strip("-")
    return slug[:80] or "org"


async def _free_slug(session: AsyncSession, wanted: str) -> str:
    taken = set(
        (
            await session.execute(
                select(Organization.slug).where(
                    or_(Organization.slug == wanted, Organization.slug.like(f"{wanted}-%"))
                )
            )
        ).scalars()
    )
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


async def create_organization(
    session: AsyncSession, *, name: str, owner: User, slug: str | None = None
) -> Organization:
    if slug is not None:
        if (await session.execute(select(Organization.id).where(Organization.slug == slug))).first():
            raise Conflict(f"The slug {slug!r} is taken.")
    else:
        slug = await _free_slug(session, slugify(name))
    org = Organization(name=name, slug=slug)
    session.add(org)
    await session.flush()
    session.add(Membership(org_id=org.id, user_id=owner.id, role=OrgRole.owner))
    await session.flush()
    return org


async def update_organization(
    session: AsyncSession, org: Organization, changes: dict[str, Any]
) -> Organization:
    slug = changes.get("slug")
    if slug is not None and slug != org.slug:
        clash = await session.execute(select(Organization.id).where(Organization.slug == slug))
        if clash.first():
            raise Conflict(f"The slug {slug!r} is taken.")
    for field, value in changes.items():
        setattr(org, field, value)
    await session.flush()
    return org


async def my_organizations(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Organization, OrgRole]]:
    rows = await session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.id)
    )
    return [(org, role) for org, role in rows]


async def membership_role(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> OrgRole | None:
    return (
        await session.execute(
            select(Membership.role).where(Membership.org_id == org_id, Membership.user_id == user_id)
        )
    ).scalar_one_or_none()


async def require_org(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, min_role: OrgRole
) -> tuple[Organization, OrgRole]:
    """The organization, if the caller belongs to it (else 404) with at least `min_role` (else 403)."""
    role = await membership_role(session, org_id, principal.user.id)
    org = await session.get(Organization, org_id) if role is not None else None
    if org is None or role is None:
        raise NotFound(f"Organization {org_id} not found")
    if not role.at_least(min_role):
        raise Forbidden(f"This needs the {min_role.value} role in the organization; you are {role.value}.")
    return org, role


async def delete_organization(session: AsyncSession, org: Organization) -> None:
    await session.delete(org)
    await session.flush()


# ---------------------------------------------------------------- members


async def list_members(session: AsyncSession, org_id: uuid.UUID) -> list[tuple[Membership, User]]:
    rows = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(Membership.id)
    )
    return [(m, u) for m, u in rows]


async def _membership(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Membership:
    member = (
        await session.execute(scoped(Membership, org_id).where(Membership.user_id == user_id))
    ).scalar_one_or_none()
    if member is None:
        raise NotFound(f"User {user_id} is not a member of this organization")
    return member


async def _ensure_another_owner(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    owners = await session.execute(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == OrgRole.owner, Membership.user_id != user_id)
    )
    if owners.scalar_one() == 0:
        raise Conflict("An organization needs at least one owner; make someone else owner first.")


async def change_member_role(
    session: AsyncSession, org_id: uuid.UUID, actor_role: OrgRole, user_id: uuid.UUID, role: OrgRole
) -> Membership:
    member = await _membership(session, org_id, user_id)
    if OrgRole.owner in (role, member.role) and actor_role != OrgRole.owner:
        raise Forbidden("Only an owner can grant or take away the owner role.")
    if member.role == OrgRole.owner and role != OrgRole.owner:
        await _ensure_another_owner(session, org_id, user_id)
    member.role = role
    await session.flush()
    return member


async def remove_member(
    session: AsyncSession, org_id: uuid.UUID, actor: Principal, actor_role: OrgRole, user_id: uuid.UUID
) -> None:
    member = await _membership(session, org_id, user_id)
    leaving_self = user_id == actor.user.id
    if not leaving_self and not actor_role.at_least(OrgRole.admin):
        raise Forbidden("Only an admin can remove other members.")
    if member.role == OrgRole.owner:
        if not leaving_self and actor_role != OrgRole.owner:
            raise Forbidden("Only an owner can remove an owner.")
        await _ensure_another_owner(session, org_id, user_id)
    await session.delete(member)
    await session.flush()


# ---------------------------------------------------------------- invitations


async def create_invitation(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    inviter: Principal,
    inviter_role: OrgRole,
    email: str,
    role: OrgRole,
    ttl: timedelta,
) -> tuple[UserLoginToken, str]:
    if role == OrgRole.owner and inviter_role != OrgRole.owner:
        raise Forbidden("Only an owner can invite an owner.")
    email = normalize_email(email)
    existing = (await session.execute(select(User.id).where(User.email == email))).scalar_one_or_none()
    if existing is not None and await membership_role(session, org_id, existing) is not None:
        raise Conflict(f"{email} is already a member of this organization.")
    token = tokens.new_token()
    now = utcnow()
    invitation = UserLoginToken(
        purpose=LoginTokenPurpose.invitation,
        org_id=org_id,
        email=email,
        role=role,
        token_hash=tokens.hash_token(token),
        created_by=inviter.user.id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def list_invitations(session: AsyncSession, org_id: uuid.UUID) -> list[UserLoginToken]:
    rows = await session.execute(
        select(UserLoginToken)
        .where(UserLoginToken.org_id == org_id, UserLoginToken.purpose == LoginTokenPurpose.invitation)
        .order_by(UserLoginToken.id)
    )
    return list(rows.scalars())


async def revoke_invitation(session: AsyncSession, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    invitation = (
        await session.execute(
            select(UserLoginToken).where(
                UserLoginToken.id == invitation_id,
                UserLoginToken.org_id == org_id,
                UserLoginToken.purpose == LoginTokenPurpose.invitation,
            )
        )
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound(f"Invitation {invitation_id} not found")
    await session.delete(invitation)
    await session.flush()


async def _valid_invitation(session: AsyncSession, token: str) -> UserLoginToken:
    """The unused, unexpired invitation with this token; the same refusal for any bad token."""
    invitation = (
        await session.execute(
            select(UserLoginToken).where(
                UserLoginToken.token_hash == tokens.hash_token(token),
                UserLoginToken.purpose == LoginTokenPurpose.invitation,
            )
        )
    ).scalar_one_or_none()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= utcnow():
        raise Forbidden("This invitation is not valid: it is unknown, used or expired.")
    return invitation


async def preview_invitation(session: AsyncSession, token: str) -> tuple[UserLoginToken, Organization]:
    """What a valid invitation offers (for the page its link opens), without using it."""
    invitation = await _valid_invitation(session, token)
    org = await session.get(Organization, invitation.org_id)
    if org is None:
        raise Forbidden("This invitation is not valid: it is unknown, used or expired.")
    return invitation, org


async def _take_invitation(session: AsyncSession, token: str, email: str) -> UserLoginToken:
    """Mark a valid invitation for `email` used, or refuse with the same answer for any bad token."""
    invitation = await _valid_invitation(session, token)
    if invitation.email and invitation.email != normalize_email(email):
        raise Forbidden("This invitation was sent to another email address.")
    invitation.used_at = utcnow()
    return invitation


async def accept_invitation(session: AsyncSession, token: str, user: User) -> Organization:
    invitation = await _take_invitation(session, token, user.email)
    assert invitation.org_id is not None and invitation.role is not None
    if await membership_role(session, invitation.org_id, user.id) is None:
        session.add(Membership(org_id=invitation.org_id, user_id=user.id, role=invitation.role))
    await session.flush()
    org = await session.get(Organization, invitation.org_id)
    assert org is not None
    return org


# ---------------------------------------------------------------- sign up, log in, sessions


async def signup(
    session: AsyncSession,
    *,
    email: str,
    username: str,
    password: str,
    first_name: str | None,
    last_name: str | None,
    org_name: str | None,
    invitation_token: str | None,
    open_signup: bool,
    first_account_over_http: bool = True,
) -> tuple[User, Organization]:
    """The first user creates an organization and becomes owner and instance admin; later
    users join by invitation, or create their own organization when signup is open. Without
    `first_account_over_http` (production) the first account is made on the server instead, so
    whoever reaches a new instance first cannot make themselves its admin."""
    first = await count_users(session) == 0
    if first and not first_account_over_http:
        raise Forbidden(
            "This instance has no account yet: in production the first one is made on the server "
            "with 'wirework user create --admin' (or set WIREWORK_OPEN_SIGNUP=true)."
        )
    if not first and invitation_token is None and not open_signup:
        raise Forbidden("Signing up needs an invitation on this instance; ask an admin for one.")
    invitation = await _take_invitation(session, invitation_token, email) if invitation_token else None
    user = await create_user(
        session,
        email=email,
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        role=InstanceRole.admin if first else InstanceRole.user,
    )
    if invitation is not None:
        assert invitation.org_id is not None and invitation.role is not None
        invitation.user_id = user.id
        session.add(Membership(org_id=invitation.org_id, user_id=user.id, role=invitation.role))
        await session.flush()
        org = await session.get(Organization, invitation.org_id)
        assert org is not None
        return user, org
    org = await create_organization(session, name=org_name or f"{username}'s organization", owner=user)
    return user, org


async def find_login_user(session: AsyncSession, login: str) -> User | None:
    login = login.strip()
    column = User.email if "@" in login else func.lower(User.username)
    return (await session.execute(select(User).where(column == login.lower()))).scalar_one_or_none()


async def authenticate(session: AsyncSession, login: str, password: str) -> User:
    """The user, or one 401 whether the account is unknown, inactive or the password wrong."""
    user = await find_login_user(session, login)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise Unauthorized(INVALID_LOGIN)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = utcnow()
    return user


async def start_session(
    session: AsyncSession,
    user: User,
    *,
    org_id: uuid.UUID | None,
    ttl: timedelta,
    ip: str | None,
    user_agent: str | None,
) -> tuple[AuthSession, str]:
    if org_id is None:
        orgs = await my_organizations(session, user.id)
        org_id = orgs[0][0].id if orgs else None
    token = tokens.new_token()
    now = utcnow()
    auth_session = AuthSession(
        user_id=user.id,
        org_id=org_id,
        token_hash=tokens.hash_token(token),
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ttl,
    )
    session.add(auth_session)
    await session.flush()
    return auth_session, token


async def end_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    auth_session = await session.get(AuthSession, session_id)
    if auth_session is not None:
        await session.delete(auth_session)
        await session.flush()


async def revoke_all_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, except_id: uuid.UUID | None = None
) -> None:
    rows = await session.execute(select(AuthSession).where(AuthSession.user_id == user_id))
    for auth_session in rows.scalars():
        if auth_session.id != except_id:
            await session.delete(auth_session)
    await session.flush()


async def switch_org(session: AsyncSession, principal: Principal, org_id: uuid.UUID) -> None:
    if principal.auth != "session":
        raise Forbidden("An API key always acts in its own organization.")
    if await membership_role(session, org_id, principal.user.id) is None:
        raise NotFound(f"Organization {org_id} not found")
    auth_session = await session.get(AuthSession, principal.credential_id)
    assert auth_session is not None
    auth_session.org_id = org_id
    await session.flush()


# How often last-seen stamps are written: per request would make every read a write.
TOUCH_INTERVAL = timedelta(minutes=1)


async def resolve_token(session: AsyncSession, token: str, *, via_cookie: bool) -> Principal | None:
    """The principal behind a session token or an API key; None if it is unknown or expired."""
    now = utcnow()
    token_hash = tokens.hash_token(token)
    if token.startswith(tokens.API_KEY_PREFIX):
        key = (
            await session.execute(select(ApiKey).where(ApiKey.key_hash == token_hash))
        ).scalar_one_or_none()
        if key is None or (key.expires_at is not None and key.expires_at <= now):
            return None
        if key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL:
            key.last_used_at = now
        user_id, credential_id = key.user_id, key.id
        org_id: uuid.UUID | None = key.org_id
        kind: Literal["session", "api_key"] = "api_key"
        scopes: frozenset[str] | None = frozenset(effective_scopes(key.scopes))
    else:
        auth = (
            await session.execute(select(AuthSession).where(AuthSession.token_hash == token_hash))
        ).scalar_one_or_none()
        if auth is None or auth.expires_at <= now:
            return None
        if now - auth.last_seen_at > TOUCH_INTERVAL:
            auth.last_seen_at = now
        user_id, org_id, credential_id, kind = auth.user_id, auth.org_id, auth.id, "session"
        scopes = None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    role = await membership_role(session, org_id, user.id) if org_id else None
    return Principal(
        user=user,
        auth=kind,
        credential_id=credential_id,
        org_id=org_id if role is not None else None,
        org_role=role,
        via_cookie=via_cookie,
        scopes=scopes,
    )


# ---------------------------------------------------------------- API keys


async def create_api_key(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID,
    *,
    name: str,
    expires_at: datetime | None,
    scopes: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """A key with `scopes` (default: every scope the caller has). A key making a key can only
    give it scopes it has itself."""
    held = list(ALL_SCOPES) if principal.scopes is None else sorted(principal.scopes)
    wanted = held if scopes is None else list(dict.fromkeys(scopes))
    unknown = unknown_scopes(wanted)
    if unknown or not wanted:
        raise ValidationFailed(
            f"Unknown scopes: {', '.join(unknown)}." if unknown else "Give the key at least one scope.",
            errors=[
                {"loc": ["body", "scopes"], "msg": "known scopes: " + ", ".join(ALL_SCOPES), "type": "enum"}
            ],
        )
    beyond = [s for s in wanted if s not in held]
    if beyond:
        raise Forbidden(f"This API key cannot give scopes it does not have: {', '.join(beyond)}.")
    key = tokens.new_api_key()
    api_key = ApiKey(
        org_id=org_id,
        user_id=principal.user.id,
        name=name,
        prefix=key[: tokens.API_KEY_SHOWN_PREFIX_LENGTH],
        key_hash=tokens.hash_token(key),
        scopes=wanted,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(api_key)
    await session.flush()
    return api_key, key


def api_keys_query(principal: Principal, org_id: uuid.UUID) -> Any:
    return scoped(ApiKey, org_id).where(ApiKey.user_id == principal.user.id)


async def delete_api_key(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, key_id: uuid.UUID
) -> None:
    key = await get_scoped(session, ApiKey, key_id, org_id)
    if key.user_id != principal.user.id:
        raise NotFound(f"ApiKey {key_id} not found")
    await session.delete(key)
    await session.flush()


# ---------------------------------------------------------------- preferences


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await session.execute(select(UserPreferences).where(UserPreferences.user_id == user_id))
    ).scalar_one_or_none()
    return dict(row.preferences) if row else {}


async def set_preferences(
    session: AsyncSession, user_id: uuid.UUID, preferences: dict[str, Any]
) -> dict[str, Any]:
    row = (
        await session.execute(select(UserPreferences).where(UserPreferences.user_id == user_id))
    ).scalar_one_or_none()
    if row is None:
        session.add(UserPreferences(user_id=user_id, preferences=preferences))
    else:
        row.preferences = preferences
    await session.flush()
    return preferences
