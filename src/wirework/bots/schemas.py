"""Bodies of the bots, sessions and messages APIs, and the types channels hand `bots.service`.

`InboundMessage` is what every channel (web chat, REST, the platform adapters of `channels/`)
makes of a message it received; `BotSettings` is the validated shape of `bots.settings`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wirework.bots.models import Delivery, MessageRole

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=20_000)]

DIALOG_KINDS: dict[str, str] = {"workflow": "a workflow that starts with a Chat trigger node"}
"""What can run a bot's dialog. BASIC scripts and LLM agents add kinds when they exist."""


@dataclass(slots=True)
class InboundMessage:
    """A message a channel received, in the channel's own terms.

    `chat_id` is the conversation on the platform (a Telegram chat, a Slack channel, a web-chat
    visitor), `user_id` the person in it (the platform's id); `chat_kind` is "direct", "group"
    or "channel". `platform_message_id` is the platform's id of the message: a second message
    with the same id on the same bot and channel is a duplicate and is dropped."""

    channel: str
    platform_message_id: str | None
    chat_id: str
    chat_name: str | None
    chat_kind: str
    user_id: str
    user_name: str | None
    text: str
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class Received:
    """What `bots.service.receive` did with a message."""

    duplicate: bool = False
    """The platform sent it before: nothing was stored or started this time."""
    message_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    session_started: bool = False
    routed_to: str | None = None
    """"command", "answer" (a waiting chat.ask), "dialog", or None (taken over, or no dialog)."""
    executions: list[uuid.UUID] = field(default_factory=list)
    """Executions accepted (committed) for it: hand them to the executor (the executor's poll
    finds them anyway, within its poll interval)."""


class BotSettings(BaseModel):
    """Limits and switches of a bot (`bots.settings`). Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    max_message_length: int = Field(4000, ge=1, le=20_000, description="Longer inbound messages are refused.")
    flood_max_messages: int = Field(
        30, ge=1, le=10_000, description="Messages one person may send within flood_window_s."
    )
    flood_window_s: int = Field(60, ge=1, le=86_400, description="The flood limit's window.")
    session_idle_minutes: int = Field(
        1440,
        ge=1,
        le=525_600,
        description="A conversation idle this long is closed; the next message opens one.",
    )
    retention_days: int = Field(
        90,
        ge=0,
        le=36_500,
        description="Messages and closed conversations older than this are deleted; 0 keeps all.",
    )
    web_chat_enabled: bool = Field(False, description="Public web chat (widget and hosted page) is on.")
    web_chat_sockets_per_ip: int = Field(
        20,
        ge=1,
        le=1000,
        description="Chat windows one client address may hold open at once (per server process; "
        "WIREWORK_WEB_CHAT_MAX_SOCKETS_PER_IP bounds all bots together).",
    )
    web_chat_messages_per_ip: int = Field(
        120,
        ge=1,
        le=100_000,
        description="Web-chat messages one client address may send within flood_window_s, all its "
        "visitors together (visitor ids are the client's choice; its address is not).",
    )
    web_chat_conversations_per_ip: int = Field(
        30, ge=1, le=10_000, description="New web-chat conversations one client address may open per hour."
    )
    web_chat_origins: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list,
        max_length=50,
        description="Sites allowed to embed the widget (https://example.com); empty allows any.",
    )


class CommandIn(BaseModel):
    command: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="Words, then typed arguments: `todo add [string]`; types: string (one word), "
        "text (the rest of the message), int, number, bool."
    )
    description: Annotated[str, Field(max_length=1000)] | None = None
    workflow_id: uuid.UUID = Field(description="Workflow the command runs (of this organization).")


class CommandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    command: str
    description: str | None
    workflow_id: uuid.UUID


class BotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Annotated[str, Field(max_length=5000)] | None = None
    avatar_url: Annotated[str, Field(max_length=500, pattern=r"^https?://")] | None = None
    welcome_message: Annotated[str, Field(max_length=5000)] | None = None
    dialog_kind: str = Field(
        "workflow", description="What runs the dialog; see GET /api/v1/bots/dialog-kinds."
    )
    dialog_workflow_id: uuid.UUID | None = Field(
        None, description="The workflow (with a Chat trigger node) that answers messages."
    )
    ai_model_id: uuid.UUID | None = Field(
        None, description="LLM its AI nodes use when they name none; null: the organization's default."
    )
    is_active: bool = True
    settings: BotSettings = Field(default_factory=BotSettings)
    commands: list[CommandIn] | None = Field(None, max_length=100)


class BotUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    avatar_url: Annotated[str, Field(max_length=500, pattern=r"^https?://")] | None = None
    welcome_message: Annotated[str, Field(max_length=5000)] | None = None
    dialog_kind: str | None = None
    dialog_workflow_id: uuid.UUID | None = None
    ai_model_id: uuid.UUID | None = None
    is_active: bool | None = None
    settings: BotSettings | None = None
    commands: list[CommandIn] | None = Field(None, max_length=100)


class BotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    avatar_url: str | None
    welcome_message: str | None
    public_id: str
    dialog_kind: str
    dialog_workflow_id: uuid.UUID | None
    ai_model_id: uuid.UUID | None
    is_active: bool
    settings: BotSettings
    created_at: datetime
    updated_at: datetime


class BotDetail(BotOut):
    commands: list[CommandOut] = []


class DialogKind(BaseModel):
    kind: str
    description: str


class ConfigEntry(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    value: Annotated[str, Field(max_length=100_000)]


class ConfigImported(BaseModel):
    imported: int
    entries: list[ConfigEntry]


class MemoryIn(BaseModel):
    value: Any = Field(description="Any JSON value.")


class MemoryOut(BaseModel):
    user_key: str = Field(
        description="'' for the bot's own memory, else 'user:…', 'platform:…', 'visitor:…'."
    )
    key: str
    value: Any
    updated_at: datetime


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bot_id: uuid.UUID
    channel: str
    title: str | None
    user_id: uuid.UUID | None
    visitor_id: str | None
    platform_user_id: uuid.UUID | None
    platform_channel_id: uuid.UUID | None
    message_count: int
    tokens: int
    waiting: bool = Field(description="A chat.ask waits for this conversation's next message.")
    taken_over_by: uuid.UUID | None
    last_activity_at: datetime
    expires_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


class SessionDetail(SessionOut):
    context: dict[str, Any]
    user_name: str | None = Field(None, description="Who talks: user, platform user or visitor.")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    session_id: uuid.UUID
    bot_id: uuid.UUID
    role: MessageRole
    sender: str | None
    content: str
    channel: str
    platform_message_id: str | None
    delivery: Delivery
    attempts: int
    error: str | None
    tokens: int
    latency_ms: int | None
    model: str | None
    created_at: datetime


class OperatorMessage(BaseModel):
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class RestMessageIn(BaseModel):
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    chat_id: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")] = Field(
        "default", description="Your conversation's name: one open session per user and chat_id."
    )
    message_id: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="Your id of the message: sending it again is a no-op (idempotent)."
    )
    wait_s: float = Field(
        0,
        ge=0,
        le=60,
        description="Wait up to this long for the bot's replies (the dialog to finish or ask).",
    )


class RestMessageOut(BaseModel):
    session_id: uuid.UUID
    message_id: uuid.UUID | None
    duplicate: bool
    routed_to: str | None
    replies: list[MessageOut] = []
    waiting: bool = Field(False, description="The bot asked a question and waits for the next message.")


class Delivered(BaseModel):
    status: Literal["sent", "pending", "failed"]
