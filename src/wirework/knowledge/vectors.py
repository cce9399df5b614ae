"""Vectors of knowledge bases: which embedder a collection uses, and the in-process cache of
its chunk vectors that vector search scans.

pgvector is not available here and this Python's sqlite3 cannot load extensions, so vectors
are stored as float32 bytes in `kb_chunks.embedding` on every database and searched in
process: exact cosine with numpy (the rows are L2-normalised, so a dot product) over a matrix
loaded once per (collection, index_version), kept in an LRU bounded in bytes. There is no
approximate index: docs/decisions/0013 has the figures (exact search of 100k chunks takes
tens of milliseconds here; a usearch HNSW index of 100k vectors did not finish building in
8 minutes on this 2-core machine). A collection holds at most `MAX_CHUNKS` searched chunks,
which bounds the scan.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from wirework.db.engine import Database
from wirework.knowledge.models import ChunkKind, KBChunk, KBCollection
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

CACHE_MAX_BYTES = 768 * 1024 * 1024
"""Vectors kept in memory per process, all collections together (100k chunks of 384
dimensions take 154 MB)."""
MAX_CHUNKS = 1_000_000
"""Searched chunks per collection (1.5 GB of vectors at 384 dimensions): ingestion refuses more."""
LOAD_BATCH = 5_000

Matrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    key: str
    dimensions: int | None

    async def embed(self, texts: list[str]) -> Matrix: ...


class LocalEmbedder:
    """The embedding model that ships with Wirework, run in a thread (CPU-bound)."""

    def __init__(self) -> None:
        from wirework.ai import local_embedding

        self.key: str = local_embedding.KEY
        self.dimensions: int | None = local_embedding.DIMENSIONS
        self._module = local_embedding

    async def embed(self, texts: list[str]) -> Matrix:
        model = await asyncio.to_thread(self._module.model)
        vectors = await asyncio.to_thread(model.embed, texts)
        matrix: Matrix = np.asarray(vectors, dtype=np.float32)
        return matrix


async def embedder_of(db: Database, vault: Vault, collection: KBCollection, *, ssrf: SsrfPolicy) -> Embedder:
    """A collection's embedder: its model, or the built-in one when it names none."""
    if collection.embedding_model_id is None:
        return LocalEmbedder()
    from wirework.ai import service as ai_service

    embedder: Embedder = await ai_service.embedder_for(
        db, vault, collection.org_id, collection.embedding_model_id, ssrf=ssrf
    )
    return embedder


def normalised(vectors: Any) -> Matrix:
    """float32 rows of length 1 (a zero row stays zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Matrix = (matrix / norms).astype(np.float32, copy=False)
    return unit


def to_bytes(vector: Matrix) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


@dataclass
class CollectionVectors:
    """The chunk vectors of one collection at one index_version."""

    collection_id: uuid.UUID
    version: int
    ids: npt.NDArray[np.int64]
    documents: npt.NDArray[np.int32]  # index into document_ids
    document_ids: list[uuid.UUID]
    matrix: Matrix
    _document_index: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.ids.nbytes + self.documents.nbytes)

    def mask_of(self, allowed: set[uuid.UUID] | None) -> npt.NDArray[np.bool_] | None:
        if allowed is None:
            return None
        keep = np.zeros(len(self.document_ids), dtype=bool)
        for document_id in allowed:
            index = self._document_index.get(document_id)
            if index is not None:
                keep[index] = True
        return keep[self.documents]

    def top(self, query: Matrix, k: int, allowed: set[uuid.UUID] | None) -> list[tuple[int, float]]:
        """The k chunks nearest to `query` (a unit vector): (chunk id, cosine similarity)."""
        if len(self.ids) == 0 or k <= 0:
            return []
        scores = self.matrix @ query.reshape(-1)
        mask = self.mask_of(allowed)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in best if np.isfinite(scores[i])]


class VectorCache:
    """Collections' vectors in this process, least recently used dropped past `max_bytes`."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[uuid.UUID, CollectionVectors] = OrderedDict()
        self._loading: dict[uuid.UUID, asyncio.Lock] = {}

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()

    async def get(self, db: Database, collection_id: uuid.UUID, version: int) -> CollectionVectors:
        entry = self._entries.get(collection_id)
        if entry is not None and entry.version == version:
            self._entries.move_to_end(collection_id)
            return entry
        lock = self._loading.setdefault(collection_id, asyncio.Lock())
        async with lock:
            entry = self._entries.get(collection_id)
            if entry is not None and entry.version == version:
                return entry
            entry = await load_vectors(db, collection_id, version)
            self._entries.pop(collection_id, None)
            self._entries[collection_id] = entry
            while len(self._entries) > 1 and self.nbytes > self.max_bytes:
                self._entries.popitem(last=False)
        return entry


async def load_vectors(db: Database, collection_id: uuid.UUID, version: int) -> CollectionVectors:
    """Read a collection's embedded chunks (in id order, a page at a time)."""
    ids: list[int] = []
    documents: list[int] = []
    document_ids: list[uuid.UUID] = []
    index: dict[uuid.UUID, int] = {}
    blobs: list[bytes] = []
    after = -1
    async with db.session() as session:
        while True:
            rows = (
                await session.execute(
                    select(KBChunk.id, KBChunk.document_id, KBChunk.embedding)
                    .where(
                        KBChunk.collection_id == collection_id,
                        KBChunk.kind == ChunkKind.chunk,
                        KBChunk.id > after,
                        KBChunk.embedding.is_not(None),
                    )
                    .order_by(KBChunk.id)
                    .limit(LOAD_BATCH)
                )
            ).all()
            for chunk_id, document_id, blob in rows:
                if blob is None:
                    continue
                position = index.get(document_id)
                if position is None:
                    position = index[document_id] = len(document_ids)
                    document_ids.append(document_id)
                ids.append(chunk_id)
                documents.append(position)
                blobs.append(blob)
            if len(rows) < LOAD_BATCH:
                break
            after = rows[-1][0]
    sizes = {len(b) for b in blobs}
    if len(sizes) > 1:  # cannot happen through ingestion (it checks); never crash a search on it
        common = max(sizes, key=lambda s: sum(1 for b in blobs if len(b) == s))
        keep = [i for i, b in enumerate(blobs) if len(b) == common]
        ids = [ids[i] for i in keep]
        documents = [documents[i] for i in keep]
        blobs = [blobs[i] for i in keep]
    dims = (len(blobs[0]) // 4) if blobs else 0
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(len(blobs), dims)
    return CollectionVectors(
        collection_id=collection_id,
        version=version,
        ids=np.asarray(ids, dtype=np.int64),
        documents=np.asarray(documents, dtype=np.int32),
        document_ids=document_ids,
        matrix=matrix,
        _document_index=index,
    )


CACHE = VectorCache()
"""This process's cache (searches of every org; entries are per collection)."""
