"""FastAPI dependencies shared by every API module: the request's DB session and settings, and
the query parameters of every list (`limit`, `cursor`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.db.engine import Database
from wirework.db.pagination import MAX_LIMIT
from wirework.settings import Settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits what it changed, the rest rolls back."""
    async with get_db(request).session() as session:
        yield session


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page.")]
