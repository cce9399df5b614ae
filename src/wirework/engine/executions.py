"""Durable executions: accept, claim with a lease, run node by node with every finished node
committed before its successors start, resume after a crash, cancel, retry.

This is the one place where an execution changes state. A process owns a running execution
only while its lease holds: every node's record is written in the same transaction that
renews the lease, so a process that lost its lease (and whose work another process took
over) cannot record a node twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine.definition import NodeSpec
from wirework.engine.errors import DefinitionInvalid, NodeFailure
from wirework.engine.graph import compile_graph, downstream_of
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus, TriggerType
from wirework.engine.nodes import NodeRegistry
from wirework.engine.runner import NodeStatus, RunHooks, run_workflow

log = structlog.get_logger("wirework.executions")

INPUT_PREVIEW_ITEMS = 50  # input_data is a preview; outputs are kept whole (resume needs them)
_STATUS_OF_NODE_RUN: dict[NodeStatus, NodeRunStatus] = {
    "success": NodeRunStatus.completed,
    "continued": NodeRunStatus.completed,
    "pinned": NodeRunStatus.completed,
    "disabled": NodeRunStatus.completed,
    "error": NodeRunStatus.failed,
    "failed": NodeRunStatus.failed,
    "waiting": NodeRunStatus.waiting,
}


def process_id() -> str:
    """A name for this process in lease columns: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLost(Exception):
    """Another process owns the execution now; stop without writing anything more."""


@dataclass
class RunContext:
    """What a run needs besides the execution row: set up by the caller (workflows' runtime)."""

    definition: dict[str, Any]
    workflow: dict[str, Any]
    vars: dict[str, Any]
    services: Any = None


# Loads the definition, workflow info, variables and services for an execution.
ContextLoader = Callable[[AsyncSession, Execution], Any]


@dataclass
class RunOutcome:
    status: ExecutionStatus
    follow_ups: list[uuid.UUID] = field(default_factory=list)


async def create_execution(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version_id: uuid.UUID,
    trigger_type: TriggerType = TriggerType.manual,
    triggered_by: uuid.UUID | None = None,
    input_items: Items | None = None,
    options: dict[str, Any] | None = None,
    parent_execution_id: uuid.UUID | None = None,
    retry_of: uuid.UUID | None = None,
) -> Execution:
    """Accept work: one pending row. The caller commits, then hands the id to an executor."""
    execution = Execution(
        org_id=org_id,
        workflow_id=workflow_id,
        version_id=version_id,
        trigger_type=trigger_type,
        triggered_by=triggered_by,
        input_items=list(input_items or []),
        options=options or {},
        parent_execution_id=parent_execution_id,
        retry_of=retry_of,
        status=ExecutionStatus.pending,
        created_at=utcnow(),
    )
    session.add(execution)
    await session.flush()
    return execution


def _claimable(now: datetime) -> Any:
    return or_(
        Execution.status == ExecutionStatus.pending,
        and_(Execution.status == ExecutionStatus.running, Execution.lease_expires_at < now),
        and_(Execution.status == ExecutionStatus.waiting, Execution.resume_at <= now),
    )


async def claim(db: Database, execution_id: uuid.UUID, owner: str, lease: timedelta) -> bool:
    """Take an execution that is pending, due, or whose owner's lease ran out. One winner."""
    now = utcnow()
    async with db.session() as session:
        result = await session.execute(
            update(Execution)
            .where(Execution.id == execution_id, _claimable(now), Execution.cancel_requested.is_(False))
            .values(status=ExecutionStatus.running, lease_owner=owner, lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


async def runnable_ids(db: Database, limit: int) -> list[uuid.UUID]:
    """Executions some process should (re)start now: new, due or abandoned."""
    async with db.session() as session:
        rows = await session.execute(
            select(Execution.id).where(_claimable(utcnow())).order_by(Execution.created_at).limit(limit)
        )
        return list(rows.scalars())


async def _renew(session: AsyncSession, execution_id: uuid.UUID, owner: str, lease: timedelta) -> bool:
    """Renew our lease inside the caller's transaction; False if it is no longer ours."""
    result = await session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.lease_owner == owner)
        .values(lease_expires_at=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def committed_outputs(
    session: AsyncSession, execution_id: uuid.UUID
) -> tuple[dict[str, NodeOutputs], dict[str, dict[str, Any]]]:
    """Each node's latest finished outputs, and the payloads of nodes left waiting."""
    rows = await session.execute(
        select(ExecutionLog.node_id, ExecutionLog.status, ExecutionLog.output_data)
        .where(ExecutionLog.execution_id == execution_id, ExecutionLog.superseded.is_(False))
        .order_by(ExecutionLog.id)
    )
    finished: dict[str, NodeOutputs] = {}
    waiting: dict[str, dict[str, Any]] = {}
    for node_id, status, output in rows:
        if status == NodeRunStatus.completed:
            finished[node_id] = output or {}
            waiting.pop(node_id, None)
        elif status == NodeRunStatus.waiting:
            waiting[node_id] = output or {}
    return finished, waiting


def _preview(inputs: Mapping[str, Items]) -> dict[str, Any]:
    return {name: list(items[:INPUT_PREVIEW_ITEMS]) for name, items in inputs.items()}


class _DurableHooks(RunHooks):
    def __init__(self, db: Database, execution_id: uuid.UUID, owner: str, lease: timedelta) -> None:
        self.db, self.execution_id, self.owner, self.lease = db, execution_id, owner, lease
        self.started: dict[str, tuple[datetime, dict[str, Any]]] = {}

    async def on_node_start(self, node: NodeSpec, attempt: int, inputs: Mapping[str, Items]) -> None:
        self.started[node.id] = (utcnow(), _preview(inputs))

    async def on_node_finish(
        self,
        node: NodeSpec,
        attempt: int,
        status: NodeStatus,
        outputs: NodeOutputs | None,
        error: NodeFailure | None,
        reset: tuple[str, ...],
    ) -> None:
        now = utcnow()
        started_at, inputs = self.started.pop(node.id, (now, None))
        async with self.db.session() as session:
            if not await _renew(session, self.execution_id, self.owner, self.lease):
                raise LeaseLost(str(self.execution_id))
            if reset:
                await session.execute(
                    update(ExecutionLog)
                    .where(ExecutionLog.execution_id == self.execution_id, ExecutionLog.node_id.in_(reset))
                    .values(superseded=True)
                    .execution_options(synchronize_session=False)
                )
            stored = dict(outputs or {})
            if status == "waiting" and error is None:
                stored = {}
            session.add(
                ExecutionLog(
                    execution_id=self.execution_id,
                    node_id=node.id,
                    node_name=node.name,
                    attempt=attempt,
                    status=_STATUS_OF_NODE_RUN[status],
                    started_at=started_at,
                    finished_at=now,
                    input_data=inputs,
                    output_data=stored,
                    item_count=sum(len(v) for k, v in stored.items() if not k.startswith("$")),
                    error=error.message if error else None,
                )
            )
            await session.commit()


async def _heartbeat(
    db: Database, execution_id: uuid.UUID, owner: str, lease: timedelta, task: asyncio.Task[Any]
) -> None:
    """Renew the lease between node records; cancel the run when asked to or when it is lost."""
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        async with db.session() as session:
            ours = await _renew(session, execution_id, owner, lease)
            cancel = (
                await session.execute(select(Execution.cancel_requested).where(Execution.id == execution_id))
            ).scalar_one_or_none()
            await session.commit()
        if not ours or cancel:
            task.cancel(msg="cancel requested" if ours else "lease lost")
            return


async def _finish(
    db: Database, execution_id: uuid.UUID, owner: str, status: ExecutionStatus, **values: Any
) -> bool:
    """The final transition of a run, only while we still hold the lease."""
    async with db.session() as session:
        result = await session.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.lease_owner == owner)
            .values(status=status, lease_owner=None, lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


async def run_execution(
    db: Database,
    execution_id: uuid.UUID,
    *,
    owner: str,
    registry: NodeRegistry,
    load_context: Callable[[AsyncSession, Execution], Any],
    lease: timedelta = timedelta(seconds=30),
    on_failure: Callable[[AsyncSession, Execution, str], Any] | None = None,
) -> RunOutcome | None:
    """Claim and run (or resume) an execution to its end; None if another process has it."""
    if not await claim(db, execution_id, owner, lease):
        return None
    async with db.session() as session:
        execution = await session.get(Execution, execution_id)
        assert execution is not None
        context: RunContext = await load_context(session, execution)
        if execution.started_at is None:  # a first run has no records to resume from
            execution.started_at = utcnow()
            finished: dict[str, NodeOutputs] = {}
            waiting: dict[str, dict[str, Any]] = {}
        else:
            finished, waiting = await committed_outputs(session, execution_id)
        await session.commit()
    options = execution.options or {}
    # A retry starts from the failed run's outputs; its own records (after a crash) come on top.
    finished = {**options.get("finished", {}), **finished}
    resume = {node_id: payload for node_id, payload in waiting.items()} or None
    hooks = _DurableHooks(db, execution_id, owner, lease)
    run = asyncio.ensure_future(
        run_workflow(
            context.definition,
            execution.input_items,
            registry=registry,
            vars=context.vars,
            execution={"id": str(execution.id), "mode": execution.trigger_type.value},
            workflow=context.workflow,
            finished=finished,
            pinned=options.get("pinned"),
            start=options.get("start"),
            resume=resume,
            hooks=hooks,
            services=context.services,
        )
    )
    beat = asyncio.ensure_future(_heartbeat(db, execution_id, owner, lease, run))
    try:
        result = await run
    except asyncio.CancelledError:
        if asyncio.current_task() is not None and asyncio.current_task().cancelling():  # type: ignore[union-attr]
            raise  # we are being shut down: leave the lease to expire, another process resumes
        ok = await _finish(
            db, execution_id, owner, ExecutionStatus.cancelled, finished_at=utcnow(), error="Cancelled."
        )
        return RunOutcome(ExecutionStatus.cancelled) if ok else None
    except LeaseLost:
        log.warning("lease_lost", execution_id=str(execution_id))
        return None
    except DefinitionInvalid as exc:
        await _finish(
            db,
            execution_id,
            owner,
            ExecutionStatus.failed,
            finished_at=utcnow(),
            error=f"The workflow definition is invalid: {exc}",
        )
        return RunOutcome(ExecutionStatus.failed)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat

    if result.status == "waiting":
        assert result.wait is not None
        ok = await _finish(db, execution_id, owner, ExecutionStatus.waiting, resume_at=result.wait.resume_at)
        return RunOutcome(ExecutionStatus.waiting) if ok else None
    if result.status == "completed":
        ok = await _finish(
            db, execution_id, owner, ExecutionStatus.completed, finished_at=utcnow(), resume_at=None
        )
        return RunOutcome(ExecutionStatus.completed) if ok else None
    error = result.error
    message = error.message if error else "failed"
    ok = await _finish(
        db,
        execution_id,
        owner,
        ExecutionStatus.failed,
        finished_at=utcnow(),
        resume_at=None,
        error=message,
        error_node=error.node_id if error else None,
    )
    if not ok:
        return None
    outcome = RunOutcome(ExecutionStatus.failed)
    if on_failure is not None:
        async with db.session() as session:
            failed = await session.get(Execution, execution_id)
            assert failed is not None
            follow_up = await on_failure(session, failed, message)
            await session.commit()
            if follow_up is not None:
                outcome.follow_ups.append(follow_up)
    return outcome


async def request_cancel(session: AsyncSession, execution: Execution) -> None:
    """Cancel now if nothing runs it; otherwise ask its process to stop at the next node."""
    if execution.status in (ExecutionStatus.pending, ExecutionStatus.waiting):
        execution.status = ExecutionStatus.cancelled
        execution.finished_at = utcnow()
        execution.error = "Cancelled."
    elif execution.status == ExecutionStatus.running:
        execution.cancel_requested = True
    await session.flush()


async def rerun_options(
    session: AsyncSession,
    earlier: Execution,
    definition: dict[str, Any],
    registry: NodeRegistry,
    from_node: str | None,
) -> dict[str, Any]:
    """Options to run again from `from_node`, reusing the outputs of every node of `earlier`
    that is not downstream of it (a retry passes the failed node)."""
    finished, _ = await committed_outputs(session, earlier.id)
    finished = {**(earlier.options or {}).get("finished", {}), **finished}
    if from_node:
        graph = compile_graph(definition, registry.find)
        for node_id in downstream_of(graph, from_node):
            finished.pop(node_id, None)
    options = {k: v for k, v in (earlier.options or {}).items() if k != "start"}
    options["finished"] = finished
    return options


async def prune(db: Database, *, max_age_days: int, max_count: int) -> int:
    """Delete finished executions older than `max_age_days` or beyond the newest `max_count`."""
    ended = Execution.status.in_(
        [ExecutionStatus.completed, ExecutionStatus.failed, ExecutionStatus.cancelled]
    )
    deleted = 0
    async with db.session() as session:
        if max_age_days:
            cutoff = utcnow() - timedelta(days=max_age_days)
            old = await session.execute(select(Execution.id).where(ended, Execution.created_at < cutoff))
            ids = list(old.scalars())
            deleted += await _delete(session, ids)
        if max_count:
            keep_after = (
                await session.execute(
                    select(Execution.id).where(ended).order_by(Execution.id.desc()).offset(max_count).limit(1)
                )
            ).scalar_one_or_none()
            if keep_after is not None:
                surplus = await session.execute(select(Execution.id).where(ended, Execution.id <= keep_after))
                deleted += await _delete(session, list(surplus.scalars()))
        await session.commit()
    return deleted


async def _delete(session: AsyncSession, ids: list[uuid.UUID]) -> int:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        await session.execute(delete(ExecutionLog).where(ExecutionLog.execution_id.in_(chunk)))
        await session.execute(
            update(Execution).where(Execution.parent_execution_id.in_(chunk)).values(parent_execution_id=None)
        )
        await session.execute(update(Execution).where(Execution.retry_of.in_(chunk)).values(retry_of=None))
        await session.execute(delete(Execution).where(Execution.id.in_(chunk)))
    return len(ids)
