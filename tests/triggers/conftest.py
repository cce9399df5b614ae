"""Fixtures of the multi-process trigger tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import create_database, drop_database


@pytest.fixture
async def shared_db(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database several processes share: PostgreSQL when configured, else SQLite."""
    backend = "postgresql" if os.environ.get("WIREWORK_TEST_POSTGRES_URL") else "sqlite"
    url = await create_database(backend, tmp_path)
    yield url
    await drop_database(backend, url)
