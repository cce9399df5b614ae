"""Portable backups: a gzip'd tar of `manifest.json` and one JSON Lines file per table.

An archive made on any backend restores into an empty database of any backend, so
`wirework db backup` on SQLite then `wirework db restore` on PostgreSQL moves an instance.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import LargeBinary, MetaData, Table, Uuid, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from wirework import __version__
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.db.types import UTCDateTime

FORMAT = "wirework-backup/1"
BATCH = 1000

# on_progress(table, rows_done, rows_total)
Progress = Callable[[str, int, int], None]


class BackupError(Exception):
    pass


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decoder(column: Any) -> Callable[[Any], Any]:
    type_ = column.type
    if isinstance(type_, UTCDateTime):
        return lambda v: datetime.fromisoformat(v).astimezone(UTC)
    if isinstance(type_, Uuid):
        return uuid.UUID
    if isinstance(type_, LargeBinary):
        return base64.b64decode
    return lambda v: v


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def table_counts(db: Database, metadata: MetaData) -> dict[str, int]:
    async with db.engine.connect() as connection:
        return {t.name: await _count(connection, t) for t in metadata.sorted_tables}


async def backup(
    db: Database, metadata: MetaData, path: Path, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Write every table of `metadata` to `path`; returns the manifest."""
    revision = await migrate.current_revision(db)
    if revision is None:
        raise BackupError("The database has no schema yet; there is nothing to back up.")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "revision": revision,
        "wirework_version": __version__,
        "source_dialect": db.dialect,
        "created_at": datetime.now(UTC).isoformat(),
        "tables": {},
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The archive holds every row (password hashes, sealed credentials): 0600 from its creation.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as file, tarfile.open(fileobj=file, mode="w:gz") as archive:
        async with db.engine.connect() as connection:
            for table in metadata.sorted_tables:
                total = await _count(connection, table)
                done = 0
                with tempfile.TemporaryFile() as buffer:
                    pk = list(table.primary_key.columns)
                    result = await connection.stream(select(table).order_by(*pk))
                    async for row in result:
                        line = {k: _encode(v) for k, v in row._mapping.items()}
                        buffer.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode())
                        buffer.write(b"\n")
                        done += 1
                        if on_progress and done % BATCH == 0:
                            on_progress(table.name, done, total)
                    if on_progress:
                        on_progress(table.name, done, total)
                    info = tarfile.TarInfo(f"tables/{table.name}.jsonl")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    archive.addfile(info, buffer)
                manifest["tables"][table.name] = done
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            manifest: dict[str, Any] = json.load(member)
    except (OSError, KeyError, tarfile.TarError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} is not a Wirework backup: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has format {manifest.get('format')!r}; this version reads {FORMAT}.")
    return manifest


def _rows(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    for line in stream:
        if line.strip():
            yield json.loads(line)


async def restore(
    db: Database, metadata: MetaData, path: Path, *, force: bool = False, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Load an archive into `db`: empty unless `force` (which deletes what is there first)."""
    manifest = read_manifest(path)
    known = {s.revision for s in migrate.history()}
    if manifest["revision"] not in known:
        raise BackupError(
            f"The backup is at migration {manifest['revision']}, which this Wirework does not know; "
            "restore it with the version that made it, or a newer one."
        )
    current = await migrate.current_revision(db)
    if current is not None:
        counts = await table_counts(db, metadata)
        if any(counts.values()) and not force:
            filled = ", ".join(f"{t} ({n})" for t, n in counts.items() if n)
            raise BackupError(f"The database is not empty: {filled}. Use --force to replace its data.")
    # Rows load through today's models: columns newer than the backup take their defaults.
    await migrate.upgrade(db, "head")
    tables = {t.name: t for t in metadata.sorted_tables}
    unknown = set(manifest["tables"]) - set(tables)
    if unknown:
        raise BackupError(f"The backup has tables this Wirework does not know: {', '.join(sorted(unknown))}")
    with tarfile.open(path, "r:gz") as archive:
        async with db.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(delete(table))
            for name, table in tables.items():
                total = manifest["tables"].get(name)
                if total is None:
                    continue
                member = archive.extractfile(f"tables/{name}.jsonl")
                if member is None:
                    raise BackupError(f"The backup lists {name} but has no data for it.")
                decoders = {c.name: _decoder(c) for c in table.columns}
                done, batch = 0, []
                for raw in _rows(member):
                    batch.append(
                        {k: (None if v is None else decoders[k](v)) for k, v in raw.items() if k in decoders}
                    )
                    if len(batch) >= BATCH:
                        await connection.execute(table.insert(), batch)
                        done += len(batch)
                        batch = []
                        if on_progress:
                            on_progress(name, done, total)
                if batch:
                    await connection.execute(table.insert(), batch)
                    done += len(batch)
                if on_progress:
                    on_progress(name, done, total)
    return manifest
