"""Trigger nodes beside the manual one: webhook, schedule, event; and the webhook's respond node.

A trigger node emits the items its trigger hands the execution (the HTTP request, the
firing time, the event). Activating the workflow turns its trigger nodes into rows of
`webhooks`, `schedules` and `event_triggers` (see `triggers.service`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import CredentialSlot, Node, NodeContext, NodeParameters
from wirework.nodes.core.flow import TriggerNode
from wirework.triggers.event_names import EMITTED_EVENTS, subscription_patterns, subscription_problem

RESPONSE_OUTPUT = "$response"
"""Where `core.respond_webhook` leaves the HTTP answer (status, headers, body) in its record."""

_PATH = re.compile(r"[A-Za-z0-9._~\-]+(/[A-Za-z0-9._~\-]+)*")


def _webhook_path(value: str) -> str:
    value = value.strip().strip("/")
    if not _PATH.fullmatch(value) or len(value) > 255:
        raise ValueError(
            "a path is 1-255 characters of letters, digits, '.', '_', '~', '-' and '/', e.g. 'orders/new'"
        )
    return value


class WebhookParameters(NodeParameters):
    path: Annotated[str, AfterValidator(_webhook_path)] = Field(
        description="The URL is /webhook/{path}; unique per method across the instance."
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field("POST", description="HTTP method.")
    auth: Literal["none", "header", "basic", "hmac"] = Field(
        "none",
        description="none; header: a token in `auth_header`; basic: HTTP basic; hmac: a SHA-256 HMAC of "
        "the body, hex, in `auth_header`. The secret comes from the `auth` credential.",
    )
    auth_header: str | None = Field(
        None, description="Header with the token (default Authorization) or signature (X-Wirework-Signature)."
    )
    response_mode: Literal["immediately", "last_node", "respond_node"] = Field(
        "immediately",
        description="immediately: 202 with the execution id; last_node: the last node's items; "
        "respond_node: what a Respond to webhook node sets.",
    )
    timeout_s: int = Field(30, ge=1, le=300, description="How long last_node/respond_node wait before 504.")

    @model_validator(mode="after")
    def _header_name(self) -> WebhookParameters:
        if self.auth_header is not None and not re.fullmatch(r"[A-Za-z0-9\-]{1,100}", self.auth_header):
            raise ValueError("auth_header must be a header name such as X-Token")
        return self


class Webhook(TriggerNode):
    type = "core.webhook"
    display_name = "Webhook"
    description = "Starts the workflow when an HTTP request arrives at /webhook/{path}."
    icon = "webhook"
    Parameters = WebhookParameters
    credential_slots = (
        CredentialSlot(
            "auth",
            "webhook_auth",
            required=False,
            description="token (header), user and password (basic) or secret (hmac)",
        ),
    )


class RespondWebhookParameters(NodeParameters):
    status: int = Field(
        200,
        ge=200,
        le=599,
        description="HTTP status code (200-599; 1xx would switch or confuse the connection). "
        "204 and 304 answers carry no body.",
    )
    headers: dict[str, Any] = Field(
        default_factory=dict, description="Response headers (values become text)."
    )
    body: Any = Field(
        None, description="Response body (an expression, e.g. {{ items }}); default: the incoming items."
    )


class RespondWebhook(Node):
    type = "core.respond_webhook"
    display_name = "Respond to webhook"
    description = "Sets the webhook's HTTP answer (with response mode respond_node); items pass through."
    category = "Core"  # it ends a webhook's run, it starts nothing: not a trigger
    icon = "reply"
    Parameters = RespondWebhookParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = ctx.params(RespondWebhookParameters, 0)
        body = params.body
        if body is None:
            body = ctx.items[0] if len(ctx.items) == 1 else list(ctx.items)
        headers = {str(name): str(value) for name, value in params.headers.items()}
        response = {"status": params.status, "headers": headers, "body": body}
        return {"main": ctx.items, RESPONSE_OUTPUT: [response]}


class ScheduleParameters(NodeParameters):
    cron: str | None = Field(
        None, description="Cron: 5 fields, or 6 with seconds first (e.g. '0 9 * * 1-5', '*/10 * * * * *')."
    )
    interval_s: int | None = Field(
        None, ge=1, le=366 * 86400, description="…or fire every this many seconds."
    )
    timezone: str | None = Field(
        None, description="IANA zone for the cron; default the workflow's time zone."
    )
    catch_up: Literal["once", "skip"] = Field(
        "once", description="After downtime, run a missed firing once, or skip it."
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from wirework.triggers.schedules import check_cron

        return None if value is None else check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from wirework.triggers.schedules import zone

        if value is not None:
            zone(value)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleParameters:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("give either cron or interval_s")
        return self


class Schedule(TriggerNode):
    type = "core.schedule"
    display_name = "Schedule"
    description = "Starts the workflow on a cron schedule or every N seconds, in a time zone."
    icon = "calendar"
    Parameters = ScheduleParameters


def _emitted_event(value: str) -> str:
    problem = subscription_problem(value)
    if problem:  # "static_value": checked on save even when written as an expression
        raise PydanticCustomError("static_value", problem)
    return value


class EventParameters(NodeParameters):
    event: Annotated[
        str,
        AfterValidator(_emitted_event),
        Field(json_schema_extra={"enum": subscription_patterns(), "x-static": True}),
    ] = Field(
        description="The event: "
        + "; ".join(f"{name}: {what}" for name, what in EMITTED_EVENTS.items())
        + "; or every event of a kind (workflow.*) or all (*)."
    )
    filter: str | None = Field(
        None, description="Only events for which this is true, e.g. {{ json.workflow_name == 'Import' }}."
    )


class Event(TriggerNode):
    type = "core.event"
    display_name = "On event"
    description = "Starts the workflow when another workflow of the organization completes or fails."
    icon = "bolt"
    Parameters = EventParameters
