"""Test fixtures: real databases on every available backend, the app, and clients."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from tests.support.databases import available_backends, create_database, drop_database
from wirework.app import create_app
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.models import Base
from wirework.settings import Settings

BACKENDS = available_backends()


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wirework")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def migrated_db(backend: str, session_tmp: Path) -> AsyncIterator[Database]:
    """One migrated database per backend for the whole run; `db` empties it after each test."""
    url = await create_database(backend, session_tmp)
    database = Database(url, pool_size=5)
    await migrate.upgrade(database)
    yield database
    await database.dispose()
    await drop_database(backend, url)


@pytest.fixture
async def db(migrated_db: Database) -> AsyncIterator[Database]:
    yield migrated_db
    async with migrated_db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, db=db)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with its lifespan running (node tables, templates, the executor)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://wirework.test") as c,
    ):
        yield c


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Per-backend counts, so CI's log shows each database's tests by name."""
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            for name in ("sqlite", "postgresql", "mysql"):
                if (
                    f"[{name}" in report.nodeid
                    or f"-{name}]" in report.nodeid
                    or f"-{name}-" in report.nodeid
                ):
                    counts[(name, outcome)] += 1
    if counts:
        terminalreporter.section("database backends")
        for name in ("sqlite", "postgresql", "mysql"):
            parts = [
                f"{counts[(name, o)]} {o}"
                for o in ("passed", "failed", "error", "skipped")
                if counts[(name, o)]
            ]
            if parts:
                terminalreporter.write_line(f"{name}: {', '.join(parts)}")
