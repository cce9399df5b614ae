"""Trigger rows follow the active workflow's current version: webhooks, schedules, event triggers.

Call `sync_triggers` whenever a workflow is activated, deactivated, or saves a new version
while active; it replaces the workflow's rows in the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.db.types import utcnow
from wirework.errors import Conflict, ValidationFailed
from wirework.nodes.core.triggers import EventParameters, ScheduleParameters, WebhookParameters
from wirework.triggers import schedules
from wirework.triggers.models import (
    CatchUp,
    EventTrigger,
    ResponseMode,
    Schedule,
    Webhook,
    WebhookAuth,
    WebhookMethod,
)
from wirework.workflows import service as workflows
from wirework.workflows.models import Workflow

TRIGGER_TABLES: tuple[Any, ...] = (Webhook, Schedule, EventTrigger)
DEFAULT_AUTH_HEADER = {WebhookAuth.header: "Authorization", WebhookAuth.hmac: "X-Wirework-Signature"}


def _parameters(model: Any, node: dict[str, Any]) -> Any:
    try:
        return model.model_validate(node.get("parameters") or {}, context={"static": False})
    except ValidationError as exc:
        raise ValidationFailed(
            f"Trigger node {node['id']!r} cannot be activated: its parameters must be fixed values.",
            errors=[
                {
                    "loc": ["definition", "nodes", node["id"], "parameters", *map(str, e["loc"])],
                    "msg": e["msg"],
                }
                for e in exc.errors(include_url=False)
            ],
        ) from None


def _credential(node: dict[str, Any], slot: str) -> uuid.UUID | None:
    value = (node.get("credentials") or {}).get(slot)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        raise ValidationFailed(f"Node {node['id']!r}: credential {value!r} is not a credential id") from None


async def sync_triggers(session: AsyncSession, workflow: Workflow, *, user_id: uuid.UUID | None) -> None:
    """Replace the workflow's trigger rows by those of its current version (none when inactive)."""
    for table in TRIGGER_TABLES:
        await session.execute(delete(table).where(table.workflow_id == workflow.id))
    if not workflow.is_active:
        return
    version = await workflows.get_version(session, workflow)
    definition = version.definition
    timezone = (definition.get("settings") or {}).get("timezone") or "UTC"
    now = utcnow()
    for node in definition.get("nodes") or []:
        if node.get("disabled"):
            continue
        kind = node.get("type")
        if kind == "core.webhook":
            params = _parameters(WebhookParameters, node)
            auth = WebhookAuth(params.auth)
            credential_id = _credential(node, "auth")
            if auth != WebhookAuth.none and credential_id is None:
                raise ValidationFailed(
                    f"Webhook node {node['id']!r} uses {auth.value} auth: choose an `auth` credential."
                )
            await _refuse_taken_path(session, workflow, params.method, params.path)
            session.add(
                Webhook(
                    org_id=workflow.org_id,
                    workflow_id=workflow.id,
                    node_id=node["id"],
                    path=params.path,
                    method=WebhookMethod(params.method),
                    auth_mode=auth,
                    credential_id=credential_id,
                    auth_header=params.auth_header or DEFAULT_AUTH_HEADER.get(auth),
                    response_mode=ResponseMode(params.response_mode),
                    timeout_s=params.timeout_s,
                )
            )
        elif kind == "core.schedule":
            params = _parameters(ScheduleParameters, node)
            zone = params.timezone or timezone
            session.add(
                Schedule(
                    org_id=workflow.org_id,
                    workflow_id=workflow.id,
                    node_id=node["id"],
                    cron_expression=params.cron,
                    interval_s=params.interval_s,
                    timezone=zone,
                    catch_up=CatchUp(params.catch_up),
                    created_by=user_id,
                    next_execution=schedules.next_fire(
                        after=now, cron=params.cron, interval_s=params.interval_s, timezone=zone
                    ),
                )
            )
        elif kind == "core.event":
            params = _parameters(EventParameters, node)
            session.add(
                EventTrigger(
                    org_id=workflow.org_id,
                    workflow_id=workflow.id,
                    node_id=node["id"],
                    event=params.event,
                    filter=params.filter,
                )
            )
    await session.flush()


async def _refuse_taken_path(session: AsyncSession, workflow: Workflow, method: str, path: str) -> None:
    """A clear 409 before the unique constraint would say it less kindly."""
    taken = (
        await session.execute(
            select(Webhook.workflow_id).where(Webhook.method == WebhookMethod(method), Webhook.path == path)
        )
    ).first()
    if taken is not None:
        mine = taken[0] == workflow.id
        raise Conflict(
            f"{method} /webhook/{path} is used twice in this workflow"
            if mine
            else f"{method} /webhook/{path} is already used by another active workflow; choose another path."
        )
