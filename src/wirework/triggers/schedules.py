"""Schedules: when a cron expression or interval fires next, and the loop that fires due rows.

Cron expressions read in wall-clock time of an IANA zone (5 fields, or 6 with seconds first).
Across DST changes: a wall time the clock skips in spring fires once, at the change; a wall
time that happens twice in autumn fires once, the first time.

Every serve process runs `Scheduler`. Firing a row is one transaction: a conditional UPDATE
moves `next_execution` on only if it still holds the value this process read, and the
execution row is inserted in the same transaction, so with N processes a firing runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from croniter import croniter
from sqlalchemy import func, select, update

from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.db.types import utcnow
from wirework.engine.models import TriggerType
from wirework.triggers.models import CatchUp, Schedule
from wirework.workflows import service
from wirework.workflows.models import Workflow

log = structlog.get_logger("wirework.schedules")

# A firing older than this when a process gets to it was missed (the platform was down).
MISSED_AFTER = timedelta(seconds=60)
POLL_INTERVAL = 1.0
BATCH = 100


class ScheduleError(ValueError):
    """A cron expression, interval or time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')"
        ) from None


def check_cron(expression: str) -> str:
    """The expression, stripped, if croniter accepts it (5 fields, or 6 with seconds first)."""
    expression = " ".join(expression.split())
    if len(expression.split()) not in (5, 6) or not croniter.is_valid(expression, second_at_beginning=True):
        raise ScheduleError(
            f"{expression!r} is not a cron expression: use 5 fields (minute hour day month weekday) "
            "or 6 with seconds first, e.g. '0 9 * * 1-5' or '*/10 * * * * *'"
        )
    return expression


def _wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive local time as a UTC instant; a time inside a spring-forward gap maps to the change."""
    aware = wall.replace(tzinfo=tz, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # Skipped wall time: fold=0 read it with the old offset, which lands after the change;
    # walk back to the first minute that has the new offset: the moment of the change.
    offset = instant.astimezone(tz).utcoffset()
    step = timedelta(minutes=1)
    while (instant - step).astimezone(tz).utcoffset() == offset:
        instant -= step
    return instant


def next_fire(
    *, after: datetime, cron: str | None = None, interval_s: int | None = None, timezone: str = "UTC"
) -> datetime:
    """The first firing strictly after `after` (a tz-aware instant), in UTC."""
    if interval_s:
        return after.astimezone(UTC) + timedelta(seconds=interval_s)
    if not cron:
        raise ScheduleError("a schedule needs a cron expression or an interval")
    tz = zone(timezone)
    after = after.astimezone(UTC)
    wall = after.astimezone(tz).replace(tzinfo=None)
    iterator = croniter(check_cron(cron), wall, second_at_beginning=True)
    for _ in range(1000):  # a firing in a repeated autumn hour can map before `after`; skip those
        candidate = _wall_to_utc(iterator.get_next(datetime), tz)
        if candidate > after:
            return candidate
    raise ScheduleError(f"{cron!r} never fires after {after.isoformat()}")


def next_fires(
    *,
    after: datetime,
    count: int,
    cron: str | None = None,
    interval_s: int | None = None,
    timezone: str = "UTC",
) -> list[datetime]:
    fires: list[datetime] = []
    moment = after
    for _ in range(count):
        moment = next_fire(after=moment, cron=cron, interval_s=interval_s, timezone=timezone)
        fires.append(moment)
    return fires


def following(schedule: Schedule, after: datetime) -> datetime:
    return next_fire(
        after=after,
        cron=schedule.cron_expression,
        interval_s=schedule.interval_s,
        timezone=schedule.timezone,
    )


async def fire_due(db: Database, now: datetime | None = None) -> list[uuid.UUID]:
    """Fire every schedule that is due; the ids of the executions this process created."""
    now = now or utcnow()
    created: list[uuid.UUID] = []
    async with db.session() as session:
        due = list(
            (
                await session.execute(
                    select(Schedule)
                    .where(Schedule.next_execution <= now)
                    .order_by(Schedule.next_execution)
                    .limit(BATCH)
                )
            ).scalars()
        )
    for schedule in due:
        slot = schedule.next_execution
        missed = now - slot > MISSED_AFTER
        upcoming = following(schedule, now if missed else slot)
        if upcoming <= now:  # several slots behind (a slow poll): catch up once, not per slot
            upcoming = following(schedule, now)
        async with db.session() as session:
            moved = await session.execute(
                update(Schedule)
                .where(Schedule.id == schedule.id, Schedule.next_execution == slot)
                .values(next_execution=upcoming, last_execution=now, updated_at=now)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another process fired it
            if missed and schedule.catch_up == CatchUp.skip:
                await session.commit()
                log.info("schedule_missed_skipped", schedule_id=str(schedule.id), slot=slot.isoformat())
                continue
            workflow = await session.get(Workflow, schedule.workflow_id)
            if workflow is None or not workflow.is_active:
                await session.rollback()
                continue
            execution = await service.start_run(
                session,
                workflow,
                version=None,
                input_items=[
                    {"scheduled_at": slot.isoformat(), "fired_at": now.isoformat(), "missed": missed}
                ],
                pinned=None,
                start=schedule.node_id,
                user_id=None,
                trigger_type=TriggerType.scheduled,
            )
            await session.commit()
            created.append(execution.id)
    return created


async def seconds_until_due(db: Database, now: datetime, cap: float) -> float:
    async with db.session() as session:
        soonest = (await session.execute(select(func.min(Schedule.next_execution)))).scalar()
    if soonest is None:
        return cap
    return max(0.05, min(cap, (soonest - now).total_seconds()))


class Scheduler:
    """Polls for due schedules and hands their executions to `submit`."""

    def __init__(
        self, db: Database, submit: Callable[[uuid.UUID], None], poll_interval: float = POLL_INTERVAL
    ):
        self.db = db
        self.submit = submit
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    def poke(self) -> None:
        """Re-read the soonest firing (after a workflow was activated)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            delay = self.poll_interval
            try:
                for execution_id in await fire_due(self.db):
                    self.submit(execution_id)
                delay = await seconds_until_due(self.db, utcnow(), self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_disconnect(exc):  # said once per outage (db.health); the next poll tries again
                    self.db.health.lost(exc, "schedules")
                else:
                    log.exception("schedule_poll_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
