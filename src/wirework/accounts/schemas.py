"""Request and response bodies of the accounts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from wirework.accounts.models import InstanceRole, OrgRole
from wirework.accounts.scopes import ALL_SCOPES, effective_scopes

T = TypeVar("T")

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=100, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$"
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserOut(ORMModel):
    id: uuid.UUID
    username: str
    email: str
    first_name: str | None
    last_name: str | None
    role: InstanceRole
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


class OrganizationOut(ORMModel):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime


class MyOrganizationOut(OrganizationOut):
    role: OrgRole


class SessionOut(BaseModel):
    token: str = Field(description="Bearer token; also set as an HttpOnly cookie. Shown once.")
    csrf_token: str = Field(description="Send as X-CSRF-Token on unsafe requests made with the cookie.")
    expires_at: datetime


class SignupIn(BaseModel):
    email: EmailStr
    username: Username
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None
    org_name: OrgName | None = Field(None, description="Name of the organization to create.")
    invitation_token: str | None = Field(None, max_length=200, description="Join by invitation.")


class LoginIn(BaseModel):
    login: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = Field(
        description="Email or username."
    )
    password: Annotated[str, Field(min_length=1, max_length=256)]


class AuthOut(BaseModel):
    user: UserOut
    organization: OrganizationOut | None
    session: SessionOut


class MeOut(BaseModel):
    user: UserOut
    organization: MyOrganizationOut | None = Field(description="The organization requests act in.")
    organizations: list[MyOrganizationOut]
    auth: str = Field(description="How this request authenticated: session or api_key.")


class MeUpdate(BaseModel):
    first_name: Name | None = None
    last_name: Name | None = None


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password


class SwitchOrgIn(BaseModel):
    org_id: uuid.UUID


class OrganizationCreate(BaseModel):
    name: OrgName
    slug: Slug | None = None


class OrganizationUpdate(BaseModel):
    name: OrgName | None = None
    slug: Slug | None = None


class MemberOut(BaseModel):
    user_id: uuid.UUID
    username: str
    email: str
    role: OrgRole
    joined_at: datetime


class MemberUpdate(BaseModel):
    role: OrgRole


class InvitationCreate(BaseModel):
    email: EmailStr = Field(
        description="Whom the invitation is for: only this address can accept it. No email is sent "
        "(Wirework does not send mail yet): pass the accept_url on yourself."
    )
    role: OrgRole = OrgRole.member


class InvitationOut(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: OrgRole
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime


class InvitationCreated(InvitationOut):
    token: str = Field(description="The one-time token. Shown once.")
    accept_url: str = Field(description="The link to give the invitee (no email is sent).")


class InvitationAccept(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class InvitationPreview(BaseModel):
    organization_name: str
    email: str
    role: OrgRole
    expires_at: datetime


Scope = Annotated[str, Field(json_schema_extra={"enum": list(ALL_SCOPES)})]


class ApiKeyCreate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_at: datetime | None = Field(None, description="When the key stops working (UTC).")
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(ALL_SCOPES))] | None = Field(
        None,
        description="What the key may do (GET /api/v1/api-keys/scopes lists them); default: every "
        "scope you have. Unknown scopes are refused.",
    )


class ApiKeyOut(ORMModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str] = Field(description="What the key may do; a key made before scopes has them all.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @field_validator("scopes")
    @classmethod
    def _effective(cls, value: list[str]) -> list[str]:
        return effective_scopes(value)


class ScopeOut(BaseModel):
    scope: str
    description: str


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once; store it now.")


class UserCreate(BaseModel):
    email: EmailStr
    username: Username
    password: Password
    first_name: Name | None = None
    last_name: Name | None = None
    role: InstanceRole = InstanceRole.user
    org_id: uuid.UUID | None = Field(None, description="Add the user to this organization.")
    org_role: OrgRole = OrgRole.member


class UserUpdate(BaseModel):
    first_name: Name | None = None
    last_name: Name | None = None
    role: InstanceRole | None = None
    is_active: bool | None = None


class Preferences(BaseModel):
    preferences: dict[str, Any] = Field(
        default_factory=dict, description="Free-form settings, e.g. timezone, theme."
    )
