"""Alembic, driven from code: upgrade, downgrade, current and head revisions for a Database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection

from wirework.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


SEARCH_INDEX_TABLE_PREFIX = "kb_chunks_fts"
"""SQLite's FTS5 index of chunks and its shadow tables, made by migration 0008, not by a model."""
SEARCH_INDEX_COLUMNS = frozenset({("kb_chunks", "tsv")})
"""PostgreSQL's generated tsvector column, ditto."""
SEARCH_INDEXES = frozenset({"ix_kb_chunks_tsv", "ix_kb_chunks_content_ft"})
"""PostgreSQL's GIN index on tsv, MariaDB/MySQL's FULLTEXT index on content."""


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate and the models-match test skip the search indexes the migration makes per
    database, which no model describes."""
    if type_ == "table" and name and name.startswith(SEARCH_INDEX_TABLE_PREFIX):
        return False
    if type_ == "column" and (getattr(obj.table, "name", None), name) in SEARCH_INDEX_COLUMNS:
        return False
    return not (type_ == "index" and name in SEARCH_INDEXES)


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migration history is empty"
    return head


def history() -> list[Script]:
    """Every migration, newest first."""
    return list(ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_run, "upgrade", revision)


async def downgrade(db: Database, revision: str) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_run, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_current)


async def migration_status(db: Database) -> dict[str, Any]:
    current = await current_revision(db)
    head = head_revision()
    return {"current": current, "head": head, "at_head": current == head}
