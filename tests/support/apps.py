"""Clients of in-process apps: a second server on the same database, and callers from chosen
client addresses (the peer address the server sees)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from wirework.app import create_app
from wirework.db.engine import Database
from wirework.settings import Settings


@asynccontextmanager
async def client_of(app: Any, peer: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running app whose requests come from `peer`."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://wirework.test") as client:
        yield client


@asynccontextmanager
async def another_server(settings: Settings, db: Database, peer: str = "127.0.0.1") -> AsyncIterator[Any]:
    """A second app on the same database with its own engine, pool, caches and executor, as
    another `wirework serve` process has; yields (app, client)."""
    database = Database(db.url, pool_size=5)
    app = create_app(settings, db=database)
    try:
        async with app.router.lifespan_context(app), client_of(app, peer) as client:
            yield app, client
    finally:
        await database.dispose()
