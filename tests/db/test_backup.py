"""Backups restore into an empty database of any backend: SQLite → PostgreSQL → MariaDB."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.databases import available_backends, create_database, drop_database
from wirework.accounts import service
from wirework.accounts.models import InstanceRole, OAuthToken
from wirework.db import migrate
from wirework.db.backup import BackupError, backup, read_manifest, restore
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.models import Base


async def _fill(db: Database) -> None:
    async with db.session() as session:
        admin = await service.create_user(
            session,
            email="root@example.com",
            username="root",
            password="pw-pw-pw-pw",
            role=InstanceRole.admin,
        )
        org = await service.create_organization(session, name="Ünïcode & Co", owner=admin)
        for i in range(30):
            user = await service.create_user(
                session, email=f"u{i}@example.com", username=f"u{i}", password="pw"
            )
            await service.set_preferences(
                session, user.id, {"i": i, "tags": ["a", "é"], "nested": {"x": None}}
            )
        await service.create_api_key(
            session,
            service.Principal(admin, "session", admin.id, org.id, None),
            org.id,
            name="k",
            expires_at=None,
        )
        await service.start_session(
            session, admin, org_id=org.id, ttl=timedelta(hours=1), ip="::1", user_agent="t"
        )
        session.add(
            OAuthToken(
                user_id=admin.id,
                provider="github",
                provider_account="42",
                access_token="v1.sealed",
                scopes=["repo"],
                expires_at=utcnow(),
                extra={"login": "root"},
            )
        )
        await session.commit()


async def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    async with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = await connection.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [dict(r._mapping) for r in rows]
    return out


async def test_round_trip_through_every_backend_keeps_every_row(tmp_path: Path) -> None:
    source = Database(await create_database("sqlite", tmp_path))
    await migrate.upgrade(source)
    await _fill(source)
    expected = await _dump(source)
    assert sum(map(len, expected.values())) > 60
    chain = [source]
    archive = tmp_path / "0.tar.gz"
    manifest = await backup(source, Base.metadata, archive)
    assert manifest["tables"]["users"] == 31 and read_manifest(archive)["revision"] == migrate.head_revision()
    urls: list[tuple[str, str]] = []
    try:
        for step, backend in enumerate(available_backends(), start=1):
            url = await create_database(backend, tmp_path)
            urls.append((backend, url))
            target = Database(url)
            chain.append(target)
            seen: list[str] = []

            def on_progress(table: str, done: int, total: int, seen: list[str] = seen) -> None:
                seen.append(table)

            await restore(target, Base.metadata, archive, on_progress=on_progress)
            assert "users" in seen
            assert await _dump(target) == expected, f"rows differ after restoring into {backend}"
            archive = tmp_path / f"{step}.tar.gz"
            await backup(target, Base.metadata, archive)  # the next hop starts from this backend
    finally:
        for database in chain:
            await database.dispose()
        for backend, url in urls:
            await drop_database(backend, url)


async def test_restore_refuses_a_database_with_data_unless_forced(db: Database, tmp_path: Path) -> None:
    await _fill(db)
    archive = tmp_path / "b.tar.gz"
    await backup(db, Base.metadata, archive)
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        await restore(db, Base.metadata, archive)
    before = await _dump(db)
    await restore(db, Base.metadata, archive, force=True)
    assert await _dump(db) == before


async def test_restore_refuses_a_file_that_is_not_a_backup(db: Database, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(BackupError, match="not a Wirework backup"):
        await restore(db, Base.metadata, bogus)
