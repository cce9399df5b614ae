"""bots, bot commands, configuration, memories, sessions, messages; chat platforms, connections, users, chats

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import wirework.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("name", sa.String(length=30), nullable=False, comment="Adapter name, e.g. telegram."),
        sa.Column("display_name", sa.String(length=100), nullable=False, comment="Shown in the UI."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("name", name=op.f("uq_platforms_name")),
        comment="Chat platforms this instance can connect bots to, filled at start from the channel adapters (like node types).",
        info={"category": "Bots and conversations", "seeds": "F platforms"},
    )
    op.create_table(
        "bots",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("name", sa.String(length=200), nullable=False, comment="Display name."),
        sa.Column("description", sa.Text(), nullable=True, comment="What it is for."),
        sa.Column("avatar_url", sa.String(length=500), nullable=True, comment="Picture shown in chats."),
        sa.Column("welcome_message", sa.Text(), nullable=True, comment="Sent when a conversation starts."),
        sa.Column(
            "public_id",
            sa.String(length=32),
            nullable=False,
            comment="Random id of its public web chat (`/chat/{public_id}`).",
        ),
        sa.Column(
            "dialog_kind",
            sa.String(length=30),
            nullable=False,
            comment="What runs its dialog: 'workflow' (later: BASIC, LLM).",
        ),
        sa.Column(
            "dialog_workflow_id",
            sa.Uuid(),
            nullable=True,
            comment="The workflow that answers messages no command takes.",
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False, comment="An inactive bot refuses messages."),
        sa.Column(
            "settings",
            wirework.db.types.JSONType,
            nullable=False,
            comment="Limits and switches: max message length, flood limit per user, session idle expiry, message retention days, public web chat on/off.",
        ),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["dialog_workflow_id"],
            ["workflows.id"],
            name=op.f("fk_bots_dialog_workflow_id_workflows"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_bots_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bots")),
        sa.UniqueConstraint("public_id", name=op.f("uq_bots_public_id")),
        comment="A bot of an organization: what it is called, how it greets, and the dialog it runs (a workflow with a chat trigger today). Serves General Bots' and Flowbot's bots.",
        info={"category": "Bots and conversations", "seeds": "G bots, F bots"},
    )
    with op.batch_alter_table("bots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bots_dialog_workflow_id"), ["dialog_workflow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bots_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bot_commands",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="Whose command."),
        sa.Column(
            "command",
            sa.String(length=200),
            nullable=False,
            comment="Declaration: words, then [string] [int] [number] [bool] [text] arguments.",
        ),
        sa.Column("description", sa.Text(), nullable=True, comment="Shown in help."),
        sa.Column("workflow_id", sa.Uuid(), nullable=False, comment="Workflow it runs."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_bot_commands_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_bot_commands_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_bot_commands_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_commands")),
        sa.UniqueConstraint("bot_id", "command", name=op.f("uq_bot_commands_bot_id_command")),
        comment="Chat commands a bot declares (Flowbot style): words and typed arguments (`todo add [string]`); a message that matches runs the command's workflow.",
        info={"category": "Bots and conversations", "seeds": "F bots (commands)"},
    )
    with op.batch_alter_table("bot_commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_commands_bot_id"), ["bot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_commands_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bot_commands_workflow_id"), ["workflow_id"], unique=False)

    op.create_table(
        "bot_configuration",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="Whose setting."),
        sa.Column("name", sa.String(length=200), nullable=False, comment="Setting name."),
        sa.Column(
            "value",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
            comment="Its value, as text.",
        ),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_bot_configuration_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_bot_configuration_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_configuration")),
        sa.UniqueConstraint("bot_id", "name", name=op.f("uq_bot_configuration_bot_id_name")),
        comment="A bot's key/value settings, as General Bots packages carry them in config.csv (`name,value`); imported and exported as CSV.",
        info={"category": "Bots and conversations", "seeds": "G bot_configuration"},
    )
    with op.batch_alter_table("bot_configuration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_configuration_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bot_memories",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="Whose memory."),
        sa.Column(
            "user_key",
            sa.String(length=100),
            nullable=False,
            comment="'' for the bot's own memory, else whose: 'user:…', 'platform:…', 'visitor:…'.",
        ),
        sa.Column("key", sa.String(length=200), nullable=False, comment="Memory name."),
        sa.Column("value", wirework.db.types.JSONType, nullable=True, comment="Any JSON value."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_bot_memories_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_bot_memories_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_memories")),
        sa.UniqueConstraint("bot_id", "user_key", "key", name=op.f("uq_bot_memories_bot_id_user_key_key")),
        comment="Persistent key/value memory of a bot (SET/GET BOT MEMORY), bot-level (user_key '') or per user ('user:<id>', 'platform:<platform user id>', 'visitor:<id>').",
        info={"category": "Bots and conversations", "seeds": "G bot_memories"},
    )
    with op.batch_alter_table("bot_memories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_memories_org_id"), ["org_id"], unique=False)

    op.create_table(
        "platform_bots",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="The bot connected."),
        sa.Column(
            "platform", sa.String(length=30), nullable=False, comment="Platform name (platforms.name)."
        ),
        sa.Column("name", sa.String(length=200), nullable=False, comment="Display name of the connection."),
        sa.Column(
            "credential_id",
            sa.Uuid(),
            nullable=True,
            comment="Sealed secrets: bot token, signing secret, public key, verify token, app secret.",
        ),
        sa.Column(
            "settings",
            wirework.db.types.JSONType,
            nullable=False,
            comment="Non-secret settings (bot username, team, phone number id).",
        ),
        sa.Column(
            "inbound_token",
            sa.String(length=64),
            nullable=False,
            comment="Random path segment of its inbound URL.",
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False, comment="Inactive connections refuse inbound."),
        sa.Column("last_error", sa.Text(), nullable=True, comment="Last inbound or outbound failure."),
        sa.Column(
            "last_inbound_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When a message last came in.",
        ),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_platform_bots_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_platform_bots_credential_id_credentials"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_platform_bots_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_bots")),
        sa.UniqueConstraint("inbound_token", name=op.f("uq_platform_bots_inbound_token")),
        comment="A bot's connection to a chat platform: its sealed secrets (in a credential), non-secret settings and the random token of its inbound URL. Serves Flowbot's platform_bots and channels.",
        info={"category": "Bots and conversations", "seeds": "F platform_bots, F channels"},
    )
    with op.batch_alter_table("platform_bots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_bots_bot_id"), ["bot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_platform_bots_org_id"), ["org_id"], unique=False)

    op.create_table(
        "platform_channels",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("platform_bot_id", sa.Uuid(), nullable=False, comment="Connection it was met on."),
        sa.Column(
            "platform_chat_id",
            sa.String(length=200),
            nullable=False,
            comment="The platform's id of the chat.",
        ),
        sa.Column("name", sa.String(length=200), nullable=True, comment="Display name."),
        sa.Column(
            "kind",
            sa.Enum(
                "direct",
                "group",
                "channel",
                name="platform_chat_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
            comment="direct, group or channel.",
        ),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_platform_channels_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_bot_id"],
            ["platform_bots.id"],
            name=op.f("fk_platform_channels_platform_bot_id_platform_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_channels")),
        sa.UniqueConstraint(
            "platform_bot_id",
            "platform_chat_id",
            name=op.f("uq_platform_channels_platform_bot_id_platform_chat_id"),
        ),
        comment="A chat on a platform (direct, group or channel) met through a connection.",
        info={"category": "Bots and conversations", "seeds": "F platform_channels"},
    )
    with op.batch_alter_table("platform_channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_channels_org_id"), ["org_id"], unique=False)

    op.create_table(
        "platform_users",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("platform_bot_id", sa.Uuid(), nullable=False, comment="Connection it was met on."),
        sa.Column(
            "platform_user_id",
            sa.String(length=200),
            nullable=False,
            comment="The platform's id of the user.",
        ),
        sa.Column("name", sa.String(length=200), nullable=True, comment="Display name."),
        sa.Column(
            "username", sa.String(length=200), nullable=True, comment="Handle, if the platform has one."
        ),
        sa.Column("is_bot", sa.Boolean(), nullable=False, comment="A bot account."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_platform_users_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_bot_id"],
            ["platform_bots.id"],
            name=op.f("fk_platform_users_platform_bot_id_platform_bots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_users")),
        sa.UniqueConstraint(
            "platform_bot_id",
            "platform_user_id",
            name=op.f("uq_platform_users_platform_bot_id_platform_user_id"),
        ),
        comment="A person (or bot) met on a platform through a connection.",
        info={"category": "Bots and conversations", "seeds": "F platform_users"},
    )
    with op.batch_alter_table("platform_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "platform_channel_users",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("platform_channel_id", sa.Uuid(), nullable=False, comment="The chat."),
        sa.Column("platform_user_id", sa.Uuid(), nullable=False, comment="The user."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_platform_channel_users_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_channel_id"],
            ["platform_channels.id"],
            name=op.f("fk_platform_channel_users_platform_channel_id_platform_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_user_id"],
            ["platform_users.id"],
            name=op.f("fk_platform_channel_users_platform_user_id_platform_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_channel_users")),
        sa.UniqueConstraint(
            "platform_channel_id",
            "platform_user_id",
            name=op.f("uq_platform_channel_users_platform_channel_id_platform_user_id"),
        ),
        comment="Who has been seen in which platform chat.",
        info={"category": "Bots and conversations", "seeds": "F platform_channel_users"},
    )
    with op.batch_alter_table("platform_channel_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_platform_channel_users_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_platform_channel_users_platform_user_id"), ["platform_user_id"], unique=False
        )

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="The bot talked to."),
        sa.Column("user_id", sa.Uuid(), nullable=True, comment="A Wirework user (REST, test chat)."),
        sa.Column(
            "visitor_id",
            sa.String(length=64),
            nullable=True,
            comment="An anonymous web-chat visitor (random id kept by their browser).",
        ),
        sa.Column("platform_user_id", sa.Uuid(), nullable=True, comment="A chat platform's user."),
        sa.Column(
            "platform_channel_id", sa.Uuid(), nullable=True, comment="The platform chat it happens in."
        ),
        sa.Column(
            "channel",
            sa.String(length=30),
            nullable=False,
            comment="'web', 'rest', or a platform name ('telegram', 'slack', …).",
        ),
        sa.Column(
            "chat_key",
            sa.String(length=300),
            nullable=False,
            comment="Channel, chat and person in one string: finds the open session fast.",
        ),
        sa.Column(
            "open_chat_key",
            sa.String(length=300),
            nullable=True,
            comment="The chat_key while the session is open, empty once closed (unique per bot).",
        ),
        sa.Column("title", sa.String(length=200), nullable=True, comment="Shown in lists (first message)."),
        sa.Column(
            "context",
            wirework.db.types.JSONType,
            nullable=False,
            comment="Conversation state a dialog keeps between messages.",
        ),
        sa.Column(
            "waiting_execution_id",
            sa.Uuid(),
            nullable=True,
            comment="The execution whose chat.ask waits for this session's next message.",
        ),
        sa.Column(
            "waiting_node_id",
            sa.String(length=100),
            nullable=True,
            comment="The chat.ask node of that execution.",
        ),
        sa.Column(
            "taken_over_by",
            sa.Uuid(),
            nullable=True,
            comment="An operator answering by hand; the dialog pauses while set.",
        ),
        sa.Column(
            "taken_over_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When the operator took over.",
        ),
        sa.Column("message_count", sa.Integer(), nullable=False, comment="Messages in and out."),
        sa.Column("tokens", sa.Integer(), nullable=False, comment="Model tokens used (LLM dialogs)."),
        sa.Column(
            "last_activity_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="Last message (UTC).",
        ),
        sa.Column(
            "expires_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="Closed after this without activity; then pruned by retention.",
        ),
        sa.Column(
            "closed_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When it ended; a new message starts another.",
        ),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_user_sessions_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_user_sessions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_channel_id"],
            ["platform_channels.id"],
            name=op.f("fk_user_sessions_platform_channel_id_platform_channels"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["platform_user_id"],
            ["platform_users.id"],
            name=op.f("fk_user_sessions_platform_user_id_platform_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["taken_over_by"],
            ["users.id"],
            name=op.f("fk_user_sessions_taken_over_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        comment="A conversation of one person with a bot on one channel and chat: who, where, its context, the dialog step waiting for an answer, counts and last activity.",
        info={"category": "Bots and conversations", "seeds": "G user_sessions, F session"},
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_user_sessions_expires_at", ["expires_at"], unique=False)
        batch_op.create_index("uq_user_sessions_bot_open_chat_key", ["bot_id", "open_chat_key"], unique=True)
        batch_op.create_index("ix_user_sessions_waiting_execution_id", ["waiting_execution_id"], unique=False)
        batch_op.create_index("ix_user_sessions_org_activity", ["org_id", "last_activity_at"], unique=False)
        batch_op.create_index(
            "ix_user_sessions_org_bot_activity", ["org_id", "bot_id", "last_activity_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_sessions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_user_sessions_platform_channel_id"), ["platform_channel_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_sessions_platform_user_id"), ["platform_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("session_id", sa.Uuid(), nullable=False, comment="The conversation."),
        sa.Column("bot_id", sa.Uuid(), nullable=False, comment="The bot (for dedup and retention)."),
        sa.Column(
            "role",
            sa.Enum(
                "user",
                "assistant",
                "system",
                "tool",
                name="message_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
            comment="user, assistant, system or tool.",
        ),
        sa.Column("sender", sa.String(length=200), nullable=True, comment="Who wrote it (name or id)."),
        sa.Column(
            "content",
            sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
            comment="The text.",
        ),
        sa.Column(
            "channel", sa.String(length=30), nullable=False, comment="Channel it came in or goes out on."
        ),
        sa.Column(
            "platform_message_id",
            sa.String(length=200),
            nullable=True,
            comment="The platform's id of it (inbound: dedup key; outbound: after sending).",
        ),
        sa.Column(
            "reply_key",
            sa.String(length=200),
            nullable=True,
            comment="Outbound idempotency key '<execution>:<node>:<n>': one row per reply.",
        ),
        sa.Column(
            "delivery",
            sa.Enum(
                "received",
                "pending",
                "sent",
                "failed",
                name="message_delivery",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
            comment="received, pending, sent or failed.",
        ),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="Sends tried."),
        sa.Column(
            "next_attempt_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When a pending reply is tried again.",
        ),
        sa.Column("error", sa.Text(), nullable=True, comment="Why the last send failed."),
        sa.Column("tokens", sa.Integer(), nullable=False, comment="Model tokens (LLM replies)."),
        sa.Column(
            "latency_ms",
            sa.Integer(),
            nullable=True,
            comment="Reply: ms from the message it answers to being stored.",
        ),
        sa.Column("model", sa.String(length=100), nullable=True, comment="Model that wrote it, if any."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When it was stored (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_messages_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_messages_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_sessions.id"],
            name=op.f("fk_messages_session_id_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "bot_id",
            "channel",
            "platform_message_id",
            name=op.f("uq_messages_bot_id_channel_platform_message_id"),
        ),
        sa.UniqueConstraint("bot_id", "reply_key", name=op.f("uq_messages_bot_id_reply_key")),
        comment="Every message of a conversation, in and out: role, sender, text, the platform's id, delivery state of a reply (retried with back-off), tokens, latency.",
        info={"category": "Bots and conversations", "seeds": "G message_history, F messages"},
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_bot_created", ["bot_id", "created_at"], unique=False)
        batch_op.create_index("ix_messages_delivery_next", ["delivery", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_messages_org_id_id", ["org_id", "id"], unique=False)
        batch_op.create_index("ix_messages_session_id_id", ["session_id", "id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop an FK's index first).
    for table in (
        "messages",
        "user_sessions",
        "platform_channel_users",
        "platform_users",
        "platform_channels",
        "platform_bots",
        "bot_memories",
        "bot_configuration",
        "bot_commands",
        "bots",
        "platforms",
    ):
        op.drop_table(table)
