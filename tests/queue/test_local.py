"""The local executor: work recovered from a dead process does not wait for the load to stop,
and a slot that frees goes to waiting work at once, not at the next poll."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import update

from tests.support.workflows import TRIGGER, chain, node, pending_executions
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine import executions
from wirework.engine.items import NodeOutputs
from wirework.engine.models import Execution, ExecutionStatus, TriggerType
from wirework.engine.nodes import Node, NodeContext, NodeRegistry
from wirework.nodes import load_builtin_nodes
from wirework.queue.local import LocalExecutor
from wirework.security.vault import Vault
from wirework.workflows import runtime


class Work(Node):
    """A little work, so that runs overlap."""

    type = "test.work"
    display_name = "Work"
    category = "Test"
    seconds: ClassVar[float] = 0.05

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        await asyncio.sleep(Work.seconds)
        return {"main": ctx.items}


def _registry() -> NodeRegistry:
    registry = load_builtin_nodes(NodeRegistry())
    registry.register(Work)
    return registry


@pytest.fixture
def platform(db: Database) -> runtime.Platform:
    return runtime.Platform(db=db, registry=_registry(), vault=Vault("q" * 40), owner=executions.process_id())


def _executor(db: Database, platform: runtime.Platform, **options: Any) -> LocalExecutor:
    return LocalExecutor(db, lambda execution_id: runtime.run(platform, execution_id), **options)


async def _statuses(db: Database, ids: list[uuid.UUID]) -> list[ExecutionStatus]:
    found = await executions.read(db, lambda connection: executions.statuses_of(connection, ids))
    return [found[i] for i in ids]


async def _all_completed(db: Database, ids: list[uuid.UUID]) -> None:
    while set(await _statuses(db, ids)) != {ExecutionStatus.completed}:
        await asyncio.sleep(0.02)


async def test_runs_orphaned_by_a_dead_process_do_not_wait_for_the_load_to_stop(
    db: Database, platform: runtime.Platform
) -> None:
    definition = chain(TRIGGER, node("work", "test.work"))
    orphans = await pending_executions(db, definition, _registry(), count=3)
    async with db.session() as session:  # claimed by a process just killed: their leases run out soon
        await session.execute(
            update(Execution)
            .where(Execution.id.in_(orphans))
            .values(
                status=ExecutionStatus.running,
                lease_owner="killed-process",
                lease_expires_at=utcnow() + timedelta(seconds=0.5),
                started_at=utcnow(),
            )
        )
        await session.commit()
        sample = await session.get(Execution, orphans[0])
        assert sample is not None
    executor = _executor(db, platform, concurrency=2, poll_interval=0.05)
    await executor.start()
    submitted = 0
    try:
        while set(await _statuses(db, orphans)) != {ExecutionStatus.completed}:
            assert submitted < 300, "the orphans waited for the end of the load"
            while executor.running < 6:  # sustained load: every slot busy, more waiting
                new = await executions.accept(
                    db,
                    org_id=sample.org_id,
                    workflow_id=sample.workflow_id,
                    version_id=sample.version_id,
                    trigger_type=TriggerType.webhook,
                    input_items=[{}],
                    options={},
                )
                executor.submit(new)
                submitted += 1
            await asyncio.sleep(0.01)
        assert executor.running >= 2  # the load was still on when the last orphan completed
    finally:
        await executor.stop(grace=5)


async def test_a_backlog_starts_as_slots_free_without_waiting_for_the_poll(
    db: Database, platform: runtime.Platform
) -> None:
    ids = await pending_executions(db, chain(TRIGGER, node("work", "test.work")), _registry(), count=30)
    executor = _executor(db, platform, concurrency=2, poll_interval=3600)  # one poll, at the start
    await executor.start()
    try:
        async with asyncio.timeout(30):
            await _all_completed(db, ids)
    finally:
        await executor.stop(grace=5)


async def test_a_run_held_back_by_max_concurrency_starts_when_the_run_before_it_ends(
    db: Database, platform: runtime.Platform
) -> None:
    definition = chain(TRIGGER, node("work", "test.work"))
    definition["settings"] = {"max_concurrency": 1}
    ids = await pending_executions(db, definition, _registry(), count=3)
    executor = _executor(db, platform, concurrency=4, poll_interval=3600)
    await executor.start()
    for execution_id in ids:
        executor.submit(execution_id)
    try:
        async with asyncio.timeout(30):
            await _all_completed(db, ids)
    finally:
        await executor.stop(grace=5)


async def test_work_is_started_oldest_first(db: Database, platform: runtime.Platform) -> None:
    ids = await pending_executions(db, chain(TRIGGER, node("work", "test.work")), _registry(), count=6)
    started: list[uuid.UUID] = []

    async def run_one(execution_id: uuid.UUID) -> Any:
        started.append(execution_id)
        return await runtime.run(platform, execution_id)

    executor = LocalExecutor(db, run_one, concurrency=1, poll_interval=3600)
    for execution_id in reversed(ids):  # submitted newest first, while the only slot is busy
        executor.submit(execution_id)
    await executor.drain()
    assert started[0] == ids[-1] and started[1:] == ids[:-1]
