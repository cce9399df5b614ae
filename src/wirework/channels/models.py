"""Tables of chat platforms (seeds: F platforms/platform_bots/platform_users/platform_channels/
platform_channel_users, F channels).

`platforms` is filled at start from the adapters that exist; the others record a bot's
connection to a platform and the users and chats met there.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType

CATEGORY = "Bots and conversations"


class ChatKind(enum.StrEnum):
    direct = "direct"
    group = "group"
    channel = "channel"


class Platform(IdMixin, TimestampMixin, Base):
    __tablename__ = "platforms"
    __label__ = "Platform"
    __table_args__ = {
        "comment": "Chat platforms this instance can connect bots to, filled at start from the "
        "channel adapters (like node types).",
        "info": {"category": CATEGORY, "seeds": "F platforms"},
    }

    name: Mapped[str] = mapped_column(String(30), unique=True, comment="Adapter name, e.g. telegram.")
    display_name: Mapped[str] = mapped_column(String(100), comment="Shown in the UI.")


class PlatformBot(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "platform_bots"
    __label__ = "Channel connection"
    __table_args__ = {
        "comment": "A bot's connection to a chat platform: its sealed secrets (in a credential), "
        "non-secret settings and the random token of its inbound URL. Serves Flowbot's "
        "platform_bots and channels.",
        "info": {"category": CATEGORY, "seeds": "F platform_bots, F channels"},
    }

    bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), index=True, comment="The bot connected."
    )
    platform: Mapped[str] = mapped_column(String(30), comment="Platform name (platforms.name).")
    name: Mapped[str] = mapped_column(String(200), comment="Display name of the connection.")
    credential_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL"),
        comment="Sealed secrets: bot token, signing secret, public key, verify token, app secret.",
    )
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="Non-secret settings (bot username, team, phone number id)."
    )
    inbound_token: Mapped[str] = mapped_column(
        String(64), unique=True, comment="Random path segment of its inbound URL."
    )
    is_active: Mapped[bool] = mapped_column(default=True, comment="Inactive connections refuse inbound.")
    last_error: Mapped[str | None] = mapped_column(Text, comment="Last inbound or outbound failure.")
    last_inbound_at: Mapped[datetime | None] = mapped_column(comment="When a message last came in.")


class PlatformUser(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "platform_users"
    __label__ = "Platform user"
    __table_args__ = (
        UniqueConstraint("platform_bot_id", "platform_user_id"),
        {
            "comment": "A person (or bot) met on a platform through a connection.",
            "info": {"category": CATEGORY, "seeds": "F platform_users"},
        },
    )

    platform_bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_bots.id", ondelete="CASCADE"), comment="Connection it was met on."
    )
    platform_user_id: Mapped[str] = mapped_column(String(200), comment="The platform's id of the user.")
    name: Mapped[str | None] = mapped_column(String(200), comment="Display name.")
    username: Mapped[str | None] = mapped_column(String(200), comment="Handle, if the platform has one.")
    is_bot: Mapped[bool] = mapped_column(default=False, comment="A bot account.")


class PlatformChannel(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "platform_channels"
    __label__ = "Platform chat"
    __table_args__ = (
        UniqueConstraint("platform_bot_id", "platform_chat_id"),
        {
            "comment": "A chat on a platform (direct, group or channel) met through a connection.",
            "info": {"category": CATEGORY, "seeds": "F platform_channels"},
        },
    )

    platform_bot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_bots.id", ondelete="CASCADE"), comment="Connection it was met on."
    )
    platform_chat_id: Mapped[str] = mapped_column(String(200), comment="The platform's id of the chat.")
    name: Mapped[str | None] = mapped_column(String(200), comment="Display name.")
    kind: Mapped[ChatKind] = mapped_column(
        StrEnumType(ChatKind, "platform_chat_kind"),
        default=ChatKind.direct,
        comment="direct, group or channel.",
    )


class PlatformChannelUser(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "platform_channel_users"
    __label__ = "Platform chat member"
    __table_args__ = (
        UniqueConstraint("platform_channel_id", "platform_user_id"),
        {
            "comment": "Who has been seen in which platform chat.",
            "info": {"category": CATEGORY, "seeds": "F platform_channel_users"},
        },
    )

    platform_channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_channels.id", ondelete="CASCADE"), comment="The chat."
    )
    platform_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_users.id", ondelete="CASCADE"), index=True, comment="The user."
    )
