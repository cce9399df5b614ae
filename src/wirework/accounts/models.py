"""Tables of accounts and tenancy (seeds: G organizations/users/user_login_tokens/
user_preferences, F topics/users/oauth, W users)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType

CATEGORY = "Accounts and tenancy"


class InstanceRole(enum.StrEnum):
    admin = "admin"
    user = "user"


class OrgRole(enum.StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        return {"viewer": 0, "member": 1, "admin": 2, "owner": 3}[self.value]

    def at_least(self, other: OrgRole) -> bool:
        return self.rank >= other.rank


class LoginTokenPurpose(enum.StrEnum):
    """Only `invitation` is issued today. `password_reset` and `magic_login` stay allowed by the
    column's CHECK constraint (migration 0001) for when mail exists; no code issues or accepts
    them, and no API offers them."""

    invitation = "invitation"
    password_reset = "password_reset"  # noqa: S105 - a purpose name, not a password
    magic_login = "magic_login"


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"
    __table_args__ = {
        "comment": "Tenants: every owned row carries org_id. Serves General Bots' organizations "
        "and Flowbot's topics.",
        "info": {"category": CATEGORY, "seeds": "G organizations, F topics"},
    }

    name: Mapped[str] = mapped_column(String(200), comment="Display name.")
    slug: Mapped[str] = mapped_column(String(100), unique=True, comment="URL-friendly identifier.")


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = {
        "comment": "Accounts. One row per person across all organizations.",
        "info": {"category": CATEGORY, "seeds": "F users, G users, W users"},
    }

    username: Mapped[str] = mapped_column(String(64), unique=True, comment="Unique login name.")
    email: Mapped[str] = mapped_column(String(255), unique=True, comment="Unique email, lower-case.")
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id hash.")
    first_name: Mapped[str | None] = mapped_column(String(100), comment="Given name.")
    last_name: Mapped[str | None] = mapped_column(String(100), comment="Family name.")
    role: Mapped[InstanceRole] = mapped_column(
        StrEnumType(InstanceRole, "instance_role"),
        default=InstanceRole.user,
        comment="Instance role: admin manages all users; user is everyone else.",
    )
    is_active: Mapped[bool] = mapped_column(default=True, comment="Inactive users cannot log in.")
    last_login_at: Mapped[datetime | None] = mapped_column(comment="Last successful login.")


class Membership(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id"),
        {
            "comment": "Who belongs to which organization, and with which role.",
            "info": {"category": CATEGORY, "seeds": "-"},
        },
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, comment="The member."
    )
    role: Mapped[OrgRole] = mapped_column(
        StrEnumType(OrgRole, "org_role"), comment="owner, admin, member or viewer."
    )


class AuthSession(IdMixin, Base):
    __tablename__ = "auth_sessions"
    __table_args__ = {
        "comment": "Web and API logins. The token is given once and stored only as a hash.",
        "info": {"category": CATEGORY, "seeds": "-"},
    }

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, comment="Who logged in."
    )
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"),
        comment="The organization this login works in (the org switcher sets it).",
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of the token.")
    ip: Mapped[str | None] = mapped_column(String(64), comment="Client address at login.")
    user_agent: Mapped[str | None] = mapped_column(String(255), comment="Client at login.")
    created_at: Mapped[datetime] = mapped_column(comment="Login time (UTC).")
    last_seen_at: Mapped[datetime] = mapped_column(comment="Last request with this session.")
    expires_at: Mapped[datetime] = mapped_column(index=True, comment="When the login ends.")


class UserLoginToken(IdMixin, Base):
    __tablename__ = "user_login_tokens"
    __table_args__ = {
        "comment": "One-time tokens: invitations to an organization, password resets, magic "
        "logins. Stored as hashes.",
        "info": {"category": CATEGORY, "seeds": "G user_login_tokens"},
    }

    purpose: Mapped[LoginTokenPurpose] = mapped_column(
        StrEnumType(LoginTokenPurpose, "login_token_purpose"), comment="What the token is for."
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        index=True,
        comment="The user it is for; empty for an invitation to someone not yet signed up.",
    )
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"),
        index=True,
        comment="The organization an invitation is to.",
    )
    email: Mapped[str | None] = mapped_column(String(255), comment="Invited email, lower-case.")
    role: Mapped[OrgRole | None] = mapped_column(
        StrEnumType(OrgRole, "login_token_role"), comment="Role an invitation grants."
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of the token.")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who issued it."
    )
    created_at: Mapped[datetime] = mapped_column(comment="When it was issued (UTC).")
    expires_at: Mapped[datetime] = mapped_column(comment="When it stops working.")
    used_at: Mapped[datetime | None] = mapped_column(comment="When it was used; used once only.")


class UserPreferences(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_preferences"
    __table_args__ = {
        "comment": "Per-user settings (time zone, theme, editor options) as JSON.",
        "info": {"category": CATEGORY, "seeds": "G user_preferences"},
    }

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, comment="Whose settings."
    )
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, comment="Settings.")


class OAuthToken(IdMixin, TimestampMixin, Base):
    __tablename__ = "oauth_tokens"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "provider_account"),
        {
            "comment": "Tokens a user granted from outside providers; token values are sealed "
            "with the vault (AES-256-GCM).",
            "info": {"category": CATEGORY, "seeds": "F oauth"},
        },
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, comment="Who granted it."
    )
    provider: Mapped[str] = mapped_column(String(64), comment="e.g. github, google, slack.")
    provider_account: Mapped[str] = mapped_column(String(255), comment="Account id at provider.")
    access_token: Mapped[str] = mapped_column(Text, comment="Sealed access token.")
    refresh_token: Mapped[str | None] = mapped_column(Text, comment="Sealed refresh token.")
    token_type: Mapped[str] = mapped_column(String(32), default="bearer", comment="Token type.")
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list, comment="Granted scopes.")
    expires_at: Mapped[datetime | None] = mapped_column(comment="When the access token expires.")
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, comment="Provider data.")


class ApiKey(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = {
        "comment": "API keys: shown once at creation, then known by prefix; stored as hashes. "
        "A key acts as its user within its organization.",
        "info": {"category": CATEGORY, "seeds": "-"},
    }

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, comment="Whose key."
    )
    name: Mapped[str] = mapped_column(String(100), comment="What the key is for.")
    prefix: Mapped[str] = mapped_column(String(16), comment="First characters, to recognise it.")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of the key.")
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list, comment="Allowed scopes.")
    created_at: Mapped[datetime] = mapped_column(comment="When it was made (UTC).")
    last_used_at: Mapped[datetime | None] = mapped_column(comment="Last request with it.")
    expires_at: Mapped[datetime | None] = mapped_column(comment="When it stops working.")
