"""Cluster-wide background jobs (execution retention, the bots' retention): one leased row
per job in `background_jobs`, so one process at a time runs each, and a process that dies
leaves its lease to expire for the next one."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from wirework.db.engine import Database
from wirework.db.types import utcnow, uuid7
from wirework.engine.models import BackgroundJob

_JOBS = cast(Table, BackgroundJob.__table__)


async def _ensure_row(db: Database, name: str) -> None:
    async with db.session() as session:
        exists = (await session.execute(select(_JOBS.c.id).where(_JOBS.c.name == name))).first()
        if exists is not None:
            return
        with contextlib.suppress(IntegrityError):  # another process made it first
            await session.execute(insert(_JOBS).values(id=uuid7(), name=name, state={}))
            await session.commit()


async def claim(
    db: Database, name: str, owner: str, lease: timedelta, now: datetime | None = None
) -> dict[str, Any] | None:
    """Take the job `name` if it is due and nobody holds it: its state, or None."""
    now = now if now is not None else utcnow()
    await _ensure_row(db, name)
    async with db.session() as session:
        claimed = await session.execute(
            update(_JOBS)
            .where(
                _JOBS.c.name == name,
                or_(_JOBS.c.lease_expires_at.is_(None), _JOBS.c.lease_expires_at < now),
                or_(_JOBS.c.next_run_at.is_(None), _JOBS.c.next_run_at <= now),
            )
            .values(lease_owner=owner, lease_expires_at=now + lease)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        state = (await session.execute(select(_JOBS.c.state).where(_JOBS.c.name == name))).scalar_one()
        await session.commit()
    return dict(state or {})


async def renew(db: Database, name: str, owner: str, lease: timedelta) -> bool:
    async with db.session() as session:
        renewed = await session.execute(
            update(_JOBS)
            .where(_JOBS.c.name == name, _JOBS.c.lease_owner == owner)
            .values(lease_expires_at=utcnow() + lease)
        )
        await session.commit()
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


async def release(
    db: Database, name: str, owner: str, next_run_at: datetime, state: dict[str, Any] | None
) -> None:
    """Give the job back, due again at `next_run_at`; `state` (if given) records the run."""
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "next_run_at": next_run_at}
    if state is not None:
        values.update(state=state, last_finished_at=utcnow())
    async with db.session() as session:
        await session.execute(
            update(_JOBS).where(_JOBS.c.name == name, _JOBS.c.lease_owner == owner).values(**values)
        )
        await session.commit()


async def state_of(db: Database, name: str) -> dict[str, Any]:
    """What the job's last run recorded (empty before the first)."""
    async with db.session() as session:
        state = (await session.execute(select(_JOBS.c.state).where(_JOBS.c.name == name))).scalar()
    return dict(state or {})
