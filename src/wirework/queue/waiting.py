"""Waiting for an execution to finish (webhooks that answer with the result, `run?wait_s`).

In the process that runs an execution, the runtime tells its waiters the final status at
once (`notify`). Executions that run elsewhere (on a worker, or on another serve process that
claimed it first) are watched by one poll per process: every `poll_interval` a single query
reads the status of all of them, however many calls wait.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass, field

import structlog

from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.engine import executions
from wirework.engine.models import ExecutionStatus

log = structlog.get_logger("wirework.waiting")

Waiter = asyncio.Future[ExecutionStatus | None]
POLL_BATCH = 500  # ids per status query


def _settled(status: ExecutionStatus | None) -> bool:
    return status is not None and (status.finished or status == ExecutionStatus.waiting)


@dataclass
class _Watch:
    """An execution whose row the poll reads: its future gets the settled status, or None if
    the row is gone; `waiters` counts the calls that still want it."""

    future: Waiter
    waiters: int = 0


@dataclass
class Completions:
    poll_interval: float = 0.02
    _waiters: dict[uuid.UUID, list[Waiter]] = field(default_factory=dict)
    _watched: dict[uuid.UUID, _Watch] = field(default_factory=dict)
    _poller: asyncio.Task[None] | None = None

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
        """The execution's status once it finished or waits; None if `seconds` passed first
        (or the execution does not exist).

        `runs_here`: `expected` was taken before this process's own executor got the
        execution, so this process will say when it stops running it, and the row is watched
        only if it stops without settling (another process had claimed it). Otherwise the
        row is watched from the start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        told = expected or self.expect(execution_id)
        watched = None if runs_here and expected is not None else self._watch(db, execution_id)
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                either = {told} if watched is None else {told, watched}
                done, _ = await asyncio.wait(either, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if watched is not None and watched in done:
                    return watched.result()
                if told in done:
                    if _settled(told.result()):
                        return told.result()
                    # It stopped here unsettled (claimed elsewhere, or handed back): watch the row.
                    told = self.expect(execution_id)
                    if watched is None:
                        watched = self._watch(db, execution_id)
        finally:
            self._forget(execution_id, told, watched)

    def _watch(self, db: Database, execution_id: uuid.UUID) -> Waiter:
        watch = self._watched.get(execution_id)
        if watch is None:
            watch = self._watched[execution_id] = _Watch(asyncio.get_running_loop().create_future())
        watch.waiters += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(db))
        return watch.future

    def _forget(self, execution_id: uuid.UUID, waiter: Waiter, watched: Waiter | None) -> None:
        waiters = self._waiters.get(execution_id)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[execution_id]
        watch = self._watched.get(execution_id)
        if watch is not None and watch.future is watched:
            watch.waiters -= 1
            if watch.waiters <= 0:
                del self._watched[execution_id]

    async def _poll(self, db: Database) -> None:
        """While anything is watched: read the watched rows' statuses, tell who waits."""
        while self._watched:
            await asyncio.sleep(self.poll_interval)
            ids = list(self._watched)
            for start in range(0, len(ids), POLL_BATCH):
                chunk = ids[start : start + POLL_BATCH]
                try:
                    found = await executions.read(db, functools.partial(executions.statuses_of, ids=chunk))
                except Exception as exc:  # the database is away for a moment: the next round asks again
                    if is_disconnect(exc):
                        db.health.lost(exc, "completions")
                    else:
                        log.warning("completion_poll_failed", exc_info=True)
                    continue
                for execution_id in chunk:
                    status = found.get(execution_id)
                    watch = self._watched.get(execution_id)
                    if watch is not None and (execution_id not in found or _settled(status)):
                        del self._watched[execution_id]
                        if not watch.future.done():
                            watch.future.set_result(status)
