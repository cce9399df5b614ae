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

    def expect(self, execution_id: uuid.UUID) -> asyncio.Future[None]:
        """A future this process resolves when it finishes running the execution; take it
        before handing the execution to an executor, so a fast run cannot finish unseen."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(waiter)
        return waiter

    def notify(self, execution_id: uuid.UUID) -> None:
        """This process stopped running the execution (finished, waiting, or handed back)."""
        for waiter in self._waiters.pop(execution_id, []):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(
        self,
        db: Database,
        execution_id: uuid.UUID,
        seconds: float,
        expected: asyncio.Future[None] | None = None,
    ) -> ExecutionStatus | None:
        """The execution's status once it finished or waits; None if `seconds` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        delay = self.poll_interval / 8
        waiter = expected or self.expect(execution_id)
        try:
            while True:
                remaining = deadline - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), max(0.0, min(delay, remaining)))
                async with db.session() as session:
                    state = (
                        await session.execute(select(Execution.status).where(Execution.id == execution_id))
                    ).scalar_one_or_none()
                if state is None or state.finished or state == ExecutionStatus.waiting:
                    return state
                if loop.time() >= deadline:
                    return None
                if waiter.done():  # run here but not finished (lease lost, handed back): poll on
                    waiter = self.expect(execution_id)
                delay = min(delay * 2, self.poll_interval * 4)
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[execution_id]
