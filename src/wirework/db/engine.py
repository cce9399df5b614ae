"""Engine and sessions for the configured database (SQLite, PostgreSQL or MySQL/MariaDB)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Delete, Insert, Update, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from wirework.db.health import DatabaseHealth

SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg", "mysql+asyncmy"}
CONNECT_TIMEOUT_S = 5


def normalize_url(url: str) -> str:
    """Accept the plain scheme a user is likely to type and pick our async driver for it."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("mysql://", "mysql+asyncmy://"),
        ("mariadb://", "mysql+asyncmy://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 (in a 0700 directory) before SQLite does: SQLite gives
    the -wal and -shm files the database file's mode, so none of them is readable by others,
    whatever the process's umask."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}; "
            "use sqlite+aiosqlite://, postgresql+asyncpg:// or mysql+asyncmy://"
        )
    kwargs: dict[str, Any] = {"pool_pre_ping": parsed.drivername != "sqlite+aiosqlite"}
    if parsed.drivername == "sqlite+aiosqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)  # keep connections open
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        # A server that does not answer (down, or cut off) fails a connect within seconds instead
        # of the drivers' minute or more, so callers can say so (503) and try again.
        timeout = {"postgresql+asyncpg": "timeout", "mysql+asyncmy": "connect_timeout"}
        kwargs["connect_args"] = {timeout[parsed.drivername]: CONNECT_TIMEOUT_S}
    if parsed.drivername == "mysql+asyncmy":
        url = str(parsed.update_query_dict({"charset": "utf8mb4"}).render_as_string(False))
        # PostgreSQL's default: each statement sees what is committed when it starts. InnoDB's
        # REPEATABLE READ would keep a batch's first snapshot, hiding a claim another process
        # committed meanwhile from the checks that follow a lock (executions._at_limit).
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_async_engine(url, **kwargs)
    if parsed.drivername == "sqlite+aiosqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    return engine


WRITE_LOCK_TIMEOUT_S = 60


class WriteLock:
    """SQLite lets one connection write at a time, and a writer that finds the file locked
    sleeps in SQLite's busy handler (up to 100 ms a try). So on SQLite the writes of one
    process take turns on this lock instead; other databases get a lock that never waits.
    The lock belongs to the event loop it is first used in (tests run several loops)."""

    def __init__(self, serialize: bool) -> None:
        self.serialize = serialize
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {k: v for k, v in self._locks.items() if not k.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self) -> bool:
        """Take the lock (True), or do nothing where writes need no turns (False)."""
        if not self.serialize:
            return False
        lock = self._lock()
        if not lock.locked():  # the common case: no task, no timer
            await lock.acquire()
            return True
        try:
            await asyncio.wait_for(lock.acquire(), WRITE_LOCK_TIMEOUT_S)
        except TimeoutError:
            raise RuntimeError(
                f"waited {WRITE_LOCK_TIMEOUT_S} s to write to SQLite: a session holds uncommitted writes "
                "while waiting for another (commit before awaiting other work)"
            ) from None
        return True

    def release(self) -> None:
        self._lock().release()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        taken = await self.acquire()
        try:
            yield
        finally:
            if taken:
                self.release()


class Session(AsyncSession):
    """An AsyncSession that takes the database's write lock before its first write and gives
    it back when its transaction ends (commit, rollback or close)."""

    _holds_write_lock = False

    @property
    def _write_lock(self) -> WriteLock:
        lock: WriteLock = self.sync_session.info["write_lock"]
        return lock

    def _has_pending_writes(self) -> bool:
        sync = self.sync_session
        return bool(sync.new or sync.deleted or sync.dirty)

    async def _before_write(self, statement: Any = None) -> None:
        if self._holds_write_lock or not self._write_lock.serialize:
            return
        if isinstance(statement, Insert | Update | Delete) or self._has_pending_writes():
            self._holds_write_lock = await self._write_lock.acquire()

    def _after_transaction(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            self._write_lock.release()

    if not TYPE_CHECKING:  # same signatures as AsyncSession's (typed by its overloads)

        async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            await self._before_write(statement)
            return await super().execute(statement, *args, **kwargs)

        async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            await self._before_write(statement)
            return await super().scalar(statement, *args, **kwargs)

        async def get(self, *args: Any, **kwargs: Any) -> Any:
            await self._before_write()  # autoflush
            return await super().get(*args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        await self._before_write()
        await super().flush(objects)

    async def commit(self) -> None:
        await self._before_write()
        try:
            await super().commit()
        finally:
            self._after_transaction()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._after_transaction()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._after_transaction()


class Database:
    """One engine and its session factory; the app and the CLI each hold one."""

    def __init__(self, url: str, *, pool_size: int = 10, outage_wait_s: float = 30.0) -> None:
        self.url = normalize_url(url)
        self.health = DatabaseHealth()
        self.outage_wait_s = outage_wait_s
        """How long a write waits for an unreachable database (retrying) before it fails."""
        self.engine = create_engine(self.url, pool_size=pool_size)
        self.write_lock = WriteLock(serialize=self.engine.dialect.name == "sqlite")
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=Session, expire_on_commit=False, info={"write_lock": self.write_lock}
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A session whose transaction the caller commits; anything left uncommitted rolls back."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
