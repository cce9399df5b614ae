"""Request and response bodies of the channel connections API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SetupFieldOut(BaseModel):
    name: str
    label: str
    help: str = Field(description="Where to find the value on the platform.")
    secret: bool = Field(description="Sealed in a credential and never shown again.")
    required: bool
    generated: bool = Field(description="Wirework makes a random one when left empty.")


class PlatformOut(BaseModel):
    name: str
    display_name: str
    fields: list[SetupFieldOut]
    setup_steps: list[str]
    can_test: bool = Field(description="Test calls the platform with the connection's secrets.")
    can_register: bool = Field(description="Register tells the platform the inbound URL itself.")


class ConnectionCreate(BaseModel):
    platform: str = Field(description="A platform name from GET /api/v1/bots/{bot_id}/platforms.")
    name: Name
    values: dict[str, str | None] = Field(
        default_factory=dict, description="The platform's set-up fields (secret ones are write-only)."
    )


class ConnectionUpdate(BaseModel):
    name: Name | None = None
    is_active: bool | None = None
    values: dict[str, str | None] | None = Field(
        None, description="Fields to change; a secret left empty keeps its value."
    )


class ConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bot_id: uuid.UUID
    platform: str
    name: str
    settings: dict[str, Any] = Field(description="Non-secret values and what a test learned.")
    is_active: bool
    last_error: str | None
    last_inbound_at: datetime | None
    created_at: datetime
    inbound_url: str = Field(description="Paste this into the platform (it carries a random token).")


class ConnectionCreated(ConnectionOut):
    secrets: dict[str, str] = Field(
        description="The generated secrets (verify token, signing secret…), shown this once to paste "
        "into the platform."
    )


class ActionResult(BaseModel):
    ok: bool
    detail: str
    info: dict[str, Any] = Field(default_factory=dict)
