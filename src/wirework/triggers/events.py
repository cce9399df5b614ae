"""The internal event bus: `emit` starts the workflows that subscribed to an event.

An event is a name (one of `event_names.EMITTED_EVENTS`: today `workflow.completed` and
`workflow.failed`) and a JSON payload, inside one organization.
Subscriptions are rows (`event_triggers`, written when a workflow with a `core.event` node
is activated), and emitting inserts execution rows, so events cross processes the same way
all work does: through the database and, in worker mode, the broker.
"""

from __future__ import annotations

import fnmatch
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from sqlalchemy import Connection, Row, bindparam, select

from wirework.engine import executions
from wirework.engine.expression_limits import ExpressionLimits
from wirework.engine.expressions import EMPTY_NODES, expression_context, render_value
from wirework.engine.models import ExecutionStatus, TriggerType
from wirework.triggers import event_names
from wirework.triggers.models import EventTrigger
from wirework.workflows import service

log = structlog.get_logger("wirework.events")

WORKFLOW_COMPLETED, WORKFLOW_FAILED = event_names.WORKFLOW_COMPLETED, event_names.WORKFLOW_FAILED


_SUBSCRIBED = select(
    EventTrigger.workflow_id, EventTrigger.node_id, EventTrigger.event, EventTrigger.filter
).where(
    EventTrigger.org_id == bindparam("org_id"), EventTrigger.event.in_(bindparam("names", expanding=True))
)


FILTER_LIMITS: Final = ExpressionLimits(max_steps=10_000, max_size=100_000)
"""An event filter renders inside the emitting write, on the event loop, once per listener:
it gets a small budget (a comparison needs a few dozen steps), so no filter can stall it."""


def _matches(trigger: Row[Any], name: str, payload: dict[str, Any]) -> bool:
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
        return bool(render_value(trigger.filter, context, "filter", FILTER_LIMITS))
    except Exception as exc:  # a broken filter must not break the emitter
        log.warning("event_filter_failed", workflow_id=str(trigger.workflow_id), error=str(exc))
        return False


def _subscribed(connection: Connection, org_id: uuid.UUID, name: str) -> list[Row[Any]]:
    prefix = name.split(".", 1)[0]
    names = [name, "*", f"{prefix}.*"]
    return list(connection.execute(_SUBSCRIBED, {"org_id": org_id, "names": names}))


def _start(
    connection: Connection,
    triggers: list[Row[Any]],
    org_id: uuid.UUID,
    name: str,
    payload: dict[str, Any],
    source_workflow_id: uuid.UUID | None,
    cause: executions.Cause | None,
) -> list[uuid.UUID]:
    started: list[uuid.UUID] = []
    item = {"event": name, **payload}
    for trigger in triggers:
        if trigger.workflow_id == source_workflow_id or not _matches(trigger, name, item):
            continue
        version_id = service.current_version_id(connection, org_id, trigger.workflow_id, active=True)
        if version_id is None:
            continue
        started.append(
            executions.insert_pending(
                connection,
                org_id=org_id,
                workflow_id=trigger.workflow_id,
                version_id=version_id,
                trigger_type=TriggerType.event,
                input_items=[item],
                options={"start": trigger.node_id},
                cause=cause,
                event_trigger=trigger.node_id,
            )
        )
    return started


def emit(
    connection: Connection,
    org_id: uuid.UUID,
    name: str,
    payload: dict[str, Any],
    *,
    source_workflow_id: uuid.UUID | None = None,
    cause: executions.Cause | None = None,
) -> list[uuid.UUID]:
    """Accept a run of every active workflow of the organization subscribed to `name` whose
    filter matches; the new executions' ids (the caller commits, then submits them). Plain
    statements: inside the write that causes the event, so the event is neither lost nor
    doubled (with a session: `await session.run_sync(lambda s: emit(s.connection(), …))`).
    A workflow does not receive events about its own executions. An event that a run causes
    (`cause`) starts runs in that run's chain, under its limits: an event trigger that already
    started a run on the way from the chain's root is not started again (a cycle), and what is
    refused is recorded as a failed execution of the listening workflow, saying why."""
    triggers = _subscribed(connection, org_id, name)
    return _start(connection, triggers, org_id, name, payload, source_workflow_id, cause)


def emit_finished(connection: Connection, ended: executions.Ended) -> list[uuid.UUID]:
    """`workflow.completed` or `workflow.failed` for a run that just ended, in the transaction
    that records its end. Nobody listening (the common case) costs one indexed lookup."""
    execution = ended.execution
    name = WORKFLOW_COMPLETED if ended.status == ExecutionStatus.completed else WORKFLOW_FAILED
    triggers = _subscribed(connection, execution.org_id, name)
    if not triggers:
        return []
    workflow_name = service.workflow_name(connection, execution.workflow_id)
    payload = {
        "execution_id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "workflow_name": workflow_name,
        "status": ended.status.value,
        "error": ended.error,
        "trigger": execution.trigger_type.value,
    }
    return _start(connection, triggers, execution.org_id, name, payload, execution.workflow_id, ended.cause)
