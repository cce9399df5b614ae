"""Waiting for an execution to finish (webhooks that answer with the result, `run?wait_s=`).

In the process that ran it, the runtime wakes waiters at once; an execution run by a worker
elsewhere is noticed by polling its row, so waiting works the same in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from sqlalchemy import select

from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionStatus


class Completions:
    def __init__(self, poll_interval: float = 0.05) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[uuid.UUID, list[asyncio.Future[None]]] = {}

    def notify(self, execution_id: uuid.UUID) -> None:
        """This process finished running the execution (or stopped: the waiter re-reads it)."""
        for waiter in self._waiters.pop(execution_id, []):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, db: Database, execution_id: uuid.UUID, seconds: float) -> ExecutionStatus | None:
        """The execution's status once it finished or waits; None if `seconds` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        delay = self.poll_interval / 8
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(execution_id, []).append(waiter)
            async with db.session() as session:
                state = (
                    await session.execute(select(Execution.status).where(Execution.id == execution_id))
                ).scalar()
            if state is None or state.finished or state == ExecutionStatus.waiting:
                self._discard(execution_id, waiter)
                return state
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._discard(execution_id, waiter)
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, min(delay, remaining))
            self._discard(execution_id, waiter)
            delay = min(delay * 2, self.poll_interval * 4)

    def _discard(self, execution_id: uuid.UUID, waiter: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(execution_id)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[execution_id]
