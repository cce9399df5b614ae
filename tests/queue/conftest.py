"""Fixtures of the worker-mode outage tests, and the `chaos` marker: tests that restart the
machine's shared services (Redis, RabbitMQ, PostgreSQL) run after every other test, so the
blip they cause lands on nobody else's test in the same run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import create_database, drop_database


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: restarts a shared service (Redis, RabbitMQ, PostgreSQL)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("chaos") is not None)  # stable: the rest keep order


@pytest.fixture
async def cluster_db(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database for a serve and its workers: PostgreSQL when configured, else SQLite."""
    backend = "postgresql" if os.environ.get("WIREWORK_TEST_POSTGRES_URL") else "sqlite"
    url = await create_database(backend, tmp_path)
    yield url
    await drop_database(backend, url)
