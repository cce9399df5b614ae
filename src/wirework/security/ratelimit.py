"""Rate limits: fixed-window counters and per-key back-off, shared by every server process.

`DatabaseLimits` keeps each counter in a `rate_limits` row. Rows change only through
conditional statements: an UPDATE whose WHERE states what it expects (the window is still
open, the limit not reached, the back-off over), an INSERT when the row is missing, and the
unique key settling two processes that insert at once (the loser counts again). So on SQLite,
PostgreSQL and MySQL/MariaDB no hit is lost and no limit overshoots, however many processes
count at once. Logins always count here.

`MemoryCounter` keeps the windows of this process only. That is exact when one process serves,
which SQLite implies (the embedded default is one `serve`), and there webhooks count in memory
because their hot path cannot afford a write per call; with PostgreSQL or MySQL they count in
the database too (`app.py` chooses).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, case, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from wirework.db.engine import Database, Session
from wirework.db.types import utcnow
from wirework.security.models import RateLimit

_LIMITS = cast(Table, RateLimit.__table__)
_C = _LIMITS.c
UNLIMITED = 2**31 - 1
_ATTEMPTS = 20  # rounds lost to other processes before giving up (each lost round is their progress)


class Counter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> int:
        """Count one event for `key`: 0 when it is within `limit` per window, else the seconds
        until the window ends (and the event is not counted)."""
        ...


FREE_FAILURES = 3  # typos: the first failures in a row cost no wait


def backoff_delay(failures: int, max_s: int) -> int:
    """Seconds to wait after `failures` failures in a row: none for the first `FREE_FAILURES`,
    then 1, 2, 4, 8, … up to `max_s`."""
    if failures <= FREE_FAILURES:
        return 0
    return min(max_s, 1 << min(failures - FREE_FAILURES - 1, 30))


class MemoryCounter:
    """Fixed windows in this process's memory (exact only when one process serves)."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, limit: int, window_s: float) -> int:
        now = time.monotonic()
        start, hits = self._windows.get(key, (now, 0))
        if now - start >= window_s:
            start, hits = now, 0
        if hits >= limit:
            return _seconds(start + window_s - now)
        if len(self._windows) >= self.MAX_KEYS and key not in self._windows:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_s}
        self._windows[key] = (start, hits + 1)
        return 0


class DatabaseLimits:
    """Counters and back-offs in the `rate_limits` table (see the module docstring)."""

    PRUNE_EVERY = 100  # inserts of this process between two deletions of stale rows

    def __init__(self, db: Database, *, keep_s: float = 86_400) -> None:
        self.db = db
        self.keep = timedelta(seconds=keep_s)
        self._inserts = 0

    # ------------------------------------------------------------------ fixed windows

    async def hit(self, key: str, limit: int, window_s: float) -> int:
        for _ in range(_ATTEMPTS):
            now = utcnow()
            cutoff = now - timedelta(seconds=window_s)
            async with self.db.session() as session:
                counted = await session.execute(
                    update(_LIMITS)
                    .where(_C.key == key, _C.window_start > cutoff, _C.hits < limit)
                    .values(hits=_C.hits + 1)
                )
                if not _changed(counted):
                    renewed = await session.execute(
                        update(_LIMITS)
                        .where(_C.key == key, _C.window_start <= cutoff)
                        .values(window_start=now, hits=1, blocked_until=None)
                    )
                    if not _changed(renewed):
                        row = (
                            await session.execute(select(_C.window_start, _C.hits).where(_C.key == key))
                        ).first()
                        if row is not None:
                            if row.window_start > cutoff and row.hits >= limit:  # open and full
                                return _seconds(min(window_s, (row.window_start - cutoff).total_seconds()))
                            continue  # it appeared or changed since the updates: count again
                        if not await self._insert(session, key=key, window_start=now, hits=1):
                            continue
                await session.commit()
                return 0
        raise RuntimeError(f"rate limit {key!r}: the row kept changing")

    async def over(self, key: str, limit: int, window_s: float) -> int:
        """Seconds until the window of `key` ends if it already holds `limit` events, else 0
        (counts nothing; `hit` with no limit counts)."""
        now = utcnow()
        async with self.db.session() as session:
            row = (await session.execute(select(_C.window_start, _C.hits).where(_C.key == key))).first()
        left = (row.window_start + timedelta(seconds=window_s) - now).total_seconds() if row else 0
        if row is None or row.hits < limit or left <= 0:
            return 0
        return _seconds(left)

    # ------------------------------------------------------------------ back-off

    async def claim(self, key: str, hold_s: float) -> int:
        """Take the next attempt for `key`: 0, and the key refuses others for `hold_s` (until
        `fail` or `clear` says how it went), if its back-off is over; else the seconds left.
        So attempts never run side by side, and never more often than the back-off allows."""
        for _ in range(_ATTEMPTS):
            now = utcnow()
            hold = now + timedelta(seconds=hold_s)
            async with self.db.session() as session:
                taken = await session.execute(
                    update(_LIMITS)
                    .where(_C.key == key, or_(_C.blocked_until.is_(None), _C.blocked_until <= now))
                    .values(blocked_until=hold)
                )
                if not _changed(taken):
                    row = (await session.execute(select(_C.blocked_until).where(_C.key == key))).first()
                    if row is not None:
                        if row.blocked_until is None or row.blocked_until <= now:
                            continue  # it just ended: try again
                        return _seconds((row.blocked_until - now).total_seconds())
                    if not await self._insert(session, key=key, window_start=now, hits=0, blocked_until=hold):
                        continue
                await session.commit()
                return 0
        raise RuntimeError(f"rate limit {key!r}: the row kept changing")

    async def fail(self, key: str, *, max_delay_s: int, forget_s: float) -> int:
        """One more failure in a row for `key` (a streak older than `forget_s` starts again):
        it waits `backoff_delay` seconds from now. Returns that delay."""
        for _ in range(_ATTEMPTS):
            now = utcnow()
            forgotten = now - timedelta(seconds=forget_s)
            async with self.db.session() as session:
                counted = await session.execute(
                    update(_LIMITS)
                    .where(_C.key == key)
                    .values(hits=_streak_plus_one(forgotten), window_start=now)
                )
                if _changed(counted):  # the row is locked until commit: read our own count
                    failures = await session.scalar(select(_C.hits).where(_C.key == key)) or 1
                else:
                    failures = 1
                delay = backoff_delay(failures, max_delay_s)
                until = now + timedelta(seconds=delay)
                if _changed(counted):
                    await session.execute(update(_LIMITS).where(_C.key == key).values(blocked_until=until))
                elif not await self._insert(session, key=key, window_start=now, hits=1, blocked_until=until):
                    continue
                await session.commit()
                return delay
        raise RuntimeError(f"rate limit {key!r}: the row kept changing")

    async def clear(self, key: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(_LIMITS).where(_C.key == key))
            await session.commit()

    # ------------------------------------------------------------------ rows

    async def _insert(self, session: Session, **values: Any) -> bool:
        """Insert the row of a key (True), or False if another process just did: the caller
        rolls back and tries again with the row in place."""
        try:
            await session.execute(insert(_LIMITS).values(**values))
        except IntegrityError:
            await session.rollback()
            return False
        self._inserts += 1
        if self._inserts % self.PRUNE_EVERY == 0:
            now: datetime = values["window_start"]
            await session.execute(
                delete(_LIMITS).where(
                    _C.window_start < now - self.keep,
                    or_(_C.blocked_until.is_(None), _C.blocked_until < now),
                )
            )
        return True


def _streak_plus_one(forgotten: datetime) -> Any:
    return case((_C.window_start > forgotten, _C.hits + 1), else_=1)


def _changed(result: Any) -> bool:
    return bool(result.rowcount)


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))
