"""Execution retention: deleting finished runs by age, by count and per workflow, without
stopping anything else.

A retention pass deletes in small batches, each one DELETE statement (the execution's node
records, stored items and references from other runs go with it through indexed foreign keys)
handed to the executions' group commit like any of their writes: it takes its turn with them,
commits with them, and on SQLite holds the write lock only for that commit (and the writer does
the WAL checkpoints, off the event loop). After each batch the pass pauses twice as long as the
batch took. Nothing selects the surplus as a whole: each batch picks its oldest rows by an
index and deletes them. Batches grow or shrink to take about `TARGET_BATCH_S` of the dialect.

One process at a time runs it (`RetentionJob`): the job is a row of `background_jobs` with a
lease, claimed with a conditional UPDATE as a schedule's firing is, renewed between batches,
and given up when the pass ends; a process that dies mid-pass leaves the lease to expire and
the next pass goes on where it stopped. See docs/decisions/0008-history-at-scale.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from pydantic import ValidationError
from sqlalchemy import (
    JSON,
    Connection,
    Delete,
    Table,
    Uuid,
    and_,
    column,
    delete,
    func,
    select,
    table,
)

from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine import jobs
from wirework.engine.definition import RetentionSettings
from wirework.engine.models import Execution, ExecutionStatus

log = structlog.get_logger("wirework.retention")

JOB_NAME = "retention"
SUCCESSFUL = (ExecutionStatus.completed,)
UNSUCCESSFUL = (ExecutionStatus.failed, ExecutionStatus.cancelled)
FINISHED = SUCCESSFUL + UNSUCCESSFUL
SUCCESS_GRACE = timedelta(minutes=5)
"""With successful runs not kept, how old (since accepted) a completed run gets before a pass
deletes it: its webhook caller, sub-workflow caller or editor has read its result by then."""
TARGET_BATCH_S = {"sqlite": 0.01}
"""How long a batch should take. On SQLite it holds the one write lock (off the event loop) while
webhook accepts wait for it, so it is kept short; elsewhere it shares the server with the
executions' writes and each commit waits for the server's disk anyway (a few ms), so batches
are larger."""
DEFAULT_TARGET_S = 0.05
MIN_BATCH, FIRST_BATCH = 10, 50
MAX_BATCH = {"sqlite": 1000}
DEFAULT_MAX_BATCH = 5000
PAUSE_FACTOR = 2
"""After each batch, a pause this many times as long: a pass takes at most a third of the
database's write time."""
COUNT_EVERY = timedelta(minutes=5)
"""How often a pass counts the finished runs by status for /metrics (a scan of an index)."""

_EXECUTIONS = cast(Table, Execution.__table__)
# The workflows package owns these tables; retention reads only which version is current.
_WORKFLOWS = table("workflows", column("id", Uuid()), column("version"))
_VERSIONS = table(
    "workflow_versions", column("id", Uuid()), column("workflow_id", Uuid()), column("version"),
    column("definition", JSON()),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The instance's rules (settings.py); a workflow's settings may change the ages for its runs."""

    max_age_days: int = 30
    """Finished runs accepted longer ago are deleted; 0 keeps them (the count rule still applies)."""
    failed_max_age_days: int = 0
    """The same for failed and cancelled runs; 0 means `max_age_days`."""
    max_count: int = 10_000
    """At most this many finished runs are kept (the newest); 0: no limit."""
    keep_successful: bool = True
    """False keeps only failed and cancelled runs: completed ones go once SUCCESS_GRACE old."""


@dataclass(frozen=True, slots=True)
class WorkflowRetention:
    """A workflow's own rules (its settings' `retention`); None follows the instance's."""

    successful_days: int | None = None
    failed_days: int | None = None
    keep_successful: bool | None = None

    @property
    def is_default(self) -> bool:
        return self.successful_days is None and self.failed_days is None and self.keep_successful is None


def workflow_retention(definition: Mapping[str, Any] | None) -> WorkflowRetention:
    """The rules a definition's `settings.retention` sets, read as the save validated them: the
    stored definition keeps what was sent ("30", "false", 7.0), which the save took for 30,
    False and 7; read strictly, those rules were ignored and the instance's applied."""
    settings = (definition or {}).get("settings") or {}
    raw = settings.get("retention") if isinstance(settings, Mapping) else None
    if not isinstance(raw, Mapping):
        return WorkflowRetention()
    try:
        rules = RetentionSettings.model_validate(raw)
    except ValidationError:
        pass  # saved before the rules were checked: take what is usable
    else:
        return WorkflowRetention(rules.successful_days, rules.failed_days, rules.keep_successful)

    def days(name: str) -> int | None:
        value = raw.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None

    keep = raw.get("keep_successful")
    return WorkflowRetention(
        days("successful_days"), days("failed_days"), keep if isinstance(keep, bool) else None
    )


@dataclass(slots=True)
class RetentionReport:
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0
    slowest_batch_s: float = 0.0
    finished_counts: dict[str, int] | None = None
    """Finished runs by status after the pass, when this pass counted them."""


class LeaseLost(Exception):
    """Another process holds the retention job now: this pass stops."""


Renew = Callable[[], Awaitable[bool]]


async def _always() -> bool:
    return True


def _cutoffs(
    policy: RetentionPolicy, rule: WorkflowRetention, now: datetime
) -> dict[tuple[ExecutionStatus, ...], datetime | None]:
    """Status group → runs of it accepted before this instant are deleted (None: kept)."""
    keep_successful = policy.keep_successful if rule.keep_successful is None else rule.keep_successful
    successful_days = rule.successful_days if rule.successful_days is not None else policy.max_age_days
    failed_days = rule.failed_days
    if failed_days is None:
        failed_days = policy.failed_max_age_days or policy.max_age_days
    successful: datetime | None = None
    if not keep_successful:
        successful = now - SUCCESS_GRACE
    elif successful_days:
        successful = now - timedelta(days=successful_days)
    return {SUCCESSFUL: successful, UNSUCCESSFUL: now - timedelta(days=failed_days) if failed_days else None}


def _oldest(where: Sequence[Any], order: Any, limit: int) -> Delete:
    """DELETE the first `limit` executions matching `where` in `order`; one statement (MySQL needs
    the derived table: it cannot take LIMIT in an IN subquery nor read the table it deletes from)."""
    chosen = select(_EXECUTIONS.c.id).where(*where).order_by(order).limit(limit).subquery()
    return delete(_EXECUTIONS).where(_EXECUTIONS.c.id.in_(select(chosen.c.id)))


class _Pass:
    def __init__(self, db: Database, renew: Renew, batch: int) -> None:
        self.db, self.renew, self.batch = db, renew, batch
        self.target = TARGET_BATCH_S.get(db.dialect, DEFAULT_TARGET_S)
        self.most = MAX_BATCH.get(db.dialect, DEFAULT_MAX_BATCH)
        self.report = RetentionReport()

    async def drain(self, statement: Callable[[int], Delete]) -> None:
        """Run `statement(n)` batch after batch until one deletes fewer than n rows."""
        while True:
            size = self.batch
            started = time.monotonic()
            deleted = await _write(self.db, functools.partial(_delete_rows, statement(size)))
            elapsed = time.monotonic() - started
            self.report.deleted += deleted
            self.report.batches += 1
            self.report.slowest_batch_s = max(self.report.slowest_batch_s, elapsed)
            if deleted == size and elapsed < self.target / 2:
                self.batch = min(self.most, size * 2)
            elif elapsed > self.target:
                self.batch = max(MIN_BATCH, size // 2)
            # Twice as long as the batch held the write lock, everyone else has it.
            await asyncio.sleep(max(0.002, PAUSE_FACTOR * elapsed))
            if not await self.renew():
                raise LeaseLost(JOB_NAME)
            if deleted < size:
                return


def _delete_rows(statement: Delete, connection: Connection) -> int:
    return int(connection.execute(statement).rowcount or 0)


async def _write(db: Database, job: Callable[[Connection], int]) -> int:
    """`job` in its own transaction, taking its turn with the executions' writes (on SQLite
    under the same lock, off the event loop)."""
    from wirework.engine import executions  # which imports this module for `prune`

    deleted: int = await executions.write_long(db, job)
    return deleted


async def _rules(db: Database) -> dict[uuid.UUID, WorkflowRetention]:
    """Workflows whose current version sets retention rules of its own."""
    current = select(_WORKFLOWS.c.id, _VERSIONS.c.id).join(
        _VERSIONS,
        and_(_VERSIONS.c.workflow_id == _WORKFLOWS.c.id, _VERSIONS.c.version == _WORKFLOWS.c.version),
    )
    async with db.session() as session:
        pairs = (await session.execute(current)).all()
        missing = [version_id for _, version_id in pairs if version_id not in _rule_cache]
        for start in range(0, len(missing), 200):  # versions are immutable: each is read once
            chunk = missing[start : start + 200]
            rows = await session.execute(
                select(_VERSIONS.c.id, _VERSIONS.c.definition).where(_VERSIONS.c.id.in_(chunk))
            )
            for version_id, definition in rows:
                if len(_rule_cache) >= 100_000:
                    _rule_cache.clear()
                _rule_cache[version_id] = workflow_retention(definition)
    rules = {
        workflow_id: _rule_cache.get(version_id, WorkflowRetention()) for workflow_id, version_id in pairs
    }
    return {workflow_id: rule for workflow_id, rule in rules.items() if not rule.is_default}


_rule_cache: dict[uuid.UUID, WorkflowRetention] = {}


async def retention_pass(
    db: Database,
    policy: RetentionPolicy,
    *,
    renew: Renew = _always,
    now: datetime | None = None,
    count: bool = False,
    batch: int = FIRST_BATCH,
) -> RetentionReport:
    """Delete what `policy` and the workflows' own rules no longer keep; count the finished runs
    by status afterwards if `count`. Raises LeaseLost if `renew` says the job is no longer ours."""
    now = now if now is not None else utcnow()
    began = time.monotonic()
    work = _Pass(db, renew, batch)
    columns = _EXECUTIONS.c
    overrides = await _rules(db)
    # Runs of workflows with rules of their own: by workflow (ix_executions_workflow_created).
    for workflow_id, rule in overrides.items():
        for statuses, cutoff in _cutoffs(policy, rule, now).items():
            if cutoff is not None:
                where: tuple[Any, ...] = (
                    columns.workflow_id == workflow_id,
                    columns.created_at < cutoff,
                    columns.status.in_(statuses),
                )
                await work.drain(functools.partial(_oldest, where, columns.created_at))
    # Everyone else's: by status and age (ix_executions_status_created).
    others = columns.workflow_id.not_in(list(overrides)) if overrides else None
    for statuses, cutoff in _cutoffs(policy, WorkflowRetention(), now).items():
        if cutoff is None:
            continue
        for status in statuses:
            where = (columns.status == status, columns.created_at < cutoff)
            await work.drain(
                functools.partial(
                    _oldest, (*where, others) if others is not None else where, columns.created_at
                )
            )
    # The count: the newest max_count finished runs stay (the primary key, read backwards).
    if policy.max_count:
        async with db.session() as session:
            boundary = (
                await session.execute(
                    select(columns.id)
                    .where(columns.status.in_(FINISHED))
                    .order_by(columns.id.desc())
                    .offset(policy.max_count)
                    .limit(1)
                )
            ).scalar_one_or_none()
        if boundary is not None:
            where = (columns.id <= boundary, columns.status.in_(FINISHED))
            await work.drain(functools.partial(_oldest, where, columns.id))
    if count:
        async with db.session() as session:
            counted = await session.execute(
                select(columns.status, func.count())
                .where(columns.status.in_(FINISHED))
                .group_by(columns.status)
            )
            work.report.finished_counts = {status.value: 0 for status in FINISHED} | {
                ExecutionStatus(status).value: int(n) for status, n in counted
            }
    work.report.seconds = time.monotonic() - began
    return work.report


# ------------------------------------------------------------------------------ the job


async def job_state(db: Database) -> dict[str, Any]:
    """What the last retention pass recorded (empty before the first)."""
    return await jobs.state_of(db, JOB_NAME)


@dataclass
class RetentionJob:
    """Runs retention passes every `interval_s` on whichever process claims the job first.
    Every serve process starts one; the lease makes sure one pass runs at a time."""

    db: Database
    policy: RetentionPolicy
    owner: str
    interval_s: float = 60.0
    lease: timedelta = timedelta(seconds=60)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self, now: datetime | None = None) -> RetentionReport | None:
        """One pass if the job is due and free (the report), else None."""
        state = await jobs.claim(self.db, JOB_NAME, self.owner, self.lease, now)
        if state is None:
            return None
        renewed_at = time.monotonic()

        async def renew() -> bool:
            nonlocal renewed_at
            if time.monotonic() - renewed_at < self.lease.total_seconds() / 3:
                return True
            renewed_at = time.monotonic()
            return await jobs.renew(self.db, JOB_NAME, self.owner, self.lease)

        counted_at = state.get("counted_at")
        due = counted_at is None or utcnow() - datetime.fromisoformat(counted_at) >= COUNT_EVERY
        report: RetentionReport | None = None
        try:
            report = await retention_pass(self.db, self.policy, renew=renew, now=now, count=due)
        except LeaseLost:
            log.warning("retention_lease_lost")
            return None
        finally:
            next_run = (now if now is not None else utcnow()) + timedelta(seconds=self.interval_s)
            if report is None:  # failed or cancelled: the next pass (anyone's) goes on from here
                with contextlib.suppress(Exception):
                    await asyncio.shield(jobs.release(self.db, JOB_NAME, self.owner, next_run, None))
        state.update(
            deleted=report.deleted,
            batches=report.batches,
            seconds=round(report.seconds, 3),
            slowest_batch_s=round(report.slowest_batch_s, 4),
        )
        if report.finished_counts is not None:
            state.update(finished_counts=report.finished_counts, counted_at=utcnow().isoformat())
        await jobs.release(self.db, JOB_NAME, self.owner, next_run, state)
        if report.deleted:
            log.info("retention_pass", deleted=report.deleted, batches=report.batches, seconds=report.seconds)
        return report

    async def _loop(self) -> None:
        while True:
            # First a pause: a process that just started (or restarted after a crash) lets
            # its executions get going first.
            await asyncio.sleep(min(self.interval_s, 30.0))
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention_failed")
