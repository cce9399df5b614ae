"""Engine and sessions for the configured database (SQLite, PostgreSQL or MySQL/MariaDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg", "mysql+asyncmy"}


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


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    if parsed.drivername == "mysql+asyncmy":
        url = str(parsed.update_query_dict({"charset": "utf8mb4"}).render_as_string(False))
    engine = create_async_engine(url, **kwargs)
    if parsed.drivername == "sqlite+aiosqlite":
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


class Database:
    """One engine and its session factory; the app and the CLI each hold one."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = create_engine(self.url, pool_size=pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; anything left uncommitted rolls back."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
