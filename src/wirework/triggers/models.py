"""Tables of the triggers (seeds: W webhooks/schedules, F webhook/workflow_trigger).

Rows exist only for active workflows: activating a workflow writes one row per trigger node
of its current version, deactivating deletes them (`triggers.service.sync_triggers`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType

CATEGORY = "Workflows"


class WebhookMethod(enum.StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class WebhookAuth(enum.StrEnum):
    none = "none"
    header = "header"
    basic = "basic"
    hmac = "hmac"


class ResponseMode(enum.StrEnum):
    immediately = "immediately"
    last_node = "last_node"
    respond_node = "respond_node"


class CatchUp(enum.StrEnum):
    once = "once"
    skip = "skip"


class Webhook(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "webhooks"
    __label__ = "Webhook"
    __table_args__ = (
        UniqueConstraint("method", "path"),
        {
            "comment": "HTTP entry points of active workflows: `/webhook/{path}` runs the workflow "
            "from the `core.webhook` node `node_id`. A path is unique per method across the instance.",
            "info": {"category": CATEGORY, "seeds": "W webhooks, F webhook, F workflow_trigger"},
        },
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Workflow it starts."
    )
    node_id: Mapped[str] = mapped_column(String(64), comment="The webhook node in the definition.")
    path: Mapped[str] = mapped_column(String(255), comment="After `/webhook/`, without leading slash.")
    method: Mapped[WebhookMethod] = mapped_column(
        StrEnumType(WebhookMethod, "webhook_method"), default=WebhookMethod.POST, comment="HTTP method."
    )
    auth_mode: Mapped[WebhookAuth] = mapped_column(
        StrEnumType(WebhookAuth, "webhook_auth"),
        default=WebhookAuth.none,
        comment="How callers prove who they are.",
    )
    credential_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL"),
        comment="Holds the token, user/password or HMAC secret (the seed's auth_token), sealed.",
    )
    auth_header: Mapped[str | None] = mapped_column(
        String(100), comment="Header carrying the token (header mode) or the signature (hmac mode)."
    )
    response_mode: Mapped[ResponseMode] = mapped_column(
        StrEnumType(ResponseMode, "webhook_response_mode"),
        default=ResponseMode.immediately,
        comment="Answer at once (202), with the last node's items, or as a respond node says.",
    )
    timeout_s: Mapped[int] = mapped_column(
        Integer, default=30, comment="How long a waiting call waits (504 after)."
    )


class Schedule(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "schedules"
    __label__ = "Schedule"
    __table_args__ = {
        "comment": "Timed firings of active workflows (a `core.schedule` node): a cron expression in "
        "an IANA time zone, or a fixed interval. Claimed by a conditional update on next_execution, "
        "so with many processes each firing runs once.",
        "info": {"category": CATEGORY, "seeds": "W schedules, F workflow_trigger"},
    }

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Workflow it starts."
    )
    node_id: Mapped[str] = mapped_column(String(64), comment="The schedule node in the definition.")
    cron_expression: Mapped[str | None] = mapped_column(
        String(120), comment="5 fields, or 6 with seconds first; null when interval_s is set."
    )
    interval_s: Mapped[int | None] = mapped_column(Integer, comment="Fire every this many seconds instead.")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", comment="IANA zone the cron reads in.")
    catch_up: Mapped[CatchUp] = mapped_column(
        StrEnumType(CatchUp, "schedule_catch_up"),
        default=CatchUp.once,
        comment="After downtime: run a missed firing once, or skip it.",
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who activated it."
    )
    last_execution: Mapped[datetime | None] = mapped_column(comment="When it last fired (UTC).")
    next_execution: Mapped[datetime] = mapped_column(index=True, comment="When it fires next (UTC).")


class EventTrigger(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "event_triggers"
    __label__ = "Event trigger"
    __table_args__ = {
        "comment": "Subscriptions of active workflows to internal events (`core.event` nodes): one of "
        "the names Wirework emits (`triggers.event_names`) or a wildcard, with an optional filter.",
        "info": {"category": CATEGORY, "seeds": "F workflow_trigger"},
    }

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Workflow it starts."
    )
    node_id: Mapped[str] = mapped_column(String(64), comment="The event node in the definition.")
    event: Mapped[str] = mapped_column(String(100), index=True, comment="Event name subscribed to.")
    filter: Mapped[str | None] = mapped_column(
        Text, comment="Expression on the event (`{{ json.workflow_name == 'X' }}`); empty = all."
    )


class WebhookTestListener(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "webhook_test_listeners"
    __label__ = "Test webhook listener"
    __table_args__ = {
        "comment": "An editor waiting for one test call: `/webhook-test/{token}` runs the stored draft "
        "once. The token is unguessable and unique, so only the owner's draft runs, on any server.",
        "info": {"category": CATEGORY, "seeds": "W webhooks"},
    }

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Workflow whose draft runs."
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, comment="Path of the test URL (random).")
    method: Mapped[WebhookMethod] = mapped_column(
        StrEnumType(WebhookMethod, "webhook_method"), comment="HTTP method it accepts."
    )
    node_id: Mapped[str] = mapped_column(String(64), comment="The webhook node of the draft.")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, comment="The draft the call runs.")
    expires_at: Mapped[datetime] = mapped_column(comment="After this the URL answers 404.")
    received_at: Mapped[datetime | None] = mapped_column(comment="When its one call arrived.")
    execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, comment="The run the call started.")
