"""One migration history for all backends, matching the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from tests.support.databases import create_database, drop_database
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": migrate.include_object}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == [], "models and migrations differ: write a migration (alembic autogenerate)"


async def test_upgrade_downgrade_upgrade_on_a_fresh_database(backend: str, tmp_path: Path) -> None:
    url = await create_database(backend, tmp_path)
    db = Database(url)
    try:
        await migrate.upgrade(db)
        assert (await migrate.migration_status(db))["at_head"]
        await migrate.downgrade(db, "base")
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert set(Base.metadata.tables) <= set(tables)
    finally:
        await db.dispose()
        await drop_database(backend, url)
