"""Waiting for an execution to finish (webhooks that answer with the result).

In the process that ran it, the runtime hands waiters the final status at once; an execution
run by a worker elsewhere is noticed by polling its row, so waiting works in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from wirework.db.engine import Database
from wirework.engine import executions
from wirework.engine.models import ExecutionStatus

Waiter = asyncio.Future[ExecutionStatus | None]


def _settled(status: ExecutionStatus | None) -> bool:
    return status is not None and (status.finished or status == ExecutionStatus.waiting)


class Completions:
    def __init__(self, poll_interval: float = 0.05) -> None:
        self.poll_interval = poll_interval
        self._waiters: dict[uuid.UUID, list[Waiter]] = {}

    def expect(self, execution_id: uuid.UUID) -> Waiter:
        """A future this process resolves when it stops running the execution; take it before
        handing the execution to an executor, so a fast run cannot finish unseen."""
        waiter: Waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(waiter)
        return waiter

    def notify(self, execution_id: uuid.UUID, status: ExecutionStatus | None) -> None:
        """This process stopped running the execution, leaving it in `status` (None: unknown,
        e.g. another process had claimed it)."""
        for waiter in self._waiters.pop(execution_id, []):
            if not waiter.done():
                waiter.set_result(status)

    async def wait(
        self,
        db: Database,
        execution_id: uuid.UUID,
        seconds: float,
        expected: Waiter | None = None,
        *,
        runs_here: bool = False,
    ) -> ExecutionStatus | None:
        """The execution's status once it finished or waits; None if `seconds` passed first.

        `runs_here`: `expected` was taken before this process's own executor got the
        execution, so this process will say when it stops running it; the row is then read
        only if it stopped without settling (another process had claimed it). Otherwise the
        row is polled, at growing intervals, from the start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        delay = self.poll_interval / 8
        waiter = expected or self.expect(execution_id)
        try:
            if runs_here and expected is not None:
                with contextlib.suppress(TimeoutError):
                    told = await asyncio.wait_for(asyncio.shield(waiter), seconds)
                    if _settled(told):
                        return told
            while True:
                remaining = deadline - loop.time()
                with contextlib.suppress(TimeoutError):
                    told = await asyncio.wait_for(asyncio.shield(waiter), max(0.0, min(delay, remaining)))
                    if _settled(told):
                        return told
                found = await executions.status_of(db, execution_id)
                status = found[0] if found else None
                if found is None or _settled(status):
                    return status
                if loop.time() >= deadline:
                    return None
                if waiter.done():  # ran here but not to the end (handed back): poll on
                    waiter = self.expect(execution_id)
                delay = min(delay * 2, self.poll_interval * 4)
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[execution_id]
