"""Fresh, empty databases for tests on every backend the environment offers.

SQLite always; PostgreSQL and MySQL/MariaDB when WIREWORK_TEST_POSTGRES_URL and
WIREWORK_TEST_MYSQL_URL point at a server where we may create databases.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from wirework.db.engine import create_engine, normalize_url

ENV = {"postgresql": "WIREWORK_TEST_POSTGRES_URL", "mysql": "WIREWORK_TEST_MYSQL_URL"}


def available_backends() -> list[str]:
    return ["sqlite"] + [name for name, var in ENV.items() if os.environ.get(var)]


def server_url(backend: str) -> str:
    return normalize_url(os.environ[ENV[backend]])


async def create_database(backend: str, tmp_dir: Path) -> str:
    """A URL of a new empty database."""
    name = f"wwtest_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"
    admin = server_url(backend)
    engine = create_engine(admin)
    async with engine.connect() as connection:
        conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
        suffix = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend == "mysql" else ""
        await conn.execute(text(f"CREATE DATABASE {name}{suffix}"))
    await engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def drop_database(backend: str, url: str) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)  # type: ignore[operator]
        return
    name = make_url(url).database
    engine = create_engine(server_url(backend))
    async with engine.connect() as connection:
        conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
    await engine.dispose()
