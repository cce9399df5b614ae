"""Alembic environment: runs on the connection `wirework.db.migrate` hands over, or on a URL."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection

import wirework.models  # noqa: F401 - registers every table on Base.metadata
from wirework.db.base import Base
from wirework.db.engine import create_engine
from wirework.db.migrate import include_object

target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our portable JSON type by name in generated migrations."""
    if kind == "type" and isinstance(obj, JSON):
        autogen_context.imports.add("import wirework.db.types")
        return "wirework.db.types.JSONType"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=_render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
else:
    asyncio.run(_run_with_url(context.config.get_main_option("sqlalchemy.url") or ""))
