"""Durable executions: accept, claim with a lease, run node by node with every finished node
committed before its successors start, resume after a crash, cancel, retry.

This is the one place where an execution changes state. A process owns a running execution
only while its lease holds. Node records are written in transactions that renew the lease
once a third of it has passed (`_Lease`): until then nobody else can claim the execution,
and after that a record is written only together with a successful renewal, so a process
that lost its lease (and whose work another process took over) cannot record a node twice.

The hot path (claim, node records, heartbeats, the final transition) goes through a group
commit: one writer per database and process collects the writes of every running execution
and commits them together, and each execution waits for the commit holding its own write
before it goes on. Writes stay atomic per execution (a lost lease skips only that
execution's write); what is shared is the transaction and its commit. See
docs/decisions/0002-durable-executions.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import random
import socket
import sqlite3
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import structlog
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from wirework.db.engine import Database, WriteLock, sqlite_pragmas
from wirework.db.health import Backoff, is_conflict, is_disconnect
from wirework.db.types import utcnow, uuid7
from wirework.engine import payloads, retention
from wirework.engine.definition import NodeSpec
from wirework.engine.errors import DefinitionInvalid, NodeError, NodeFailure
from wirework.engine.graph import Graph, compile_graph, downstream_of
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus, TriggerType
from wirework.engine.nodes import Node, NodeContext, NodeRegistry
from wirework.engine.runner import NodeStatus, RunHooks, run_workflow

log = structlog.get_logger("wirework.executions")

# input_data is a preview (payloads.preview); outputs are kept whole, large items stored once
# (payloads.ItemStore): resume starts from them.
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


# Reads the definition, workflow info, variables and services for an execution, with plain
# statements inside the claim's transaction: no session, no round trip of its own. It must
# only read (a failed batch runs it again).
ContextReader = Callable[[Connection, Execution], RunContext]


@dataclass
class RunOutcome:
    status: ExecutionStatus
    follow_ups: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExecutionLimits:
    """Bounds set by the operator (settings.py): how long and how wide a causal chain of runs
    may grow, and how often an execution may crash while starting before it is failed."""

    chain_max_depth: int = 10
    """Links from a chain's first run (a root) to the deepest run it leads to."""
    chain_max_runs: int = 1000
    """Runs one root's chain may start in all (sub-workflows, events, error workflows)."""
    max_claim_failures: int = 3
    """Claims that ended without progress (a crash, a killed process) before it is failed."""


@dataclass(frozen=True, slots=True)
class Cause:
    """The run that starts another (a sub-workflow call, an event it caused, its error
    workflow) and the limits of their chain: `insert_pending` links the new run to it."""

    execution: Execution
    limits: ExecutionLimits


@dataclass(slots=True)
class Ended:
    """A run that ended completed or failed, for `run_execution`'s `on_end`."""

    execution: Execution
    status: ExecutionStatus
    error: str | None = None
    error_node: str | None = None
    limits: ExecutionLimits = field(default_factory=ExecutionLimits)

    @property
    def cause(self) -> Cause:
        """This run as the cause of what its end starts."""
        return Cause(self.execution, self.limits)


EndHook = Callable[[Connection, Ended], list[uuid.UUID]]
"""What a run's end starts (its events, its error workflow): plain statements in the
transaction that records the end, so a crash can neither lose it nor start it twice. Returns
the executions it accepted (`insert_pending`); it must only write through the connection (a
failed batch runs it again)."""


# --------------------------------------------------------------------------- group commit

Job = Callable[[Connection], Any]
"""A unit of writing: statements on a connection inside the writer's transaction. It must
not touch anything but the database: a failed batch runs it again, alone."""


class _Writer:
    """Runs the writes of all executions of one database in shared transactions.

    Jobs queue up while a batch commits; the next batch takes all of them. There is no
    timer: under load batches grow by themselves, and a lone write goes out at once. A lane
    is a task that takes batches while jobs keep coming, then ends, so nothing needs
    starting or stopping. SQLite has one lane (it has one writer anyway, see
    `_SqliteLane`); PostgreSQL and MySQL have a few, each on a pooled connection, because
    there a commit waits for the server's disk and concurrent commits share that wait.

    When the server is unreachable or drops the connection before a batch commits
    (`db.health.is_disconnect`), nothing of it was written: its jobs wait and are sent again
    on a new connection, with back-off, until the server answers or a job has waited
    `db.outage_wait_s` (then it fails with the error). A restart of the database thus pauses
    the executions instead of failing them, and they go on the moment it answers. A commit
    that fails is not retried: whether it happened is unknown.
    """

    SERVER_LANES = 4

    def __init__(self, db: Database) -> None:
        self.async_engine = db.engine  # not `db`: the registry of writers holds `db` weakly
        self.health = db.health
        self.outage_wait_s = db.outage_wait_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: list[_Entry] = []
        self.running = 0  # lanes: tasks that take batches off the queue while there are any
        self.coming = 0  # lanes about to look at the queue; new jobs will be theirs
        url = make_url(db.url)
        self.sqlite = (
            _SqliteLane(
                url.set(drivername="sqlite+pysqlite").render_as_string(hide_password=False), db.write_lock
            )
            if url.drivername == "sqlite+aiosqlite" and url.database not in (None, "", ":memory:")
            else None
        )
        self.lanes = 1 if self.sqlite is not None else self.SERVER_LANES

    async def run(self, job: Job) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # a new event loop (tests): the old one's queue is gone
            self.loop, self.queue, self.running, self.coming = loop, [], 0, 0
        future: asyncio.Future[Any] = loop.create_future()
        self.queue.append(_Entry(job, future, loop.time()))
        self._start_lane(loop)
        return await future

    def _start_lane(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.queue and not self.coming and self.running < self.lanes:
            self.running += 1
            self.coming += 1
            loop.create_task(self._lane(loop))

    async def _lane(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            if self.sqlite is not None:
                await self._take_batches(self.sqlite.commit)
                return
            connection: AsyncConnection | None = None  # held while work keeps coming

            async def commit(jobs: list[Job]) -> list[tuple[bool | None, Any]]:
                nonlocal connection
                try:
                    if connection is None:
                        connection = await self.async_engine.connect().start()
                    results: list[tuple[bool | None, Any]] = await connection.run_sync(_run_batch, jobs)
                except Exception as exc:
                    if not is_disconnect(exc):
                        raise
                    results = [(None, exc)] * len(jobs)  # not sent, or rolled back with the connection
                if connection is not None and any(ok is None for ok, _ in results):
                    await _discard(connection)  # the next try connects anew (the pool pings it)
                    connection = None
                return results

            try:
                await self._take_batches(commit)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):  # lost with the server: nothing to give back
                        await connection.close()
        finally:
            if self.loop is loop:
                self.running -= 1
                self.coming -= 1
                self._start_lane(loop)  # jobs queued while this lane gave its connection back

    async def _take_batches(self, commit: Commit) -> None:
        while True:
            batch, self.queue = self.queue, []
            batch = [entry for entry in batch if not entry.future.cancelled()]
            if not batch:
                return  # still `coming`: the finally of `_lane` settles the counts
            self.coming -= 1
            await self._commit(batch, commit)
            self.coming += 1
            await asyncio.sleep(0)  # the executions just woken queue their next writes first

    async def _commit(self, batch: list[_Entry], commit: Commit) -> None:
        """Commit `batch` and tell each job its outcome; jobs that were not written because
        the database was away are sent again (with back-off) until it answers or they have
        waited `outage_wait_s`, or their callers stopped waiting."""
        backoff: Backoff | None = None
        while True:
            try:
                results = await commit([entry.job for entry in batch])
            except Exception as exc:  # the commit failed: its outcome is unknown, tell all
                if is_disconnect(exc):
                    self.health.lost(exc, "commit")
                results = [(False, exc)] * len(batch)
            else:
                if any(ok is not None for ok, _ in results):
                    self.health.answered()
            now = asyncio.get_running_loop().time()
            again: list[_Entry] = []
            lost = next((value for ok, value in results if ok is None), None)
            if lost is not None:
                self.health.lost(lost, "write")
            for entry, (ok, value) in zip(batch, results, strict=True):
                if ok is not None:
                    _settle(entry.future, ok, value)
                    continue
                if entry.future.done():  # its caller stopped waiting (a webhook answered 503)
                    continue
                if now - entry.since >= self.outage_wait_s:
                    _settle(entry.future, False, value)
                else:
                    again.append(entry)
            if not again:
                return
            batch = again
            backoff = backoff or Backoff(first=0.05, cap=1.0)  # back within a second of the server
            await asyncio.sleep(backoff.next())


Commit = Callable[[list[Job]], Awaitable[list[tuple[bool | None, Any]]]]
"""Runs jobs in one batch: per job (True, value), (False, error), or (None, error) when it was
not written because the connection was lost (safe to run again)."""


@dataclass(slots=True)
class _Entry:
    job: Job
    future: asyncio.Future[Any]
    since: float  # loop time it was queued


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def _discard(connection: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()


class _SqliteLane:
    """SQLite writes without thread hops: a batch runs on the event loop, on one plain
    `sqlite3` connection.

    In WAL mode with synchronous=NORMAL a commit only appends to the WAL (no fsync), so a
    batch costs what its statements cost in the library, well under a millisecond; going
    through aiosqlite instead costs several thread hops per statement, which is most of
    the time of a small execution. The loop must never wait for a lock, though: this
    connection has no busy timeout, and when another connection holds the write lock the
    batch is run in a thread of its own that waits. Transactions begin IMMEDIATE, so the
    lock is taken before any job runs. Checkpoints (which fsync) also run in that thread.
    """

    CHECKPOINT_EVERY = 200  # commits; about what SQLite's own 1,000-page autocheckpoint does

    def __init__(self, url: str, write_lock: WriteLock) -> None:
        self.write_lock = write_lock  # the turns this process's SQLite writers take (db.engine)
        self.engine = create_engine(url, pool_size=2, max_overflow=0)
        event.listen(self.engine, "connect", _sqlite_writer_connect)
        event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="wirework-sqlite-writer")
        self.inline: Connection | None = None
        self.commits = 0
        self.checkpointing = False
        weakref.finalize(self, _close_sqlite_lane, self.thread, self.engine)

    async def commit(self, jobs: list[Job]) -> list[tuple[bool | None, Any]]:
        loop = asyncio.get_running_loop()
        async with self.write_lock.held():  # a session of this process may be half-way through a write
            try:
                results = _run_batch(self._inline(), jobs)
            except (OperationalError, sqlite3.OperationalError) as exc:  # BEGIN raises the driver's
                if not _is_busy(exc):
                    self._drop_inline()
                    raise
                assert self.inline is not None
                with contextlib.suppress(Exception):
                    self.inline.rollback()
                # another process writes: wait for it in the thread, not on the event loop
                results = await loop.run_in_executor(self.thread, _run_batch_in, self.engine, jobs)
        self.commits += 1
        if self.commits % self.CHECKPOINT_EVERY == 0 and not self.checkpointing:
            self.checkpointing = True
            loop.run_in_executor(self.thread, _checkpoint, self.engine).add_done_callback(self._checkpointed)
        return results

    def _inline(self) -> Connection:
        if self.inline is None:
            connection = self.engine.connect()
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout=0")  # never block the event loop
            raw.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in the thread
            self.inline = connection
        return self.inline

    def _drop_inline(self) -> None:
        if self.inline is not None:
            with contextlib.suppress(Exception):
                self.inline.invalidate()
            self.inline = None

    def _checkpointed(self, future: asyncio.Future[Any]) -> None:
        self.checkpointing = False
        if not future.cancelled() and future.exception() is not None:
            log.warning("sqlite_checkpoint_failed", error=str(future.exception()))


def _is_busy(exc: Exception) -> bool:
    error = getattr(exc, "orig", exc)
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _checkpoint(engine: Engine) -> None:
    raw = engine.raw_connection()  # outside SQLAlchemy's transaction: a checkpoint cannot run in one
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    finally:
        raw.close()


def _run_batch_in(engine: Engine, jobs: Sequence[Job]) -> list[tuple[bool | None, Any]]:
    with engine.connect() as connection:
        return _run_batch(connection, jobs)


def _run_batch(connection: Connection, jobs: Sequence[Job]) -> list[tuple[bool | None, Any]]:
    """All jobs in one transaction; if one raises, each again in its own, so only it fails.
    A failing commit raises: whether it happened is unknown, so nothing is run twice. Jobs
    the connection was lost before (`is_disconnect`) were not written: (None, error), to be
    sent again."""
    try:
        transaction = connection.begin()
    except Exception as exc:
        if is_disconnect(exc):
            return [(None, exc)] * len(jobs)
        raise
    try:
        results: list[tuple[bool | None, Any]] = [(True, job(connection)) for job in jobs]
    except Exception as exc:
        lost = is_disconnect(exc)
        with _quiet_if(lost):
            transaction.rollback()
        if lost:
            return [(None, exc)] * len(jobs)
        if len(jobs) == 1:
            return [(False, exc)]
        results = []
        for done, job in enumerate(jobs):
            ok, value = _run_alone(connection, job)
            if ok is None:  # the connection is gone: this job and the rest were not written
                return results + [(None, value)] * (len(jobs) - done)
            results.append((ok, value))
        return results
    transaction.commit()
    return results


def _run_alone(connection: Connection, job: Job) -> tuple[bool | None, Any]:
    try:
        transaction = connection.begin()
    except Exception as exc:
        if is_disconnect(exc):
            return None, exc
        raise
    try:
        value = job(connection)
    except Exception as exc:
        lost = is_disconnect(exc)
        with _quiet_if(lost):
            transaction.rollback()
        return (None if lost else False), exc
    transaction.commit()
    return True, value


def _quiet_if(lost: bool) -> contextlib.AbstractContextManager[Any]:
    """A rollback on a lost connection may fail too; nothing is left to roll back then."""
    return contextlib.suppress(Exception) if lost else contextlib.nullcontext()


def _sqlite_writer_connect(dbapi_connection: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below starts transactions


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


def _close_sqlite_lane(thread: ThreadPoolExecutor, engine: Engine) -> None:
    thread.shutdown(wait=False)
    engine.dispose()


_writers: weakref.WeakKeyDictionary[Database, _Writer] = weakref.WeakKeyDictionary()


async def _write(db: Database, job: Job) -> Any:
    """Run `job` in the next group commit of `db`; its result once that commit is durable."""
    return await _writer_of(db).run(job)


def _writer_of(db: Database) -> _Writer:
    writer = _writers.get(db)
    if writer is None:
        writer = _writers[db] = _Writer(db)
    return writer


async def write_long(db: Database, job: Job) -> Any:
    """Run `job`, a write that may take tens of milliseconds (a retention batch), in its own
    transaction. On SQLite the group commit runs on the event loop, where such a job would
    stall every request; this one runs in the writer's thread instead, under the process's
    write lock, so it still takes its turn with the executions' writes. Elsewhere it is one
    more job of the group commit (each lane has its own connection)."""
    writer = _writer_of(db)
    lane = writer.sqlite
    if lane is None:
        return await writer.run(job)
    loop = asyncio.get_running_loop()
    async with lane.write_lock.held():
        [(ok, value)] = await loop.run_in_executor(lane.thread, _run_batch_in, lane.engine, [job])
    if not ok:
        raise value
    return value


async def write(db: Database, job: Job) -> Any:
    """Run `job` (plain statements) in the next group commit of `db`: durable when this
    returns its result. For writes on hot paths outside the engine (a webhook call's accept
    with its idempotency key). It may run again if its batch fails, the connection is lost or
    the database rolled it back to break a deadlock, so it must touch nothing but the database."""
    for attempt in range(_CONFLICT_TRIES):
        try:
            return await _write(db, job)
        except Exception as exc:
            if attempt == _CONFLICT_TRIES - 1 or not is_conflict(exc):
                raise
            await asyncio.sleep(0.01 * (attempt + 1) * (1 + random.random()))  # noqa: S311 - jitter
    raise AssertionError("unreachable")


_CONFLICT_TRIES = 4


T = TypeVar("T")


async def read(db: Database, fn: Callable[[Connection], T]) -> T:
    """Run `fn` (plain statements that only read) in the next batch of the group commit. On
    SQLite that is on the event loop with no thread hop, so a small read costs tens of µs
    instead of a session's round trips. It may run twice if its batch fails."""
    result: T = await _write(db, fn)
    return result


# ------------------------------------------------------------------------------ statements
# Built once: each call only binds values, and SQLAlchemy's compiled-statement cache hits.

_EXECUTIONS = cast(Table, Execution.__table__)
_LOGS = cast(Table, ExecutionLog.__table__)
_WORKFLOWS = table("workflows", column("id", Uuid()))  # the workflows package owns it; only its id here
_TIME = _EXECUTIONS.c.lease_expires_at.type


def _claimable(now: Any) -> Any:
    columns = _EXECUTIONS.c
    return or_(
        columns.status == ExecutionStatus.pending,
        and_(columns.status == ExecutionStatus.running, columns.lease_expires_at < now),
        and_(columns.status == ExecutionStatus.waiting, columns.resume_at <= now),
    )


_ABANDONED = and_(_EXECUTIONS.c.status == ExecutionStatus.running, _EXECUTIONS.c.lease_owner.is_not(None))
"""Of a claimable row: its process stopped renewing the lease without ending the run or
handing it back (it crashed, was killed, or froze). A claim that finds this counts it."""

_CLAIM = (
    update(_EXECUTIONS)
    .where(
        _EXECUTIONS.c.id == bindparam("execution_id"),
        _claimable(bindparam("now", type_=_TIME)),
        _EXECUTIONS.c.cancel_requested.is_(False),
    )
    .ordered_values(  # claim_failures first: MySQL evaluates SET left to right on the new values
        (_EXECUTIONS.c.claim_failures, _EXECUTIONS.c.claim_failures + case((_ABANDONED, 1), else_=0)),
        (_EXECUTIONS.c.status, ExecutionStatus.running),
        (_EXECUTIONS.c.lease_owner, bindparam("owner")),
        (_EXECUTIONS.c.lease_expires_at, bindparam("until", type_=_TIME)),
        (_EXECUTIONS.c.started_at, func.coalesce(_EXECUTIONS.c.started_at, bindparam("now", type_=_TIME))),
    )
)
_CLAIM_RETURNING = _CLAIM.returning(*_EXECUTIONS.c)
_RENEW = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"), _EXECUTIONS.c.lease_owner == bindparam("owner"))
    .values(lease_expires_at=bindparam("until", type_=_TIME))
)
_ROW = select(_EXECUTIONS).where(_EXECUTIONS.c.id == bindparam("execution_id"))
_CANCEL_REQUESTED = select(_EXECUTIONS.c.cancel_requested).where(
    _EXECUTIONS.c.id == bindparam("execution_id")
)
_OUTPUTS = (
    select(_LOGS.c.id, _LOGS.c.node_id, _LOGS.c.status, _LOGS.c.output_data)
    .where(_LOGS.c.execution_id == bindparam("execution_id"), _LOGS.c.superseded.is_(False))
    .order_by(_LOGS.c.id)
)
_SUPERSEDE = (
    update(_LOGS)
    .where(
        _LOGS.c.execution_id == bindparam("execution_id"),
        _LOGS.c.node_id.in_(bindparam("node_ids", expanding=True)),
    )
    .values(superseded=True)
)
_RECORD = insert(_LOGS)
_RECORD_END = (  # the end of a node run whose start was recorded (at_most_once)
    update(_LOGS)
    .where(_LOGS.c.id == bindparam("row_id"))
    .values(
        attempt=bindparam("end_attempt"),
        status=bindparam("end_status", type_=_LOGS.c.status.type),
        finished_at=bindparam("end_finished_at", type_=_LOGS.c.finished_at.type),
        output_data=bindparam("end_output_data", type_=_LOGS.c.output_data.type),
        item_count=bindparam("end_item_count"),
        error=bindparam("end_error"),
    )
)
_ACCEPT = insert(_EXECUTIONS)
_COUNT_RUN = (
    update(_EXECUTIONS)
    .where(
        _EXECUTIONS.c.id == bindparam("root_id", type_=Uuid()),
        _EXECUTIONS.c.spawned_runs < bindparam("most"),
    )
    .values(spawned_runs=_EXECUTIONS.c.spawned_runs + 1)
)
_EXISTS = select(_EXECUTIONS.c.id).where(_EXECUTIONS.c.id == bindparam("execution_id", type_=Uuid()))
_PROGRESSED = (  # a run that was claimed after crashes moved on: its count starts again
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"), _EXECUTIONS.c.lease_owner == bindparam("owner"))
    .values(claim_failures=0, error=None)
)
_CRASH_NOTED = (  # the run crashed in this process: say why; the lease runs out, a claim counts it
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"), _EXECUTIONS.c.lease_owner == bindparam("owner"))
    .values(error=bindparam("crash"))
)
_CLAIM_CRASHED = (  # the claim's own transaction crashed (and rolled back): count it apart
    update(_EXECUTIONS)
    .where(
        _EXECUTIONS.c.id == bindparam("execution_id"),
        _claimable(bindparam("now", type_=_TIME)),
        _EXECUTIONS.c.cancel_requested.is_(False),
    )
    .values(claim_failures=_EXECUTIONS.c.claim_failures + 1, error=bindparam("crash"))
)
_CLAIM_FAILURES = select(_EXECUTIONS.c.claim_failures).where(_EXECUTIONS.c.id == bindparam("execution_id"))
_GIVE_UP = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"))
    .values(
        status=ExecutionStatus.failed,
        finished_at=bindparam("now", type_=_TIME),
        resume_at=None,
        lease_owner=None,
        lease_expires_at=None,
        error=bindparam("reason"),
    )
)


@functools.cache
def _finish_statement(columns: tuple[str, ...]) -> Any:
    return (
        update(_EXECUTIONS)
        .where(_EXECUTIONS.c.id == bindparam("execution_id"), _EXECUTIONS.c.lease_owner == bindparam("owner"))
        .values(
            status=bindparam("new_status", type_=_EXECUTIONS.c.status.type),
            lease_owner=None,
            lease_expires_at=None,
            **{name: bindparam(f"set_{name}", type_=_EXECUTIONS.c[name].type) for name in columns},
        )
    )


# ----------------------------------------------------------------------------------- jobs


def _renewed(connection: Connection, execution_id: uuid.UUID, owner: str, lease: timedelta) -> bool:
    """Renew our lease inside the batch's transaction; False if it is no longer ours."""
    result = connection.execute(
        _RENEW, {"execution_id": execution_id, "owner": owner, "until": utcnow() + lease}
    )
    return bool(result.rowcount == 1)


class _Lease:
    """Our hold on a running execution. Claims by others need it expired, so for a third of
    its length after a renewal it is surely ours and a write need not renew it; after that a
    write renews it in its own transaction, and writes nothing if it is no longer ours.
    Times are this process's monotonic clock, taken before each write is sent (earlier than
    the database's expiry is computed, so the estimate errs on the side of renewing)."""

    def __init__(self, execution_id: uuid.UUID, owner: str, length: timedelta, since: float) -> None:
        self.execution_id, self.owner, self.length = execution_id, owner, length
        self.renewed_at = since

    def due(self) -> bool:
        return time.monotonic() - self.renewed_at >= self.length.total_seconds() / 3

    def kept(self, connection: Connection, renew: bool) -> bool:
        """Inside a write: renew when `renew` (decided when the write was sent), or when a
        renewal came due while the write waited (a database outage holds writes back until
        it answers); whether the lease is (still) ours."""
        if not renew and not self.due():
            return True
        return _renewed(connection, self.execution_id, self.owner, self.length)

    def renewed(self, sent_at: float) -> None:
        """A renewal sent at `sent_at` was committed."""
        self.renewed_at = max(self.renewed_at, sent_at)


def _claimed(connection: Connection, execution_id: uuid.UUID, owner: str, lease: timedelta) -> bool:
    now = utcnow()
    result = connection.execute(
        _CLAIM, {"execution_id": execution_id, "owner": owner, "now": now, "until": now + lease}
    )
    return bool(result.rowcount == 1)


def _claimed_row(
    connection: Connection, execution_id: uuid.UUID, owner: str, lease: timedelta
) -> tuple[Execution, bool] | None:
    """Claim and read the row (one statement where the database returns updated rows); and
    whether this is its first claim, so nothing can have been recorded for it yet."""
    now = utcnow()
    params = {"execution_id": execution_id, "owner": owner, "now": now, "until": now + lease}
    if connection.dialect.update_returning:
        row = connection.execute(_CLAIM_RETURNING, params).first()
    elif connection.execute(_CLAIM, params).rowcount == 1:
        row = connection.execute(_ROW, {"execution_id": execution_id}).one()
    else:
        row = None
    if row is None:
        return None
    execution = Execution(**row._mapping)
    # The claim sets started_at only if it was empty; an earlier claim set another instant.
    return execution, execution.started_at == now


_RUNNING_OF_WORKFLOW = select(func.count()).where(
    _EXECUTIONS.c.workflow_id == bindparam("workflow_id", type_=Uuid()),
    _EXECUTIONS.c.id != bindparam("execution_id", type_=_EXECUTIONS.c.id.type),
    _EXECUTIONS.c.status == ExecutionStatus.running,
    _EXECUTIONS.c.lease_expires_at > bindparam("now", type_=_EXECUTIONS.c.lease_expires_at.type),
)


_LOCK_WORKFLOW = select(_WORKFLOWS.c.id).where(_WORKFLOWS.c.id == bindparam("workflow_id")).with_for_update()


class _AtConcurrencyLimit(Exception):
    """Raised inside the claim's transaction, which rolls back: the row stays claimable."""


def _at_limit(connection: Connection, execution: Execution, context: RunContext) -> bool:
    """The workflow's `settings.max_concurrency` is reached by other live runs. A sub-workflow
    runs inline in its parent's node, which cannot wait for a later poll: it is not held back."""
    limit = (context.definition.get("settings") or {}).get("max_concurrency")
    if not limit or execution.parent_execution_id is not None:
        return False
    # Claims of one workflow's runs take turns here (on SQLite every write does anyway), so
    # two claims committing at once cannot each miss the other and both count below the limit.
    connection.execute(_LOCK_WORKFLOW, {"workflow_id": execution.workflow_id})
    running = connection.execute(
        _RUNNING_OF_WORKFLOW,
        {"workflow_id": execution.workflow_id, "execution_id": execution.id, "now": utcnow()},
    ).scalar_one()
    return bool(running >= limit)


@dataclass(slots=True)
class _Claimed:
    execution: Execution  # detached: loaders read it, nothing writes it
    committed: _Committed
    context: RunContext
    store: payloads.ItemStore
    """The large items read back (its input, committed outputs): records refer to them."""


@dataclass(slots=True)
class _GaveUp:
    """The claim found the execution abandoned too often: it was failed instead of run."""

    reason: str
    follow_ups: list[uuid.UUID]
    end_error: str | None = None
    """What its end would have started crashed too (and was not started)."""


def _claim_and_load_job(
    execution_id: uuid.UUID,
    owner: str,
    lease: timedelta,
    read_context: ContextReader,
    limits: ExecutionLimits,
    on_end: EndHook | None,
) -> Job:
    """Claim, and in the same transaction read the row, what earlier runs committed and what
    the run needs; or fail it, if its claims have too often ended without progress."""

    def job(connection: Connection) -> _Claimed | _GaveUp | None:
        claimed = _claimed_row(connection, execution_id, owner, lease)
        if claimed is None:
            return None
        execution, first = claimed
        if execution.claim_failures >= limits.max_claim_failures:
            last = (
                f" Last error: {execution.error}"
                if execution.error
                else " No error was recorded: its process died (killed, or out of memory?)."
            )
            reason = (
                f"Gave up after {execution.claim_failures} attempts to run it ended without progress "
                f"(each time its process crashed or stopped before a node finished); it is not "
                f"retried.{last}"
            )
            return _give_up(connection, execution, reason, limits, on_end)
        store = payloads.ItemStore()
        rows = [] if first else list(connection.execute(_OUTPUTS, {"execution_id": execution_id}))
        payloads.load(connection, execution_id, [execution.input_items, *(row[3] for row in rows)], store)
        committed = _fold_outputs(rows)
        context = read_context(connection, execution)
        if _at_limit(connection, execution, context):
            raise _AtConcurrencyLimit(execution_id)
        return _Claimed(execution, committed, context, store)

    return job


def _give_up(
    connection: Connection,
    execution: Execution,
    reason: str,
    limits: ExecutionLimits,
    on_end: EndHook | None,
) -> _GaveUp:
    """Fail an execution that keeps crashing. What its end starts (workflow.failed, the error
    workflow) is tried in a savepoint: if that is what crashes, the failure is recorded anyway."""
    connection.execute(_GIVE_UP, {"execution_id": execution.id, "now": utcnow(), "reason": reason})
    gave_up = _GaveUp(reason, [])
    if on_end is not None:
        try:
            with connection.begin_nested():
                gave_up.follow_ups = on_end(
                    connection, Ended(execution, ExecutionStatus.failed, reason, None, limits)
                )
        except Exception as exc:  # the failure itself must be recorded
            gave_up.end_error = f"{type(exc).__name__}: {exc}"
    return gave_up


def _claim_crashed_job(execution_id: uuid.UUID, crash: str, limits: ExecutionLimits) -> Job:
    """Count a claim whose own transaction crashed (and rolled back, so the claim did not
    count it); fail the execution at the limit. Its reason, if it was failed."""

    def job(connection: Connection) -> str | None:
        params = {"execution_id": execution_id, "now": utcnow(), "crash": crash}
        if connection.execute(_CLAIM_CRASHED, params).rowcount != 1:
            return None  # taken meanwhile, or cancelled
        failures = connection.execute(_CLAIM_FAILURES, {"execution_id": execution_id}).scalar_one()
        if failures < limits.max_claim_failures:
            return None
        reason = (
            f"Gave up after {failures} attempts to start it crashed; it is not retried. Last error: {crash}"
        )
        connection.execute(_GIVE_UP, {"execution_id": execution_id, "now": params["now"], "reason": reason})
        return reason

    return job


def _finish_job(
    execution_id: uuid.UUID,
    owner: str,
    status: ExecutionStatus,
    values: dict[str, Any],
    after: Callable[[Connection], list[uuid.UUID]],
) -> Job:
    statement = _finish_statement(tuple(sorted(values)))
    params = {
        "execution_id": execution_id,
        "owner": owner,
        "new_status": status,
        **{f"set_{name}": value for name, value in values.items()},
    }

    def job(connection: Connection) -> list[uuid.UUID] | None:
        if connection.execute(statement, params).rowcount != 1:
            return None
        return after(connection)

    return job


# ------------------------------------------------------------------------------ functions


EVENT_PATH = "event_path"
"""Run option: the event triggers ("<workflow id>/<node id>") that started runs on the way
from the chain's root to this run; an event trigger already on it would close a cycle."""


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
    """Accept work: one pending row, the root of a new chain (a user or a trigger started it).
    The caller commits, then hands the id to an executor."""
    new: payloads.New = {}
    execution = Execution(
        org_id=org_id,
        workflow_id=workflow_id,
        version_id=version_id,
        trigger_type=trigger_type,
        triggered_by=triggered_by,
        input_items=payloads.ItemStore().items(input_items or [], new),
        options={k: v for k, v in (options or {}).items() if k != EVENT_PATH},  # a retry starts afresh
        parent_execution_id=parent_execution_id,
        retry_of=retry_of,
        status=ExecutionStatus.pending,
        created_at=utcnow(),
    )
    session.add(execution)
    await session.flush()
    if new:
        await session.run_sync(lambda sync: payloads.write(sync.connection(), execution.id, new))
    return execution


class ChainRefused(NodeError):
    """A run was not started: its chain is too deep, has started too many runs, or loops."""

    retryable = False


def _link(
    connection: Connection, cause: Cause, workflow_id: uuid.UUID, event_trigger: str | None
) -> tuple[dict[str, Any], list[str]]:
    """The chain columns of a run that `cause` starts (through the event trigger node
    `event_trigger`, if an event starts it), and the event path it carries; counts the run on
    the chain's root, in the caller's transaction. Raises ChainRefused past the limits."""
    parent, limits = cause.execution, cause.limits
    root = parent.root_execution_id or parent.id
    depth = parent.chain_depth + 1
    path = list((parent.options or {}).get(EVENT_PATH) or [])
    where = f"(the chain of runs began with execution {root}; this one would follow {parent.id})"
    if event_trigger is not None:
        hop = f"{workflow_id}/{event_trigger}"
        if hop in path:
            raise ChainRefused(
                f"Not started: this event trigger already started a run earlier in the same chain, "
                f"so these workflows trigger each other in a cycle {where}."
            )
        path.append(hop)
    if depth > limits.chain_max_depth:
        raise ChainRefused(
            f"Not started: it would be {depth} runs deep in a chain of sub-workflows and events, more "
            f"than the limit of {limits.chain_max_depth} (WIREWORK_CHAIN_MAX_DEPTH) {where}."
        )
    counted = connection.execute(_COUNT_RUN, {"root_id": root, "most": limits.chain_max_runs}).rowcount
    if counted != 1:
        if connection.execute(_EXISTS, {"execution_id": root}).first() is not None:
            raise ChainRefused(
                f"Not started: its chain has already started {limits.chain_max_runs} runs, the limit "
                f"(WIREWORK_CHAIN_MAX_RUNS) {where}."
            )
        # The root was pruned (a chain living longer than retention): count on the parent from now on.
        root = parent.id
        if connection.execute(_COUNT_RUN, {"root_id": root, "most": limits.chain_max_runs}).rowcount != 1:
            raise ChainRefused(f"Not started: its chain has started {limits.chain_max_runs} runs {where}.")
    return {"root_execution_id": root, "chain_depth": depth}, path


def insert_pending(
    connection: Connection,
    *,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version_id: uuid.UUID,
    trigger_type: TriggerType,
    input_items: Items,
    options: dict[str, Any],
    cause: Cause | None = None,
    event_trigger: str | None = None,
    parent_execution_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Accept work inside a write: one pending row (plain statement, for jobs and hooks).

    A run started by another (`cause`: a sub-workflow call, an event, an error workflow) joins
    its chain: same root, one deeper, counted on the root. If the chain's limits refuse it, or
    an event would start it through an `event_trigger` already on its way from the root (a
    cycle), the row is recorded failed with why (the user sees it among the workflow's
    executions, and a sub-workflow's caller gets the error) and is never run."""
    execution_id = uuid7()
    now = utcnow()
    new: payloads.New = {}
    values = {
        "id": execution_id,
        "org_id": org_id,
        "workflow_id": workflow_id,
        "version_id": version_id,
        "trigger_type": trigger_type,
        "input_items": payloads.ItemStore().items(input_items, new),
        "options": options,
        "status": ExecutionStatus.pending,
        "created_at": now,
        "parent_execution_id": parent_execution_id,
    }
    if cause is not None:
        parent = cause.execution
        try:
            chain, path = _link(connection, cause, workflow_id, event_trigger)
        except ChainRefused as refused:
            root = parent.root_execution_id or parent.id
            chain = {"root_execution_id": root, "chain_depth": parent.chain_depth + 1}
            path = []
            values.update(status=ExecutionStatus.failed, finished_at=now, error=refused.message)
            log.warning(
                "run_refused", execution_id=str(execution_id), cause=str(parent.id), reason=refused.message
            )
        values.update(chain)
        if path:
            values["options"] = {**options, EVENT_PATH: path}
    connection.execute(_ACCEPT, values)
    payloads.write(connection, execution_id, new)
    return execution_id


async def accept(
    db: Database,
    *,
    org_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version_id: uuid.UUID,
    trigger_type: TriggerType,
    input_items: Items,
    options: dict[str, Any],
    cause: Cause | None = None,
    parent_execution_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """`create_execution` for hot paths (webhooks) and sub-workflows (`insert_pending`'s
    `cause`): the row goes out in the next group commit, durable when this returns; hand the
    id to an executor then."""
    execution_id: uuid.UUID = await _write(
        db,
        lambda connection: insert_pending(
            connection,
            org_id=org_id,
            workflow_id=workflow_id,
            version_id=version_id,
            trigger_type=trigger_type,
            input_items=input_items,
            options=options,
            cause=cause,
            parent_execution_id=parent_execution_id,
        ),
    )
    return execution_id


_STATUS = select(_EXECUTIONS.c.status, _EXECUTIONS.c.error).where(
    _EXECUTIONS.c.id == bindparam("execution_id")
)


async def status_of(db: Database, execution_id: uuid.UUID) -> tuple[ExecutionStatus, str | None] | None:
    """An execution's status and error, read cheaply (see `read`); None if it does not exist."""
    row = await read(
        db, lambda connection: connection.execute(_STATUS, {"execution_id": execution_id}).first()
    )
    return None if row is None else (ExecutionStatus(row.status), row.error)


_STATUSES = select(_EXECUTIONS.c.id, _EXECUTIONS.c.status).where(
    _EXECUTIONS.c.id.in_(bindparam("ids", expanding=True))
)


def statuses_of(connection: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ExecutionStatus]:
    """The status of each of these executions that exists. Plain statement, for `read`."""
    return {row.id: ExecutionStatus(row.status) for row in connection.execute(_STATUSES, {"ids": list(ids)})}


_LAST_OUTPUT = (
    select(_LOGS.c.output_data)
    .where(
        _LOGS.c.execution_id == bindparam("execution_id", type_=Uuid()),
        _LOGS.c.status == NodeRunStatus.completed,
    )
    .order_by(_LOGS.c.id.desc())
    .limit(1)
)


def last_items(connection: Connection, execution_id: uuid.UUID) -> Items:
    """The items an execution ended with: its latest finished node's `main` output (or first
    output), `$`-outputs aside. Plain statement, for `read`."""
    last = connection.execute(_LAST_OUTPUT, {"execution_id": execution_id}).scalar_one_or_none() or {}
    payloads.load(connection, execution_id, [last])
    outputs = {k: v for k, v in last.items() if not k.startswith("$")}
    return list(outputs.get("main") or next(iter(outputs.values()), []))


async def claim(db: Database, execution_id: uuid.UUID, owner: str, lease: timedelta) -> bool:
    """Take an execution that is pending, due, or whose owner's lease ran out. One winner."""
    return bool(await _write(db, lambda connection: _claimed(connection, execution_id, owner, lease)))


async def runnable_ids(db: Database, limit: int) -> list[uuid.UUID]:
    """Executions some process should (re)start now: new, due or abandoned."""
    async with db.session() as session:
        rows = await session.execute(
            select(Execution.id).where(_claimable(utcnow())).order_by(Execution.created_at).limit(limit)
        )
        return list(rows.scalars())


@dataclass(slots=True)
class _Committed:
    """What earlier claims of an execution recorded, node by node."""

    finished: dict[str, NodeOutputs] = field(default_factory=dict)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: dict[str, uuid.UUID] = field(default_factory=dict)
    """at_most_once nodes whose start was recorded but not their end: node id → record id."""


def _fold_outputs(rows: Iterable[Any]) -> _Committed:
    committed = _Committed()
    for row_id, node_id, status, output in rows:
        if status == NodeRunStatus.running:
            committed.started[node_id] = row_id
            continue
        committed.started.pop(node_id, None)
        if status == NodeRunStatus.completed:
            committed.finished[node_id] = output or {}
            committed.waiting.pop(node_id, None)
        elif status == NodeRunStatus.waiting:
            committed.waiting[node_id] = output or {}
    return committed


async def committed_outputs(
    session: AsyncSession, execution_id: uuid.UUID
) -> tuple[dict[str, NodeOutputs], dict[str, dict[str, Any]]]:
    """Each node's latest finished outputs (large items read back), and the payloads of nodes
    left waiting."""

    def read(sync: Any) -> _Committed:
        connection = sync.connection()
        rows = list(connection.execute(_OUTPUTS, {"execution_id": execution_id}))
        payloads.load(connection, execution_id, [row[3] for row in rows])
        return _fold_outputs(rows)

    committed = await session.run_sync(read)
    return committed.finished, committed.waiting


class _DurableHooks(RunHooks):
    def __init__(
        self,
        db: Database,
        lease: _Lease,
        started: Mapping[str, uuid.UUID],
        unproven: bool,
        store: payloads.ItemStore | None = None,
    ) -> None:
        self.db, self.lease = db, lease
        self.store = store or payloads.ItemStore()
        """Large items stored once: records hold references to them (see engine.payloads)."""
        self.started: dict[str, tuple[datetime, dict[str, Any], payloads.New]] = {}
        self.open = dict(started)
        """at_most_once nodes whose start is recorded and whose end is not: node id → record id."""
        self.unproven = unproven
        """Claimed after crashes that made no progress: the first record resets their count."""

    async def on_node_start(self, node: NodeSpec, attempt: int, inputs: Mapping[str, Items]) -> None:
        new: payloads.New = {}
        now, preview = utcnow(), self.store.preview(inputs, new)
        self.started[node.id] = (now, preview, new)  # its new payloads go out with the record
        if not node.at_most_once or node.id in self.open:  # open: an earlier claim's start, refused
            return
        row_id, lease = uuid7(), self.lease
        record = {
            "id": row_id,
            "execution_id": lease.execution_id,
            "node_id": node.id,
            "node_name": node.name,
            "attempt": attempt,
            "status": NodeRunStatus.running,
            "started_at": now,
            "finished_at": None,
            "input_data": preview,
            "output_data": None,
            "item_count": 0,
            "error": None,
        }
        sent_at, renew = time.monotonic(), lease.due()

        def job(connection: Connection) -> bool:
            if not lease.kept(connection, renew):
                return False
            payloads.write(connection, lease.execution_id, new)
            connection.execute(_RECORD, record)
            return True

        if not await _write(self.db, job):  # durable before the node runs
            raise LeaseLost(str(lease.execution_id))
        self.store.written(new)
        if renew:
            lease.renewed(sent_at)
        self.open[node.id] = row_id

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
        started_at, inputs, new = self.started.pop(node.id, (now, None, {}))
        new = {digest: text for digest, text in new.items() if digest not in self.store.stored}
        stored = dict(outputs or {})
        if status == "waiting" and error is None:
            stored = {}
        lease = self.lease
        record = {
            "id": uuid7(),
            "execution_id": lease.execution_id,
            "node_id": node.id,
            "node_name": node.name,
            "attempt": attempt,
            "status": _STATUS_OF_NODE_RUN[status],
            "started_at": started_at,
            "finished_at": now,
            "input_data": inputs,
            "output_data": self.store.outputs(stored, new),
            "item_count": sum(len(v) for k, v in stored.items() if not k.startswith("$")),
            "error": error.message if error else None,
        }
        row_id = self.open.pop(node.id, None)
        sent_at, renew, unproven = time.monotonic(), lease.due(), self.unproven

        def job(connection: Connection) -> bool:
            if not lease.kept(connection, renew):
                return False  # another process owns it: write nothing
            if unproven:
                connection.execute(_PROGRESSED, {"execution_id": lease.execution_id, "owner": lease.owner})
            if reset:
                connection.execute(_SUPERSEDE, {"execution_id": lease.execution_id, "node_ids": list(reset)})
            payloads.write(connection, lease.execution_id, new)
            if row_id is None:
                connection.execute(_RECORD, record)
            else:
                connection.execute(_RECORD_END, {"row_id": row_id, **_end_of(record)})
            return True

        if not await _write(self.db, job):
            raise LeaseLost(str(lease.execution_id))
        self.store.written(new)
        self.unproven = False
        if renew:
            lease.renewed(sent_at)


def _end_of(record: dict[str, Any]) -> dict[str, Any]:
    return {f"end_{name}": record[name] for name in _END_FIELDS}


_END_FIELDS = ("attempt", "status", "finished_at", "output_data", "item_count", "error")


class AtMostOnceRefused(NodeError):
    """An at_most_once node was started before a crash, and its end was never recorded."""

    retryable = False


def _refusing(node_type: type[Node]) -> type[Node]:
    """`node_type`, except that running it fails: for an at_most_once node that may have run."""

    class Refused(node_type):  # type: ignore[valid-type, misc]
        async def run(self, ctx: NodeContext) -> NodeOutputs:
            raise AtMostOnceRefused(
                "may have run already; at_most_once: this node had started when the process running "
                "the execution stopped, and it is not run again. Check its effect, then retry the "
                "execution (which runs it again) if it did not happen."
            )

    return Refused


def _refuse_started(graph: Graph, started: Iterable[str]) -> Graph:
    """The graph with the at_most_once nodes that may have run replaced by refusing ones."""
    refused = {node_id: _refusing(graph.types[node_id]) for node_id in started if node_id in graph.types}
    return dataclasses.replace(graph, types={**graph.types, **refused}) if refused else graph


async def _heartbeat(db: Database, lease: _Lease, task: asyncio.Task[Any]) -> None:
    """Renew the lease between node records; cancel the run when asked to or when it is lost."""

    def job(connection: Connection) -> tuple[bool, bool]:
        ours = lease.kept(connection, renew=True)
        cancel = connection.execute(
            _CANCEL_REQUESTED, {"execution_id": lease.execution_id}
        ).scalar_one_or_none()
        return ours, bool(cancel)

    while True:
        await asyncio.sleep(lease.length.total_seconds() / 3)
        sent_at = time.monotonic()
        ours, cancel = await _write(db, job)
        if not ours or cancel:
            task.cancel(msg="cancel requested" if ours else "lease lost")
            return
        lease.renewed(sent_at)


async def _finish(
    db: Database,
    execution_id: uuid.UUID,
    owner: str,
    status: ExecutionStatus,
    after: Callable[[Connection], list[uuid.UUID]],
    **values: Any,
) -> list[uuid.UUID] | None:
    """The final transition of a run, only while we still hold the lease, with `after` in the
    same transaction: the executions `after` accepted, or None if the lease was lost."""
    started: list[uuid.UUID] | None = await _write(
        db, _finish_job(execution_id, owner, status, values, after)
    )
    return started


GRAPH_CACHE_SIZE = 1000
_graphs: dict[uuid.UUID, tuple[dict[str, Any], NodeRegistry, Graph]] = {}


async def _graph_of(version_id: uuid.UUID, definition: dict[str, Any], registry: NodeRegistry) -> Graph:
    """The compiled graph of a version. Versions are immutable, and loaders cache their
    definitions, so a version whose loader returns the same definition object (and whose
    registry is the same) is compiled once per process, in a worker thread (a 20,000-node
    definition takes about a second, which would hold the event loop)."""
    cached = _graphs.get(version_id)
    if cached is not None and cached[0] is definition and cached[1] is registry:
        return cached[2]
    graph = await asyncio.to_thread(compile_graph, definition, registry.find)
    if len(_graphs) >= GRAPH_CACHE_SIZE:
        _graphs.pop(next(iter(_graphs)))
    _graphs[version_id] = (definition, registry, graph)
    return graph


async def run_execution(
    db: Database,
    execution_id: uuid.UUID,
    *,
    owner: str,
    registry: NodeRegistry,
    read_context: ContextReader,
    lease: timedelta = timedelta(seconds=30),
    on_end: EndHook | None = None,
    limits: ExecutionLimits = ExecutionLimits(),
) -> RunOutcome | None:
    """Claim and run (or resume) an execution to its end; None if another process has it,
    status pending if its workflow's max_concurrency holds it back for now. What the run needs
    comes from `read_context`, inside the claim's transaction; what its end starts comes from
    `on_end`, inside the transaction that records the end.

    A crash while claiming or starting it is counted: a claim that rolls back counts itself;
    any other crash (an exception here, or the process dying) leaves the lease to run out,
    and the next claim counts the abandoned run. Progress (a node's end recorded) clears the
    count; at `limits.max_claim_failures` the execution is failed with the reason instead of
    being run again."""
    claim_sent_at = time.monotonic()
    try:
        claimed: _Claimed | _GaveUp | None = await _write(
            db, _claim_and_load_job(execution_id, owner, lease, read_context, limits, on_end)
        )
    except _AtConcurrencyLimit:  # left pending; claimed again when a run of the workflow ends
        return RunOutcome(ExecutionStatus.pending)
    except OperationalError:
        raise  # the database is unreachable or busy: nothing is wrong with the execution
    except Exception as exc:
        reason = await _write(db, _claim_crashed_job(execution_id, _describe(exc), limits))
        if reason is None:
            raise
        log.exception("execution_given_up", execution_id=str(execution_id), reason=reason)
        return RunOutcome(ExecutionStatus.failed)
    if claimed is None:
        return None
    if isinstance(claimed, _GaveUp):
        log.error(
            "execution_given_up", execution_id=str(execution_id), reason=claimed.reason, end=claimed.end_error
        )
        return RunOutcome(ExecutionStatus.failed, follow_ups=claimed.follow_ups)
    execution, context, committed = claimed.execution, claimed.context, claimed.committed
    unproven = execution.claim_failures > 0

    async def end(status: ExecutionStatus, **values: Any) -> RunOutcome | None:
        """Record the run's end (with what `on_end` starts, for completed and failed runs);
        its outcome, or None if the lease was lost."""
        hook = on_end if status in (ExecutionStatus.completed, ExecutionStatus.failed) else None
        ended = Ended(execution, status, values.get("error"), values.get("error_node"), limits)
        if unproven and hooks.unproven:  # nothing recorded since the crashes: this end is progress
            values = {"claim_failures": 0, "error": None, **values}

        def after(connection: Connection) -> list[uuid.UUID]:
            return hook(connection, ended) if hook is not None else []

        started = await _finish(db, execution_id, owner, status, after, **values)
        return None if started is None else RunOutcome(status, follow_ups=started)

    held = _Lease(execution_id, owner, lease, since=claim_sent_at)
    hooks = _DurableHooks(db, held, committed.started, unproven, claimed.store)
    try:
        try:
            graph = _refuse_started(
                await _graph_of(execution.version_id, context.definition, registry), committed.started
            )
        except DefinitionInvalid as exc:
            return await end(
                ExecutionStatus.failed,
                finished_at=utcnow(),
                resume_at=None,
                error=f"The workflow definition is invalid: {exc}",
            )
        options = execution.options or {}
        # A retry starts from the failed run's outputs; its own records (after a crash) come on top.
        finished = {**options.get("finished", {}), **committed.finished}
        resume = dict(committed.waiting) or None
        run = asyncio.ensure_future(
            run_workflow(
                graph,
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
        beat = asyncio.ensure_future(_heartbeat(db, held, run))
        try:
            result = await run
        except asyncio.CancelledError:
            if asyncio.current_task() is not None and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # we are being shut down: leave the lease to expire, another process resumes
            return await end(ExecutionStatus.cancelled, finished_at=utcnow(), error="Cancelled.")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

        if result.status == "waiting":
            assert result.wait is not None
            return await end(ExecutionStatus.waiting, resume_at=result.wait.resume_at)
        if result.status == "completed":
            return await end(ExecutionStatus.completed, finished_at=utcnow(), resume_at=None)
        error = result.error
        return await end(
            ExecutionStatus.failed,
            finished_at=utcnow(),
            resume_at=None,
            error=error.message if error else "failed",
            error_node=error.node_id if error else None,
        )
    except LeaseLost:
        log.warning("lease_lost", execution_id=str(execution_id))
        return None
    except (asyncio.CancelledError, OperationalError):
        raise
    except Exception as exc:
        # A crash outside the nodes (e.g. input items the engine cannot use): say why on the
        # row and keep the lease; when it runs out, the next claim counts this attempt.
        noted = {"execution_id": execution_id, "owner": owner, "crash": _describe(exc)}
        with contextlib.suppress(Exception):
            await _write(db, lambda connection: connection.execute(_CRASH_NOTED, noted))
        raise


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:2000]


_WAKE = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id"), _EXECUTIONS.c.status == ExecutionStatus.waiting)
    .values(resume_at=bindparam("now", type_=_TIME))
)


def wake(connection: Connection, execution_id: uuid.UUID) -> bool:
    """Make a waiting execution due now: what it waited for from outside came (a chat answer).
    Plain statement, in the caller's write; False if it is not waiting (yet, or any more).
    Hand its id to an executor after the commit (the poll also finds it)."""
    return bool(connection.execute(_WAKE, {"execution_id": execution_id, "now": utcnow()}).rowcount == 1)


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
    """One retention pass with these instance rules, here and now (tests, the CLI): the number
    of executions deleted. The server runs passes as a background job (`retention.RetentionJob`)."""
    policy = retention.RetentionPolicy(max_age_days=max_age_days, max_count=max_count)
    return (await retention.retention_pass(db, policy)).deleted
