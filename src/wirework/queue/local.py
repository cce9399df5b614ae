"""The local executor: an asyncio pool in the serve process, fed by submissions and by a poll
of the database (which also picks up work a dead process left behind and waits that are due).

Runs start oldest first: execution ids are UUID v7, ordered by when the work was accepted, so
work recovered from a dead process, or a wait that came due, goes ahead of newer submissions
instead of waiting for a lull in the load. A slot is given to the next run the moment a run
ends; when the database may hold more work than the last poll took (a full page, or a run
left pending by its workflow's max_concurrency), the end of a run polls again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.engine.executions import runnable_ids
from wirework.engine.models import ExecutionStatus

log = structlog.get_logger("wirework.executor")

RunOne = Callable[[uuid.UUID], Awaitable[Any]]


class LocalExecutor:
    runs_here = True  # what it is handed runs in this process, which says when it stops
    MIN_POLL_GAP = 0.02  # seconds between two polls, however often runs ending poke it

    def __init__(
        self,
        db: Database,
        run_one: RunOne,
        *,
        concurrency: int = 8,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.run_one = run_one
        self.poll_interval = poll_interval
        self._concurrency = concurrency
        self._ready: list[int] = []  # a heap of execution ids (as ints): the oldest runs first
        self._queued: set[uuid.UUID] = set()
        self._inflight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # set while fewer than `concurrency` are running or queued
        self._room.set()
        self._more_in_db = False  # the database may hold runnable work the last poll did not take
        self._stopping = False

    @property
    def running(self) -> int:
        """Executions running or queued here."""
        return len(self._inflight) + len(self._queued)

    def submit(self, execution_id: uuid.UUID) -> None:
        """Run an accepted execution soon. Safe to call twice: the claim decides."""
        if execution_id in self._inflight or execution_id in self._queued:
            return
        self._queued.add(execution_id)
        heapq.heappush(self._ready, execution_id.int)
        self._start_ready()

    def _start_ready(self) -> None:
        while self._ready and len(self._inflight) < self._concurrency and not self._stopping:
            execution_id = uuid.UUID(int=heapq.heappop(self._ready))
            self._queued.discard(execution_id)
            self._inflight[execution_id] = asyncio.create_task(self._run(execution_id))
        self._update_room()

    def _update_room(self) -> None:
        if self.running < self._concurrency:
            self._room.set()
        else:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Until fewer than `concurrency` executions are running or queued here."""
        await self._room.wait()

    async def _run(self, execution_id: uuid.UUID) -> None:
        ran = False
        try:
            outcome = await self.run_one(execution_id)
            status = getattr(outcome, "status", None)
            ran = status is not None and status != ExecutionStatus.pending
            if status == ExecutionStatus.pending:  # held back by max_concurrency: look again when a run ends
                self._more_in_db = True
            for follow_up in getattr(outcome, "follow_ups", None) or []:
                self.submit(follow_up)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_disconnect(exc):  # its lease runs out and a claim resumes it from its last node
                self.db.health.lost(exc, "run")
                log.warning(
                    "execution_interrupted", execution_id=str(execution_id), reason="database unreachable"
                )
            else:
                log.exception("execution_crashed", execution_id=str(execution_id))
        finally:
            self._inflight.pop(execution_id, None)
            self._start_ready()  # the slot goes to the next run now, not at the next poll
            if ran and self._more_in_db and len(self._ready) < self._concurrency:
                self._more_in_db = False
                self.poke()

    async def start(self) -> None:
        self._stopping = False
        self._poller = asyncio.create_task(self._poll())

    def poke(self) -> None:
        self._wake.set()

    async def _poll(self) -> None:
        page = self._concurrency * 2
        while True:
            await asyncio.sleep(self.MIN_POLL_GAP)  # pokes come at most this often
            try:
                # Always, even when every slot is busy: what it finds is older than what
                # submissions bring, so it runs first (the heap is ordered by id).
                found = await runnable_ids(self.db, page)
                new = [i for i in found if i not in self._inflight and i not in self._queued]
                for execution_id in new:
                    self.submit(execution_id)
                self._more_in_db = self._more_in_db or (len(found) == page and bool(new))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_disconnect(exc):  # said once per outage; the next poll tries again
                    self.db.health.lost(exc, "poll")
                else:
                    log.exception("executor_poll_failed")
            else:
                self.db.health.answered()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop polling and starting runs; let running executions finish for `grace` seconds,
        then hand them back (their leases expire and another process resumes them from their
        last finished node). Queued ones stay pending in the database for the next process."""
        self._stopping = True
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
        self._ready.clear()
        self._queued.clear()
        self._update_room()

    async def drain(self) -> None:
        """Wait until nothing is running or queued (tests, CLI); wrap in asyncio.timeout to bound it."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)
