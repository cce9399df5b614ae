"""The internal event bus: `emit` starts the workflows that subscribed to an event.

An event is a name (`workflow.completed`, `workflow.failed`, `message.received`,
`form.submitted`, `document.indexed`, …) and a JSON payload, inside one organization.
Subscriptions are rows (`event_triggers`, written when a workflow with a `core.event` node
is activated), and emitting inserts execution rows, so events cross processes the same way
all work does: through the database and, in worker mode, the broker.
"""

from __future__ import annotations

import fnmatch
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.engine.expressions import EMPTY_NODES, expression_context, render_value
from wirework.engine.models import Execution, ExecutionStatus, TriggerType
from wirework.triggers.models import EventTrigger
from wirework.workflows import service
from wirework.workflows.models import Workflow

log = structlog.get_logger("wirework.events")

WORKFLOW_COMPLETED = "workflow.completed"
WORKFLOW_FAILED = "workflow.failed"


def _matches(trigger: EventTrigger, name: str, payload: dict[str, Any]) -> bool:
    if not fnmatch.fnmatchcase(name, trigger.event):
        return False
    if not trigger.filter:
        return True
    context = expression_context(
        item=payload,
        index=0,
        items=[payload],
        nodes=EMPTY_NODES,
        vars={},
        execution={},
        workflow={},
        now=datetime.now(UTC),
    )
    try:
        return bool(render_value(trigger.filter, context, "filter"))
    except Exception as exc:  # a broken filter must not break the emitter
        log.warning("event_filter_failed", trigger_id=str(trigger.id), error=str(exc))
        return False


async def emit(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    payload: dict[str, Any],
    *,
    source_workflow_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Start every active workflow of the organization subscribed to `name` whose filter
    matches; the new executions' ids (the caller commits, then submits them). A workflow
    does not receive events about its own executions, so it cannot trigger itself forever."""
    prefix = name.split(".", 1)[0]
    candidates = (
        await session.execute(
            select(EventTrigger).where(
                EventTrigger.org_id == org_id,
                EventTrigger.event.in_([name, "*", f"{prefix}.*"]),
            )
        )
    ).scalars()
    started: list[uuid.UUID] = []
    item = {"event": name, **payload}
    for trigger in candidates:
        if trigger.workflow_id == source_workflow_id or not _matches(trigger, name, item):
            continue
        workflow = await session.get(Workflow, trigger.workflow_id)
        if workflow is None or not workflow.is_active:
            continue
        execution = await service.start_run(
            session,
            workflow,
            version=None,
            input_items=[item],
            pinned=None,
            start=trigger.node_id,
            user_id=None,
            trigger_type=TriggerType.event,
        )
        started.append(execution.id)
    return started


_FINISHED_EVENTS = [WORKFLOW_COMPLETED, WORKFLOW_FAILED, "workflow.*", "*"]
_LISTENING = select(EventTrigger.id).where(EventTrigger.event.in_(_FINISHED_EVENTS)).limit(1)


def anyone_listening(connection: Connection) -> bool:
    """Whether any workflow subscribes to workflow.completed/failed: plain statement, so the
    runtime can ask on the engine's writer connection (`executions.read`) after every run."""
    return connection.execute(_LISTENING).first() is not None


async def emit_finished(session: AsyncSession, execution_id: uuid.UUID) -> list[uuid.UUID]:
    """`workflow.completed` or `workflow.failed` for a finished execution. Ask
    `anyone_listening` first: in the common case nobody does, and that costs one lookup."""
    execution = await session.get(Execution, execution_id)
    if execution is None or execution.status not in (ExecutionStatus.completed, ExecutionStatus.failed):
        return []
    workflow = await session.get(Workflow, execution.workflow_id)
    name = WORKFLOW_COMPLETED if execution.status == ExecutionStatus.completed else WORKFLOW_FAILED
    payload = {
        "execution_id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "workflow_name": workflow.name if workflow else None,
        "status": execution.status.value,
        "error": execution.error,
        "trigger": execution.trigger_type.value,
    }
    return await emit(session, execution.org_id, name, payload, source_workflow_id=execution.workflow_id)
