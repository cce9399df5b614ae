"""Tables of bots and conversations (seeds: G bots/bot_configuration/bot_memories/
user_sessions/message_history, F bots/messages/session).

A bot's dialog is a workflow today (`dialog_kind` "workflow"); BASIC scripts and LLM agents
add kinds later. A conversation is a `user_sessions` row; every message in or out is a
`messages` row, stored before anything else happens to it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType, utcnow

CATEGORY = "Bots and conversations"

LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
"""Text past MySQL's 64 KB TEXT (a long reply or a config value)."""


class MessageRole(enum.StrEnum):
    user = "user"
    assistant = "assistant"
    system = "system"
    tool = "tool"


class Delivery(enum.StrEnum):
    received = "received"  # inbound: stored as it arrived
    pending = "pending"  # outbound: waiting to be sent (or to be sent again)
    sent = "sent"
    failed = "failed"  # outbound: given up, `error` says why


class Bot(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "bots"
    __label__ = "Bot"
    __table_args__ = {
        "comment": "A bot of an organization: what it is called, how it greets, and the dialog it "
        "runs (a workflow with a chat trigger today). Serves General Bots' and Flowbot's bots.",
        "info": {"category": CATEGORY, "seeds": "G bots, F bots"},
    }

    name: Mapped[str] = mapped_column(String(200), comment="Display name.")
    description: Mapped[str | None] = mapped_column(Text, comment="What it is for.")
    avatar_url: Mapped[str | None] = mapped_column(String(500), comment="Picture shown in chats.")
    welcome_message: Mapped[str | None] = mapped_column(Text, comment="Sent when a conversation starts.")
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, comment="Random id of its public web chat (`/chat/{public_id}`)."
    )
    dialog_kind: Mapped[str] = mapped_column(
        String(30), default="workflow", comment="What runs its dialog: 'workflow' (later: BASIC, LLM)."
    )
    dialog_workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"),
        index=True,
        comment="The workflow that answers messages no command takes.",
    )
    ai_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_models.id", ondelete="SET NULL"),
        index=True,
        comment="LLM its AI nodes use when they name none; null: the organization's default.",
    )
    is_active: Mapped[bool] = mapped_column(default=True, comment="An inactive bot refuses messages.")
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONType,
        default=dict,
        comment="Limits and switches: max message length, flood limit per user, session idle "
        "expiry, message retention days, public web chat on/off.",
    )


class BotCommand(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "bot_commands"
    __label__ = "Bot command"
    __table_args__ = (
        UniqueConstraint("bot_id", "command"),
        {
            "comment": "Chat commands a bot declares (Flowbot style): words and typed arguments "
            "(`todo add [string]`); a message that matches runs the command's workflow.",
            "info": {"category": CATEGORY, "seeds": "F bots (commands)"},
        },
    )

    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), index=True, comment="Whose command."
    )
    command: Mapped[str] = mapped_column(
        String(200), comment="Declaration: words, then [string] [int] [number] [bool] [text] arguments."
    )
    description: Mapped[str | None] = mapped_column(Text, comment="Shown in help.")
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Workflow it runs."
    )


class BotConfiguration(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "bot_configuration"
    __label__ = "Bot setting"
    __table_args__ = (
        UniqueConstraint("bot_id", "name"),
        {
            "comment": "A bot's key/value settings, as General Bots packages carry them in "
            "config.csv (`name,value`); imported and exported as CSV.",
            "info": {"category": CATEGORY, "seeds": "G bot_configuration"},
        },
    )

    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), comment="Whose setting."
    )
    name: Mapped[str] = mapped_column(String(200), comment="Setting name.")
    value: Mapped[str] = mapped_column(LongText, comment="Its value, as text.")


class BotMemory(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "bot_memories"
    __label__ = "Bot memory"
    __table_args__ = (
        UniqueConstraint("bot_id", "user_key", "key"),
        {
            "comment": "Persistent key/value memory of a bot (SET/GET BOT MEMORY), bot-level "
            "(user_key '') or per user ('user:<id>', 'platform:<platform user id>', 'visitor:<id>').",
            "info": {"category": CATEGORY, "seeds": "G bot_memories"},
        },
    )

    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), comment="Whose memory."
    )
    user_key: Mapped[str] = mapped_column(
        String(100),
        default="",
        comment="'' for the bot's own memory, else whose: 'user:…', 'platform:…', 'visitor:…'.",
    )
    key: Mapped[str] = mapped_column(String(200), comment="Memory name.")
    value: Mapped[Any] = mapped_column(JSONType, nullable=True, comment="Any JSON value.")


class UserSession(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "user_sessions"
    __label__ = "Session"
    __table_args__ = (
        Index("ix_user_sessions_org_bot_activity", "org_id", "bot_id", "last_activity_at"),
        Index("ix_user_sessions_org_activity", "org_id", "last_activity_at"),
        # One open conversation per chat (two first messages at once cannot open two); finds it.
        Index("uq_user_sessions_bot_open_chat_key", "bot_id", "open_chat_key", unique=True),
        Index("ix_user_sessions_expires_at", "expires_at"),
        # The delivery pass finds answers whose execution was not woken yet (rare: few rows).
        Index("ix_user_sessions_waiting_execution_id", "waiting_execution_id"),
        {
            "comment": "A conversation of one person with a bot on one channel and chat: who, where, "
            "its context, the dialog step waiting for an answer, counts and last activity.",
            "info": {"category": CATEGORY, "seeds": "G user_sessions, F session"},
        },
    )

    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), comment="The bot talked to."
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, comment="A Wirework user (REST, test chat)."
    )
    visitor_id: Mapped[str | None] = mapped_column(
        String(64), comment="An anonymous web-chat visitor (random id kept by their browser)."
    )
    platform_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_users.id", ondelete="SET NULL"), index=True, comment="A chat platform's user."
    )
    platform_channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_channels.id", ondelete="SET NULL"),
        index=True,
        comment="The platform chat it happens in.",
    )
    channel: Mapped[str] = mapped_column(
        String(30), comment="'web', 'rest', or a platform name ('telegram', 'slack', …)."
    )
    chat_key: Mapped[str] = mapped_column(
        String(300), comment="Channel, chat and person in one string: finds the open session fast."
    )
    open_chat_key: Mapped[str | None] = mapped_column(
        String(300), comment="The chat_key while the session is open, empty once closed (unique per bot)."
    )
    title: Mapped[str | None] = mapped_column(String(200), comment="Shown in lists (first message).")
    context: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="Conversation state a dialog keeps between messages."
    )
    waiting_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, comment="The execution whose chat.ask waits for this session's next message."
    )
    waiting_node_id: Mapped[str | None] = mapped_column(
        String(100), comment="The chat.ask node of that execution."
    )
    taken_over_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"),
        comment="An operator answering by hand; the dialog pauses while set.",
    )
    taken_over_at: Mapped[datetime | None] = mapped_column(comment="When the operator took over.")
    message_count: Mapped[int] = mapped_column(Integer, default=0, comment="Messages in and out.")
    tokens: Mapped[int] = mapped_column(Integer, default=0, comment="Model tokens used (LLM dialogs).")
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, comment="Last message (UTC).")
    expires_at: Mapped[datetime | None] = mapped_column(
        comment="Closed after this without activity; then pruned by retention."
    )
    closed_at: Mapped[datetime | None] = mapped_column(comment="When it ended; a new message starts another.")


class Message(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "messages"
    __label__ = "Message"
    __table_args__ = (
        # Inbound dedup: a platform that delivers a message twice stores it once.
        UniqueConstraint("bot_id", "channel", "platform_message_id"),
        # Outbound: a reply of a resumed execution is inserted once.
        UniqueConstraint("bot_id", "reply_key"),
        Index("ix_messages_session_id_id", "session_id", "id"),
        Index("ix_messages_org_id_id", "org_id", "id"),
        Index("ix_messages_bot_created", "bot_id", "created_at"),
        Index("ix_messages_delivery_next", "delivery", "next_attempt_at"),
        {
            "comment": "Every message of a conversation, in and out: role, sender, text, the "
            "platform's id, delivery state of a reply (retried with back-off), tokens, latency.",
            "info": {"category": CATEGORY, "seeds": "G message_history, F messages"},
        },
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), comment="The conversation."
    )
    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), comment="The bot (for dedup and retention)."
    )
    role: Mapped[MessageRole] = mapped_column(
        StrEnumType(MessageRole, "message_role"), comment="user, assistant, system or tool."
    )
    sender: Mapped[str | None] = mapped_column(String(200), comment="Who wrote it (name or id).")
    content: Mapped[str] = mapped_column(LongText, comment="The text.")
    channel: Mapped[str] = mapped_column(String(30), comment="Channel it came in or goes out on.")
    platform_message_id: Mapped[str | None] = mapped_column(
        String(200), comment="The platform's id of it (inbound: dedup key; outbound: after sending)."
    )
    reply_key: Mapped[str | None] = mapped_column(
        String(200), comment="Outbound idempotency key '<execution>:<node>:<n>': one row per reply."
    )
    delivery: Mapped[Delivery] = mapped_column(
        StrEnumType(Delivery, "message_delivery"), comment="received, pending, sent or failed."
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="Sends tried.")
    next_attempt_at: Mapped[datetime | None] = mapped_column(comment="When a pending reply is tried again.")
    error: Mapped[str | None] = mapped_column(Text, comment="Why the last send failed.")
    tokens: Mapped[int] = mapped_column(Integer, default=0, comment="Model tokens (LLM replies).")
    latency_ms: Mapped[int | None] = mapped_column(
        Integer, comment="Reply: ms from the message it answers to being stored."
    )
    model: Mapped[str | None] = mapped_column(String(100), comment="Model that wrote it, if any.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was stored (UTC).")
