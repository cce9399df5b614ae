"""Knowledge bases (issue 13): one JSON line per scenario.

- `ingest`: documents of real prose (the labelled set's, several joined per document) through
  the ingestion loop with the local embedding model: chunks/s from claim to indexed.
- `search`: hybrid, vector and text search p50/p95 (in process, through `knowledge.service.search`,
  the query embedded by the local model each time: every query is new) at BENCH_KB_CHUNKS
  chunks in one collection. The chunks are written directly with synthetic text (words of a
  Zipf-distributed vocabulary) and random unit vectors: embedding 100k chunks with the model
  would take hours on this machine. Also: the time of the first vector search (loading the
  vectors into the cache), peak RSS after searching, the cache's bytes.
- `recall`: recall@5 (and @1) of vector, text and hybrid search on tests/data/kb_eval.
- `scan`: exact numpy top-10 over random unit vectors at several sizes (no database).

BENCH_BACKENDS ("sqlite,postgresql"; PostgreSQL from WIREWORK_TEST_POSTGRES_URL),
BENCH_KB_CHUNKS (100000), BENCH_KB_QUERIES (200), BENCH_KB_INGEST_DOCS (20),
BENCH_KB_SCAN_SIZES ("100000,400000,1000000"), BENCH_KB_SCENARIOS ("ingest,search,recall,scan").
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, insert, update
from tests.knowledge.kb_eval import build, load, recall_at
from tests.support.databases import create_database, drop_database

from wirework.accounts.models import Organization
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.db.types import utcnow, uuid7
from wirework.knowledge import ingest, service
from wirework.knowledge.models import (
    ChunkKind,
    DocumentSource,
    DocumentStatus,
    KBChunk,
    KBCollection,
    KBDocument,
)
from wirework.knowledge.vectors import CACHE
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
CHUNKS = int(os.environ.get("BENCH_KB_CHUNKS", "100000"))
QUERIES = int(os.environ.get("BENCH_KB_QUERIES", "200"))
INGEST_DOCS = int(os.environ.get("BENCH_KB_INGEST_DOCS", "20"))
SCAN_SIZES = [int(x) for x in os.environ.get("BENCH_KB_SCAN_SIZES", "100000,400000,1000000").split(",")]
SCENARIOS = os.environ.get("BENCH_KB_SCENARIOS", "ingest,search,recall,scan").split(",")
DIMS = 384
CHUNKS_PER_DOCUMENT = 100
VAULT = Vault("bench-secret-" + "x" * 32)


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures), flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def organization(db: Database) -> uuid.UUID:
    org_id = uuid7()
    async with db.session() as session:
        session.add(Organization(id=org_id, name="bench", slug=f"bench-{org_id.hex}"))
        await session.commit()
    return org_id


async def bench_ingest(db: Database, backend: str) -> None:
    org = await organization(db)
    documents, _ = load()
    async with db.session() as session:
        collection = await service.create_collection(session, org, {"name": "ingest"})
        await session.commit()
    rng = random.Random(1)
    for i in range(INGEST_DOCS):
        picked = rng.sample(documents, 10)
        text = "\n\n".join(f"{d['title']}\n\n{d['text']}" for d in picked)
        await service.add_document(db, org, collection.id, name=f"doc-{i}.txt", text=text)
    jobs = ingest.KnowledgeJobs(db, VAULT, owner="bench", ssrf=SsrfPolicy())
    started = time.perf_counter()
    await jobs.run_once()
    elapsed = time.perf_counter() - started
    async with db.session() as session:
        from sqlalchemy import func, select

        chunks = (
            await session.execute(
                select(func.count()).select_from(KBChunk).where(KBChunk.collection_id == collection.id)
            )
        ).scalar_one()
        statuses = (
            await session.execute(select(KBDocument.status).where(KBDocument.collection_id == collection.id))
        ).scalars()
        indexed = sum(1 for s in statuses if s == DocumentStatus.indexed)
    emit(
        {
            "bench": "kb",
            "scenario": "ingest",
            "backend": backend,
            "documents": INGEST_DOCS,
            "indexed": indexed,
            "chunks": chunks,
            "seconds": round(elapsed, 2),
            "chunks_per_s": round(chunks / elapsed, 1),
            "model": "local all-MiniLM-L6-v2 (numpy), chunk_size 256",
            "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
        }
    )


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


async def fill(db: Database, org: uuid.UUID, total: int) -> uuid.UUID:
    """A collection of `total` chunks of synthetic text with random unit vectors, written directly."""
    rng = random.Random(7)
    nrng = np.random.default_rng(7)
    words = vocabulary(rng)
    weights = [1 / (i + 1) for i in range(len(words))]  # Zipf-like: few frequent words, many rare
    now = utcnow()
    async with db.session() as session:
        collection = KBCollection(
            org_id=org,
            name="filled",
            chunk_size=256,
            chunk_overlap=32,
            embedding_dimensions=DIMS,
            index_version=1,
        )
        session.add(collection)
        await session.commit()
    documents = (total + CHUNKS_PER_DOCUMENT - 1) // CHUNKS_PER_DOCUMENT
    for start in range(0, documents, 50):
        ids = [uuid7() for _ in range(min(50, documents - start))]
        doc_rows = [
            {
                "id": did,
                "org_id": org,
                "collection_id": collection.id,
                "name": f"synthetic-{start + i}",
                "source": DocumentSource.api,
                "content": "",
                "content_hash": "0" * 64,
                "size_bytes": 0,
                "metadata": {"part": (start + i) % 10},
                "status": DocumentStatus.indexed,
                "chunk_count": CHUNKS_PER_DOCUMENT,
                "chunks_embedded": CHUNKS_PER_DOCUMENT,
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i, did in enumerate(ids)
        ]
        chunk_rows = []
        for did in ids:
            vectors = nrng.standard_normal((CHUNKS_PER_DOCUMENT, DIMS)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for position in range(CHUNKS_PER_DOCUMENT):
                text = " ".join(rng.choices(words, weights, k=60))
                chunk_rows.append(
                    {
                        "org_id": org,
                        "collection_id": collection.id,
                        "document_id": did,
                        "parent_id": None,
                        "kind": ChunkKind.chunk,
                        "position": position,
                        "content": text,
                        "token_count": 60,
                        "metadata": {},
                        "embedding": vectors[position].astype("<f4").tobytes(),
                        "created_at": now,
                    }
                )
        async with db.session() as session:
            await session.execute(insert(cast(Table, KBDocument.__table__)), doc_rows)
            await session.execute(insert(cast(Table, KBChunk.__table__)), chunk_rows)
            await session.commit()
    async with db.session() as session:
        await session.execute(
            update(KBCollection).where(KBCollection.id == collection.id).values(index_version=2)
        )
        await session.commit()
    return collection.id


async def bench_search(db: Database, backend: str) -> None:
    org = await organization(db)
    started = time.perf_counter()
    collection = await fill(db, org, CHUNKS)
    fill_s = time.perf_counter() - started
    rng = random.Random(11)
    words = vocabulary(random.Random(7))
    ssrf = SsrfPolicy()
    CACHE.clear()
    started = time.perf_counter()
    await service.search(db, VAULT, org, [collection], "warm up the cache", mode="vector", ssrf=ssrf)
    first_vector_s = time.perf_counter() - started
    figures: dict[str, Any] = {
        "bench": "kb",
        "scenario": "search",
        "backend": backend,
        "chunks": CHUNKS,
        "queries": QUERIES,
        "filled_s": round(fill_s, 1),
        "note": "synthetic text and random unit vectors written directly; the query is embedded by the "
        "local model in every search (each query new)",
        "first_vector_search_s": round(first_vector_s, 2),
    }
    for mode in ("hybrid", "vector", "text"):
        times = []
        for i in range(QUERIES):
            # 2 to 4 words: some frequent, some rare; a new string each time (no query-vector cache hit)
            query = " ".join(rng.choice(words[:2000] if j % 2 else words) for j in range(rng.randint(2, 4)))
            query = f"{query} {mode}{i}"
            t = time.perf_counter()
            await service.search(db, VAULT, org, [collection], query, mode=mode, limit=10, ssrf=ssrf)
            times.append((time.perf_counter() - t) * 1000)
        figures[f"{mode}_p50_ms"] = round(statistics.median(times), 1)
        figures[f"{mode}_p95_ms"] = round(percentile(times, 95), 1)
    # The same with a metadata filter (a tenth of the documents).
    times = []
    for i in range(QUERIES // 2):
        query = " ".join(rng.choice(words) for _ in range(3)) + f" f{i}"
        t = time.perf_counter()
        await service.search(
            db, VAULT, org, [collection], query, mode="hybrid", limit=10, filters={"part": 3}, ssrf=ssrf
        )
        times.append((time.perf_counter() - t) * 1000)
    figures["hybrid_filtered_p95_ms"] = round(percentile(times, 95), 1)
    # The query's embedding alone, for scale.
    from wirework.ai import local_embedding

    model = local_embedding.model()
    times = []
    for i in range(50):
        t = time.perf_counter()
        model.embed([f"an ordinary question number {i}"])
        times.append((time.perf_counter() - t) * 1000)
    figures["query_embedding_p50_ms"] = round(statistics.median(times), 1)
    figures["cache_mb"] = round(CACHE.nbytes / 1e6, 1)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    emit(figures)


async def bench_recall(db: Database, backend: str) -> None:
    org = await organization(db)
    collection = await build(db, VAULT, org)
    figures: dict[str, Any] = {"bench": "kb", "scenario": "recall", "backend": backend}
    for mode in ("vector", "text", "hybrid"):
        at5 = await recall_at(db, VAULT, org, collection, mode, k=5)
        at1 = await recall_at(db, VAULT, org, collection, mode, k=1)
        figures[f"{mode}_recall@5"] = round(at5.recall, 3)
        figures[f"{mode}_recall@1"] = round(at1.recall, 3)
        figures[f"{mode}_recall@1_by_kind"] = {k: round(v, 3) for k, v in at1.by_kind.items()}
    figures["queries"] = len(load()[1])
    emit(figures)


def bench_scan() -> None:
    """Exact top-10 (the cache's own `top`) over random unit vectors, no database: how the scan
    grows with the collection (decision 0013)."""
    from wirework.knowledge.vectors import CollectionVectors

    rng = np.random.default_rng(3)
    for size in SCAN_SIZES:
        matrix = rng.standard_normal((size, DIMS), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        entry = CollectionVectors(
            collection_id=uuid.uuid4(),
            version=1,
            ids=np.arange(size, dtype=np.int64),
            documents=np.zeros(size, dtype=np.int32),
            document_ids=[uuid.uuid4()],
            matrix=matrix,
        )
        queries = rng.standard_normal((50, DIMS), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = []
        for q in queries:
            t = time.perf_counter()
            entry.top(q, 10, None)
            exact.append((time.perf_counter() - t) * 1000)
        emit(
            {
                "bench": "kb",
                "scenario": "scan",
                "vectors": size,
                "exact_top10_p50_ms": round(statistics.median(exact), 2),
                "exact_top10_p95_ms": round(percentile(exact, 95), 2),
                "matrix_mb": round(matrix.nbytes / 1e6, 1),
            }
        )
        del entry, matrix


async def main() -> None:
    for backend in BACKENDS:
        if backend != "sqlite" and not os.environ.get(
            "WIREWORK_TEST_POSTGRES_URL" if backend == "postgresql" else "WIREWORK_TEST_MYSQL_URL"
        ):
            emit({"bench": "kb", "backend": backend, "skipped": "no server URL in the environment"})
            continue
        with tempfile.TemporaryDirectory() as tmp:
            url = await create_database(backend, Path(tmp))
            db = Database(url, pool_size=5)
            try:
                await migrate.upgrade(db)
                if "ingest" in SCENARIOS:
                    await bench_ingest(db, backend)
                if "recall" in SCENARIOS:
                    await bench_recall(db, backend)
                if "search" in SCENARIOS:
                    await bench_search(db, backend)
            finally:
                CACHE.clear()
                await db.dispose()
                await drop_database(backend, url)
    if "scan" in SCENARIOS:  # last: its matrices would dominate the peak RSS of the search scenario
        bench_scan()


if __name__ == "__main__":
    asyncio.run(main())
