"""Search of knowledge bases: by meaning (vectors), by words (each database's full-text
index), or both fused by reciprocal rank (k=60); metadata filters before ranking; a parent's
text returned for the chunks under it, once per parent.

Words: SQLite FTS5 (`bm25`), PostgreSQL `websearch_to_tsquery('english', …)` with
`ts_rank_cd`, MariaDB `MATCH … AGAINST (… IN NATURAL LANGUAGE MODE)`. The user's query never
reaches a full-text syntax as written: it is cut into words (letters and digits), each
quoted for FTS5 and joined with OR, so no query can raise a syntax error and a longer query
finds more, not nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import Float, Integer, bindparam, column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.db.engine import Database
from wirework.db.scoping import scoped
from wirework.errors import NotFound, ValidationFailed
from wirework.knowledge.models import ChunkKind, KBChunk, KBCollection, KBDocument
from wirework.knowledge.vectors import CACHE, Embedder, embedder_of, normalised
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

Mode = Literal["hybrid", "vector", "text"]
MODES: tuple[str, ...] = ("hybrid", "vector", "text")
MAX_QUERY_CHARS = 2_000
MAX_LIMIT = 50
MAX_COLLECTIONS = 20
MAX_FILTER_KEYS = 20
MAX_FILTER_VALUES = 100
MAX_TERMS = 32
RRF_K = 60
IN_LIMIT = 1_000
"""Document ids a filtered words search binds in one statement; past it, see `text_search`."""
FILTER_FIRST_WINDOW = 500
ALLOWED_PARTITION = 2_000  # documents' metadata read at once when a filter is applied
FILTER_SCAN_MAX = 50_000
"""Ranked rows a words search reads at most to find k that pass a filter leaving > IN_LIMIT documents."""

_STOP = """a an and are as at be but by can do does for from has have how i in is it its of on or
that the their there these this to was what when where which who why will with you your"""
STOP_WORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: uuid.UUID
    document_name: str
    collection_id: uuid.UUID
    content: str  # the parent chunk's text when the collection has parents, else the chunk's
    score: float  # fused (hybrid) or the single retriever's score
    scores: dict[str, float | None]  # "vector", "text", "hybrid"; None where it did not find it
    metadata: dict[str, Any]


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def check_filters(filters: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{key: value or [values]} → {key: [values]}; a value is a string, number, boolean or null."""
    if not filters:
        return {}
    if not isinstance(filters, dict):
        raise _refuse("filters", "filters must be an object: {key: value or [values]}")
    if len(filters) > MAX_FILTER_KEYS:
        raise _refuse("filters", f"at most {MAX_FILTER_KEYS} filter keys, not {len(filters)}")
    out: dict[str, list[Any]] = {}
    for key, value in filters.items():
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_FILTER_VALUES:
            raise _refuse("filters", f"filter {key!r} needs 1 to {MAX_FILTER_VALUES} values")
        for v in values:
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise _refuse("filters", f"filter {key!r}: values are strings, numbers, booleans or null")
        out[str(key)] = values
    return out


def matches(meta: dict[str, Any] | None, filters: dict[str, list[Any]]) -> bool:
    """Every filter key holds one of its values (a list in the metadata matches if any item does)."""
    meta = meta or {}
    for key, values in filters.items():
        if key not in meta:
            return False
        held = meta[key]
        candidates = held if isinstance(held, list) else [held]
        if not any(_same(c, v) for c in candidates for v in values):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def terms(query: str) -> list[str]:
    """The words of a query that the full-text index is asked for (stop words dropped when
    others remain), in order, once each."""
    words = list(dict.fromkeys(w for w in re.findall(r"\w+", query.lower()) if len(w) < 64))
    kept = [w for w in words if w not in STOP_WORDS]
    return (kept or words)[:MAX_TERMS]


async def search(
    db: Database,
    vault: Vault,
    org_id: uuid.UUID,
    collection_ids: list[uuid.UUID],
    query: str,
    *,
    mode: Mode = "hybrid",
    limit: int = 5,
    filters: dict[str, Any] | None = None,
    ssrf: SsrfPolicy,
) -> list[SearchHit]:
    """The `limit` best chunks of the collections for `query` (another organization's
    collection is NotFound)."""
    query = (query or "").strip()
    if not query:
        raise _refuse("query", "the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise _refuse("query", f"the query has {len(query)} characters; at most {MAX_QUERY_CHARS}")
    if "\x00" in query:
        raise _refuse("query", "the query contains a NUL character")
    if mode not in MODES:
        raise _refuse("mode", f"mode {mode!r} is not one of {', '.join(MODES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise _refuse("limit", f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    wanted = list(dict.fromkeys(collection_ids))
    if not wanted:
        return []
    if len(wanted) > MAX_COLLECTIONS:
        raise _refuse("collection_ids", f"at most {MAX_COLLECTIONS} knowledge bases per search")
    checked = check_filters(filters)
    candidates = min(200, max(4 * limit, 20))

    async with db.session() as session:
        collections = list(
            (await session.execute(scoped(KBCollection, org_id).where(KBCollection.id.in_(wanted)))).scalars()
        )
        missing = set(wanted) - {c.id for c in collections}
        if missing:
            raise NotFound(f"Knowledge base {sorted(missing, key=str)[0]} not found")
        allowed = await _allowed_documents(session, wanted, checked) if checked else None
        if allowed is not None and not allowed:
            return []

        async def by_words() -> list[tuple[int, float]]:
            if mode == "vector":
                return []
            return await text_search(session, db.dialect, wanted, query, candidates, allowed)

        async def by_meaning() -> list[tuple[int, float]]:
            if mode == "text":
                return []
            return await vector_search(db, vault, collections, query, candidates, allowed, ssrf=ssrf)

        # The query's embedding (a thread) and the full-text query (the database) at once.
        text_ranked, vector_ranked = await asyncio.gather(by_words(), by_meaning())
        vector_scores = dict(vector_ranked)
        text_scores = dict(text_ranked)
        if mode == "vector":
            order = vector_ranked
        elif mode == "text":
            order = text_ranked
        else:
            order = fuse([vector_ranked, text_ranked])
        fused = dict(order) if mode == "hybrid" else {}
        return await _hits(session, order, limit, mode, vector_scores, text_scores, fused)


def fuse(rankings: list[list[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) to its items (rank from 1)."""
    total: dict[int, float] = defaultdict(float)
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            total[item] += 1.0 / (k + rank)
    return sorted(total.items(), key=lambda pair: (-pair[1], pair[0]))


async def _allowed_documents(
    session: AsyncSession, collection_ids: list[uuid.UUID], filters: dict[str, list[Any]]
) -> set[uuid.UUID]:
    """The ids of the collections' documents whose metadata passes the filters. The rows are
    streamed in partitions (up to 20 collections x 10,000 documents x 8 KB of metadata would be
    1.6 GB held at once); only the passing ids are kept."""
    allowed: set[uuid.UUID] = set()
    result = await session.stream(
        select(KBDocument.id, KBDocument.meta)
        .where(KBDocument.collection_id.in_(collection_ids))
        .execution_options(yield_per=ALLOWED_PARTITION)
    )
    async for partition in result.partitions():
        allowed.update(document_id for document_id, meta in partition if matches(meta, filters))
    return allowed


QUERY_CACHE_SIZE = 1_000
_QUERY_VECTORS: dict[tuple[str, str], Any] = {}
"""Vectors of recent queries by embedder (a query asked again, or in another mode, is not embedded
again; an embedder's key names its model, so another model never reuses them)."""


async def vector_search(
    db: Database,
    vault: Vault,
    collections: list[KBCollection],
    query: str,
    k: int,
    allowed: set[uuid.UUID] | None,
    *,
    ssrf: SsrfPolicy,
) -> list[tuple[int, float]]:
    """(chunk id, cosine) of the k nearest chunks over the collections, best first. The query
    is embedded once per embedding model among them."""
    found: list[tuple[int, float]] = []
    for collection in collections:
        if not collection.embedding_dimensions:
            continue  # nothing embedded yet
        embedder: Embedder = await embedder_of(db, vault, collection, ssrf=ssrf)
        vector = _QUERY_VECTORS.get((embedder.key, query))
        if vector is None:
            vector = normalised(await embedder.embed([query]))[0]
            if len(_QUERY_VECTORS) >= QUERY_CACHE_SIZE:
                _QUERY_VECTORS.pop(next(iter(_QUERY_VECTORS)))
            _QUERY_VECTORS[(embedder.key, query)] = vector
        if len(vector) != collection.embedding_dimensions:
            raise ValidationFailed(
                f"the query's embedding has {len(vector)} dimensions, the vectors of knowledge base "
                f"{collection.name!r} have {collection.embedding_dimensions}: index it again with its model"
            )
        entry = await CACHE.get(db, collection.id, collection.index_version)
        found.extend(entry.top(np.asarray(vector, dtype=np.float32), k, allowed))
    found.sort(key=lambda pair: (-pair[1], pair[0]))
    return found[:k]


async def text_search(
    session: AsyncSession,
    dialect: str,
    collection_ids: list[uuid.UUID],
    query: str,
    k: int,
    allowed: set[uuid.UUID] | None,
) -> list[tuple[int, float]]:
    """(chunk id, score) of the k chunks that best match the query's words, best first, of the
    `allowed` documents when a filter left some. Never one bind parameter per document beyond
    IN_LIMIT (asyncpg refuses more than 32,767 in a statement; a filter may leave 200,000): a
    larger set is applied to the ranked rows here, reading a window that grows 4x while fewer
    than k pass, up to FILTER_SCAN_MAX rows, so the statement's size never grows with matches."""
    words = terms(query)
    if not words:
        return []
    if allowed is None or len(allowed) <= IN_LIMIT:
        return [
            (chunk_id, score)
            for chunk_id, score, _ in await _ranked(session, dialect, collection_ids, words, k, allowed)
        ]
    window = max(FILTER_FIRST_WINDOW, 8 * k)
    while True:
        rows = await _ranked(session, dialect, collection_ids, words, window, None)
        found = [(chunk_id, score) for chunk_id, score, document_id in rows if document_id in allowed]
        if len(found) >= k or len(rows) < window or window >= FILTER_SCAN_MAX:
            return found[:k]
        window = min(window * 4, FILTER_SCAN_MAX)


async def _ranked(
    session: AsyncSession,
    dialect: str,
    collection_ids: list[uuid.UUID],
    words: list[str],
    k: int,
    documents: set[uuid.UUID] | None,
) -> list[tuple[int, float, uuid.UUID]]:
    """(chunk id, score, document id) of the k best chunks for the words, of `documents` if given."""
    params: dict[str, Any] = {"collections": list(collection_ids), "k": k}
    where_docs = ""
    if documents is not None:
        where_docs = " AND c.document_id IN :documents"
        params["documents"] = list(documents)
    if dialect == "sqlite":
        params["q"] = " OR ".join(f'"{w}"' for w in words)
        statement = text(
            "SELECT c.id, -bm25(kb_chunks_fts) AS score, c.document_id FROM kb_chunks_fts "  # noqa: S608 - constants
            "JOIN kb_chunks c ON c.id = kb_chunks_fts.rowid "
            "WHERE kb_chunks_fts MATCH :q AND c.collection_id IN :collections AND c.kind = 'chunk'"
            + where_docs
            + " "
            "ORDER BY bm25(kb_chunks_fts) LIMIT :k"
        )
    elif dialect == "postgresql":
        params["q"] = " or ".join(w for w in words if w not in ("or", "and", "not"))
        statement = text(
            "SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score, c.document_id "
            "FROM kb_chunks c, websearch_to_tsquery('english', :q) AS q(query) "
            "WHERE c.tsv @@ q.query AND c.collection_id IN :collections AND c.kind = 'chunk'"
            + where_docs
            + " "
            "ORDER BY score DESC, c.id LIMIT :k"
        )
    else:
        params["q"] = " ".join(words)
        statement = text(
            "SELECT c.id, MATCH(c.content) AGAINST (:q IN NATURAL LANGUAGE MODE) AS score, c.document_id "
            "FROM kb_chunks c "
            "WHERE MATCH(c.content) AGAINST (:q IN NATURAL LANGUAGE MODE) "
            "AND c.collection_id IN :collections AND c.kind = 'chunk'" + where_docs + " "
            "ORDER BY score DESC, c.id LIMIT :k"
        )
    if not params["q"]:
        return []
    uuid_type = KBChunk.__table__.c.collection_id.type
    statement = statement.bindparams(bindparam("collections", expanding=True, type_=uuid_type))
    if documents is not None:
        statement = statement.bindparams(bindparam("documents", expanding=True, type_=uuid_type))
    typed = statement.columns(
        column("id", Integer),
        column("score", Float),
        column("document_id", KBChunk.__table__.c.document_id.type),
    )
    rows = await session.execute(typed, params)
    return [(int(chunk_id), float(score), document_id) for chunk_id, score, document_id in rows]


async def _hits(
    session: AsyncSession,
    order: list[tuple[int, float]],
    limit: int,
    mode: str,
    vector_scores: dict[int, float],
    text_scores: dict[int, float],
    fused: dict[int, float],
) -> list[SearchHit]:
    """The ranked chunks as hits: a parent's text for chunks that have one, each parent once."""
    if not order:
        return []
    ids = [chunk_id for chunk_id, _ in order[: max(limit * 4, 20)]]
    columns = (
        KBChunk.id,
        KBChunk.document_id,
        KBChunk.collection_id,
        KBChunk.parent_id,
        KBChunk.content,
        KBChunk.meta,
    )
    rows = {row.id: row for row in await session.execute(select(*columns).where(KBChunk.id.in_(ids)))}
    parent_ids = {c.parent_id for c in rows.values() if c.parent_id is not None}
    parents: dict[int, str] = {}
    if parent_ids:
        parents = {
            pid: content
            for pid, content in await session.execute(
                select(KBChunk.id, KBChunk.content).where(
                    KBChunk.id.in_(parent_ids), KBChunk.kind == ChunkKind.parent
                )
            )
        }
    document_ids = {c.document_id for c in rows.values()}
    names = {
        did: name
        for did, name in await session.execute(
            select(KBDocument.id, KBDocument.name).where(KBDocument.id.in_(document_ids))
        )
    }
    hits: list[SearchHit] = []
    seen: set[tuple[str, int]] = set()
    for chunk_id, score in order:
        chunk = rows.get(chunk_id)
        if chunk is None or chunk.document_id not in names:
            continue  # deleted since it was ranked
        key = ("parent", chunk.parent_id) if chunk.parent_id is not None else ("chunk", chunk.id)
        if key in seen:
            continue
        seen.add(key)
        content = (
            parents.get(chunk.parent_id, chunk.content) if chunk.parent_id is not None else chunk.content
        )
        hits.append(
            SearchHit(
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                document_name=names[chunk.document_id],
                collection_id=chunk.collection_id,
                content=content,
                score=score,
                scores={
                    "vector": vector_scores.get(chunk.id),
                    "text": text_scores.get(chunk.id),
                    "hybrid": fused.get(chunk.id) if mode == "hybrid" else None,
                },
                metadata=dict(chunk.meta or {}),
            )
        )
        if len(hits) == limit:
            break
    return hits
