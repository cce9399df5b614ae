"""Waiting for executions: told at once when this process runs them, and otherwise noticed by
the one shared poll of their rows (what a worker, or another serve process, changes)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import update

from tests.support.workflows import TRIGGER, chain, pending_executions
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionStatus
from wirework.engine.nodes import NodeRegistry
from wirework.nodes import load_builtin_nodes
from wirework.queue.waiting import Completions


async def _set_status(db: Database, execution_id: uuid.UUID, status: ExecutionStatus) -> None:
    """What another process does when it finishes the execution."""
    async with db.session() as session:
        await session.execute(update(Execution).where(Execution.id == execution_id).values(status=status))
        await session.commit()


async def _pending(db: Database, count: int) -> list[uuid.UUID]:
    return await pending_executions(db, chain(TRIGGER), load_builtin_nodes(NodeRegistry()), count)


async def test_executions_finished_elsewhere_are_seen_by_the_shared_poll(db: Database) -> None:
    ids = await _pending(db, 20)
    completions = Completions(poll_interval=0.01)
    waits = [asyncio.ensure_future(completions.wait(db, execution_id, 10)) for execution_id in ids]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waits)  # still pending: nobody is told yet
    for n, execution_id in enumerate(ids):
        await _set_status(db, execution_id, ExecutionStatus.failed if n % 2 else ExecutionStatus.completed)
    statuses = await asyncio.wait_for(asyncio.gather(*waits), 5)
    assert statuses == [ExecutionStatus.failed if n % 2 else ExecutionStatus.completed for n in range(20)]
    assert not completions._watched  # nothing left for the poll to read


async def test_a_wait_ends_at_its_deadline_and_unknown_executions_answer_none(db: Database) -> None:
    [execution_id] = await _pending(db, 1)
    completions = Completions(poll_interval=0.01)
    assert await completions.wait(db, execution_id, 0.1) is None  # still pending after 0.1 s
    assert await completions.wait(db, uuid.uuid4(), 5) is None  # no such row: at the first poll
    assert not completions._watched and not completions._waiters


async def test_runs_here_is_told_without_reading_and_watches_when_another_process_took_it(
    db: Database,
) -> None:
    first, second = await _pending(db, 2)
    completions = Completions(poll_interval=3600)  # a poll would never come in time
    told = completions.expect(first)
    waiting = asyncio.ensure_future(completions.wait(db, first, 5, told, runs_here=True))
    await asyncio.sleep(0)
    completions.notify(first, ExecutionStatus.completed)
    assert await waiting == ExecutionStatus.completed  # the row still says pending: it was not read

    completions.poll_interval = 0.01
    told = completions.expect(second)
    waiting = asyncio.ensure_future(completions.wait(db, second, 5, told, runs_here=True))
    await asyncio.sleep(0)
    completions.notify(second, None)  # our claim lost: another process runs it
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await _set_status(db, second, ExecutionStatus.completed)
    assert await asyncio.wait_for(waiting, 5) == ExecutionStatus.completed
