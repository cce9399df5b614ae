"""Ingestion of knowledge-base documents in the background: the `kb_documents` row is the job.

Every serve and worker process runs a `KnowledgeJobs` loop. It claims a `pending` document
(or a `processing` one whose lease expired: its process died) with a conditional UPDATE that
sets the lease and counts the attempt; past `MAX_ATTEMPTS` the row is `failed`. It chunks
the text (in a thread), embeds the chunks in batches (the local model in a thread), writing
`chunks_embedded` and renewing the lease after each batch, then swaps the document's chunks
in one transaction: the old chunks are deleted and the new ones (parents first) written
with the document's `indexed` state and the collection's new `index_version`. So a document
indexed again stays searchable with its old chunks until the new ones are ready, and a
crash mid-way leaves the old ones, never half of the new. That transaction goes through
`executions.write_long`: on SQLite it takes its turn with the executions' writes, in the
writer's thread, under the process's write lock.

A document that cannot be indexed (the embedding model is down or answers garbage, its
vectors are not the collection's size) is `failed` with the reason; the loop goes on with
the next. Adding a document wakes the loop at once (in this process); otherwise it polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import numpy as np
import structlog
from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update

from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.db.types import utcnow
from wirework.knowledge.models import ChunkKind, DocumentStatus, KBChunk, KBCollection, KBDocument
from wirework.knowledge.vectors import MAX_CHUNKS, Embedder, Matrix, embedder_of, normalised, to_bytes
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

log = structlog.get_logger("wirework.knowledge")

MAX_ATTEMPTS = 3
LEASE = timedelta(seconds=120)
EMBED_BATCH = 64
POLL_S = 3.0

_DOCS = cast(Table, KBDocument.__table__)
_CHUNKS = cast(Table, KBChunk.__table__)
_COLLECTIONS = cast(Table, KBCollection.__table__)

_kicks: set[asyncio.Event] = set()


def wake() -> None:
    """A document is waiting: the loops of this process look now rather than at their next poll."""
    for kick in list(_kicks):
        kick.set()


class IngestFailed(Exception):
    """This document cannot be indexed; the message says why, for the user."""


class LeaseLost(Exception):
    """Another process took the document over (this one was too slow to renew)."""


def _claimable(now: Any) -> Any:
    return or_(
        _DOCS.c.status == DocumentStatus.pending,
        and_(_DOCS.c.status == DocumentStatus.processing, _DOCS.c.lease_expires_at < now),
    )


async def claim_next(db: Database, owner: str, lease: timedelta = LEASE) -> uuid.UUID | None:
    """Take the oldest claimable document: its id, or None when there is none."""
    now = utcnow()
    async with db.session() as session:
        candidates = (
            await session.execute(
                select(_DOCS.c.id, _DOCS.c.attempts)
                .where(_claimable(now))
                .order_by(_DOCS.c.updated_at, _DOCS.c.id)
                .limit(8)
            )
        ).all()
    for document_id, attempts in candidates:
        async with db.session() as session:
            if attempts >= MAX_ATTEMPTS:
                await session.execute(
                    update(_DOCS)
                    .where(_DOCS.c.id == document_id, _claimable(now), _DOCS.c.attempts >= MAX_ATTEMPTS)
                    .values(
                        status=DocumentStatus.failed,
                        error=f"gave up after {attempts} attempts: the process indexing it stopped each time "
                        "(out of memory or killed?); re-index it to try again",
                        lease_owner=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                )
                await session.commit()
                continue
            claimed = await session.execute(
                update(_DOCS)
                .where(_DOCS.c.id == document_id, _claimable(now), _DOCS.c.attempts < MAX_ATTEMPTS)
                .values(
                    status=DocumentStatus.processing,
                    lease_owner=owner,
                    lease_expires_at=now + lease,
                    attempts=_DOCS.c.attempts + 1,
                    chunks_embedded=0,
                    error=None,
                )
            )
            await session.commit()
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return cast(uuid.UUID, document_id)
    return None


async def _progress(
    db: Database, document_id: uuid.UUID, owner: str, lease: timedelta, **values: Any
) -> None:
    async with db.session() as session:
        renewed = await session.execute(
            update(_DOCS)
            .where(_DOCS.c.id == document_id, _DOCS.c.lease_owner == owner)
            .values(lease_expires_at=utcnow() + lease, **values)
        )
        await session.commit()
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(str(document_id))


async def _fail(db: Database, document_id: uuid.UUID, owner: str, error: str) -> None:
    async with db.session() as session:
        await session.execute(
            update(_DOCS)
            .where(_DOCS.c.id == document_id, _DOCS.c.lease_owner == owner)
            .values(
                status=DocumentStatus.failed,
                error=error[:2000],
                lease_owner=None,
                lease_expires_at=None,
                updated_at=utcnow(),
            )
        )
        await session.commit()


@dataclass
class _Work:
    document: KBDocument
    collection: KBCollection


async def ingest_one(
    db: Database,
    vault: Vault,
    document_id: uuid.UUID,
    owner: str,
    *,
    ssrf: SsrfPolicy,
    lease: timedelta = LEASE,
    batch: int = EMBED_BATCH,
) -> str:
    """Index a claimed document; its final status ('indexed', 'failed', or 'lost')."""
    async with db.session() as session:
        document = await session.get(KBDocument, document_id)
        collection = await session.get(KBCollection, document.collection_id) if document else None
    if document is None or collection is None or document.lease_owner != owner:
        return "lost"
    try:
        await _index(db, vault, _Work(document, collection), owner, ssrf=ssrf, lease=lease, batch=batch)
    except LeaseLost:
        log.info("kb_lease_lost", document_id=str(document_id))
        return "lost"
    except IngestFailed as exc:
        await _fail(db, document_id, owner, str(exc))
        log.info("kb_document_failed", document_id=str(document_id), error=str(exc))
        return "failed"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_disconnect(exc):
            raise  # the database is away: the lease expires and the document is taken again
        await _fail(db, document_id, owner, f"{document.name}: indexing failed: {type(exc).__name__}: {exc}")
        log.warning("kb_document_error", document_id=str(document_id), error=f"{type(exc).__name__}: {exc}")
        return "failed"
    return "indexed"


async def _index(
    db: Database, vault: Vault, work: _Work, owner: str, *, ssrf: SsrfPolicy, lease: timedelta, batch: int
) -> None:
    from wirework.knowledge.chunking import chunk_text

    document, collection = work.document, work.collection
    started = time.monotonic()
    plan = await asyncio.to_thread(
        chunk_text,
        document.content,
        size=collection.chunk_size,
        overlap=collection.chunk_overlap,
        parent_size=collection.parent_chunk_size,
    )
    if not plan.chunks:
        raise IngestFailed(f"{document.name}: no text to index")
    await _progress(db, document.id, owner, lease, chunk_count=len(plan.chunks), chunks_embedded=0)
    try:
        embedder = await embedder_of(db, vault, collection, ssrf=ssrf)
    except Exception as exc:
        raise IngestFailed(f"{document.name}: no embedding model: {exc}") from exc
    vectors: list[Matrix] = []
    dims = collection.embedding_dimensions
    for start in range(0, len(plan.chunks), batch):
        texts = [piece.text for piece in plan.chunks[start : start + batch]]
        matrix = await _embed(embedder, texts, document.name)
        if dims is None:
            dims = matrix.shape[1]
        if matrix.shape[1] != dims:
            raise IngestFailed(
                f"{document.name}: the embedding model returned vectors of {matrix.shape[1]} dimensions; "
                f"this knowledge base's vectors have {dims} (choose its model again to start anew)"
            )
        vectors.append(matrix)
        await _progress(db, document.id, owner, lease, chunks_embedded=start + len(texts))
    embedded = np.vstack(vectors)
    from wirework.engine import executions  # floor 2: its write path, which SQLite's single writer needs

    await executions.write_long(db, lambda connection: _swap(connection, work, owner, plan, embedded, dims))
    log.info(
        "kb_document_indexed",
        document_id=str(document.id),
        chunks=len(plan.chunks),
        parents=len(plan.parents),
        seconds=round(time.monotonic() - started, 3),
    )


async def _embed(embedder: Embedder, texts: list[str], name: str) -> Matrix:
    try:
        raw = await embedder.embed(texts)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise IngestFailed(f"{name}: the embedding model failed: {exc}") from exc
    try:
        matrix = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise IngestFailed(f"{name}: the embedding model answered something that is not vectors") from exc
    if matrix.ndim != 2 or matrix.shape[0] != len(texts) or matrix.shape[1] == 0:
        raise IngestFailed(
            f"{name}: the embedding model answered {matrix.shape[0] if matrix.ndim else 0} vectors "
            f"of shape {tuple(matrix.shape)} for {len(texts)} texts"
        )
    if not np.all(np.isfinite(matrix)):
        raise IngestFailed(f"{name}: the embedding model answered vectors with NaN or infinite values")
    return normalised(matrix)


def _swap(
    connection: Connection, work: _Work, owner: str, plan: Any, vectors: Matrix, dims: int | None
) -> None:
    """One transaction: still ours → old chunks out, new ones in, document indexed, version bumped."""
    document, collection = work.document, work.collection
    now = utcnow()
    mine = connection.execute(
        update(_DOCS)
        .where(_DOCS.c.id == document.id, _DOCS.c.lease_owner == owner)
        .values(
            status=DocumentStatus.indexed,
            error=None,
            chunk_count=len(plan.chunks),
            chunks_embedded=len(plan.chunks),
            lease_owner=None,
            lease_expires_at=None,
            indexed_at=now,
            updated_at=now,
        )
    )
    if mine.rowcount != 1:
        raise LeaseLost(str(document.id))
    # The collection's vector size is fixed by its first embedding; a racing first ingest with
    # another size loses here.
    connection.execute(
        update(_COLLECTIONS)
        .where(_COLLECTIONS.c.id == collection.id, _COLLECTIONS.c.embedding_dimensions.is_(None))
        .values(embedding_dimensions=dims)
    )
    held = connection.execute(
        select(_COLLECTIONS.c.embedding_dimensions).where(_COLLECTIONS.c.id == collection.id)
    ).scalar()
    if held is None:
        raise IngestFailed(f"{document.name}: its knowledge base was deleted")
    if held != dims:
        raise IngestFailed(f"{document.name}: vectors of {dims} dimensions, the knowledge base's have {held}")
    others = connection.execute(
        select(func.count())
        .select_from(_CHUNKS)
        .where(
            _CHUNKS.c.collection_id == collection.id,
            _CHUNKS.c.kind == ChunkKind.chunk,
            _CHUNKS.c.document_id != document.id,
        )
    ).scalar_one()
    if others + len(plan.chunks) > MAX_CHUNKS:
        raise IngestFailed(
            f"{document.name}: its {len(plan.chunks):,} chunks would take the knowledge base past "
            f"{MAX_CHUNKS:,} chunks (it has {others:,}); split it into several knowledge bases"
        )
    connection.execute(
        delete(_CHUNKS).where(_CHUNKS.c.document_id == document.id, _CHUNKS.c.parent_id.is_not(None))
    )
    connection.execute(delete(_CHUNKS).where(_CHUNKS.c.document_id == document.id))
    meta = document.meta or {}
    common = {
        "org_id": document.org_id,
        "collection_id": collection.id,
        "document_id": document.id,
        "metadata": meta,
    }
    parent_ids: list[int] = []
    for piece in plan.parents:
        result = connection.execute(
            insert(_CHUNKS).values(
                **common,
                kind=ChunkKind.parent,
                parent_id=None,
                position=piece.position,
                content=piece.text,
                token_count=piece.token_count,
                embedding=None,
                created_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        parent_ids.append(int(key[0]))
    rows = [
        {
            **common,
            "kind": ChunkKind.chunk,
            "parent_id": parent_ids[piece.parent] if piece.parent is not None and parent_ids else None,
            "position": piece.position,
            "content": piece.text,
            "token_count": piece.token_count,
            "embedding": to_bytes(vectors[i]),
            "created_at": now,
        }
        for i, piece in enumerate(plan.chunks)
    ]
    for start in range(0, len(rows), 500):
        connection.execute(insert(_CHUNKS).values(rows[start : start + 500]))
    connection.execute(
        update(_COLLECTIONS)
        .where(_COLLECTIONS.c.id == collection.id)
        .values(index_version=_COLLECTIONS.c.index_version + 1)
    )


class KnowledgeJobs:
    """This process's ingestion loop: one document at a time, claimed from the database."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        owner: str,
        ssrf: SsrfPolicy,
        poll_s: float = POLL_S,
        lease: timedelta = LEASE,
    ) -> None:
        self.db, self.vault, self.owner, self.ssrf = db, vault, owner, ssrf
        self.poll_s, self.lease = poll_s, lease
        self._task: asyncio.Task[None] | None = None
        self._kick: asyncio.Event | None = None

    def start(self) -> None:
        self._kick = asyncio.Event()
        _kicks.add(self._kick)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._kick is not None:
            _kicks.discard(self._kick)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Index every claimable document now; how many were taken."""
        taken = 0
        while (document_id := await claim_next(self.db, self.owner, self.lease)) is not None:
            taken += 1
            await ingest_one(self.db, self.vault, document_id, self.owner, ssrf=self.ssrf, lease=self.lease)
        return taken

    async def _loop(self) -> None:
        assert self._kick is not None
        while True:
            self._kick.clear()
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away a moment: the next round tries again
                log.warning("kb_ingest_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._kick.wait()
