"""The local executor: an asyncio pool in the serve process, fed by submissions and by a poll
of the database (which also picks up work a dead process left behind and waits that are due)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog

from wirework.db.engine import Database
from wirework.engine.executions import runnable_ids

log = structlog.get_logger("wirework.executor")

RunOne = Callable[[uuid.UUID], Awaitable[Any]]
Housekeeping = Callable[[], Awaitable[Any]]


class LocalExecutor:
    runs_here = True  # what it is handed runs in this process, which says when it stops

    def __init__(
        self,
        db: Database,
        run_one: RunOne,
        *,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        housekeeping: Housekeeping | None = None,
        housekeeping_interval: timedelta = timedelta(minutes=10),
    ) -> None:
        self.db = db
        self.run_one = run_one
        self.poll_interval = poll_interval
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval.total_seconds()
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._inflight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def running(self) -> int:
        return len(self._inflight)

    def submit(self, execution_id: uuid.UUID) -> None:
        """Run an accepted execution soon. Safe to call twice: the claim decides."""
        if execution_id in self._inflight:
            return
        self._inflight[execution_id] = asyncio.create_task(self._run(execution_id))

    async def _run(self, execution_id: uuid.UUID) -> None:
        try:
            async with self._slots:
                outcome = await self.run_one(execution_id)
            for follow_up in getattr(outcome, "follow_ups", None) or []:
                self.submit(follow_up)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("execution_crashed", execution_id=str(execution_id))
        finally:
            self._inflight.pop(execution_id, None)

    async def start(self) -> None:
        self._poller = asyncio.create_task(self._poll())

    def poke(self) -> None:
        self._wake.set()

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time()
        while True:
            try:
                free = self._concurrency - len(self._inflight)
                if free > 0:
                    for execution_id in await runnable_ids(self.db, free * 2):
                        self.submit(execution_id)
                if self.housekeeping and loop.time() >= next_housekeeping:
                    next_housekeeping = loop.time() + self.housekeeping_interval
                    await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("executor_poll_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling; let running executions finish for `grace` seconds, then hand them back
        (their leases expire and another process resumes them from their last finished node)."""
        if self._poller:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        tasks = list(self._inflight.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until nothing is in flight (tests, CLI); wrap in asyncio.timeout to bound it."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)
