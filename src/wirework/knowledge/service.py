"""What knowledge bases do, for the API, nodes and agents: collections, documents (upload,
URL, API), conversation links, and search (`search` lives in `knowledge.search`).

Adding a document extracts its text at once (a bad file is stored `failed` with its error, so
the user sees why) and leaves the row `pending`; the ingestion loop (`knowledge.ingest`) chunks
and embeds it in the background. The same name with the same text is left as it is; with other
text it is replaced and indexed again, its old chunks searchable until the new ones are ready.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.ai.models import AIModel, ModelType
from wirework.bots.models import UserSession
from wirework.db.engine import Database
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from wirework.knowledge import ingest
from wirework.knowledge.models import (
    DocumentSource,
    DocumentStatus,
    KBChunk,
    KBCollection,
    KBDocument,
    UserKBAssociation,
)
from wirework.knowledge.search import MAX_COLLECTIONS, SearchHit, search
from wirework.security.bodies import check_text
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, guarded_client

__all__ = [
    "MAX_COLLECTIONS",
    "SearchHit",
    "add_document",
    "add_document_from_url",
    "collection_ids",
    "collections_of_session",
    "search",
]

# Bounds of what a user controls.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""An upload, a fetched page or an API text: past this, 413 (the API refuses any body past
WIREWORK_API_MAX_BODY_BYTES, 16 MB, before this)."""
MAX_TEXT_CHARS = 2_000_000
"""Extracted text kept per document (about 500k tokens)."""
MAX_DOCUMENTS = 10_000
"""Documents per collection."""
MAX_COLLECTIONS_PER_ORG = 1_000
MAX_METADATA_BYTES = 8_192
MAX_METADATA_KEYS = 50
MAX_METADATA_DEPTH = 8
MAX_LINKS_PER_SESSION = MAX_COLLECTIONS
URL_TIMEOUT_S = 20.0
URL_MAX_REDIRECTS = 5
CHUNK_SIZE_RANGE = (16, 1024)
PARENT_SIZE_MAX = 8192


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


# ------------------------------------------------------------------------------ collections


def collection_out(collection: KBCollection, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": collection.id,
        "name": collection.name,
        "description": collection.description,
        "bot_id": collection.bot_id,
        "metadata": collection.meta or {},
        "embedding_model_id": collection.embedding_model_id,
        "embedding_dimensions": collection.embedding_dimensions,
        "chunk_size": collection.chunk_size,
        "chunk_overlap": collection.chunk_overlap,
        "parent_chunk_size": collection.parent_chunk_size,
        "index_version": collection.index_version,
        "documents": counts or {},
        "created_at": collection.created_at,
        "updated_at": collection.updated_at,
    }


def check_chunking(chunk_size: int, chunk_overlap: int, parent_chunk_size: int | None) -> None:
    low, high = CHUNK_SIZE_RANGE
    if not low <= chunk_size <= high:
        raise _invalid("chunk_size", f"chunk_size must be between {low} and {high} tokens, not {chunk_size}")
    if not 0 <= chunk_overlap <= chunk_size // 2:
        raise _invalid(
            "chunk_overlap",
            f"chunk_overlap must be between 0 and half the chunk size ({chunk_size // 2}), "
            f"not {chunk_overlap}",
        )
    if parent_chunk_size is not None and not chunk_size < parent_chunk_size <= PARENT_SIZE_MAX:
        raise _invalid(
            "parent_chunk_size",
            f"parent_chunk_size must be larger than chunk_size ({chunk_size}) and at most "
            f"{PARENT_SIZE_MAX} tokens, or null for no parents",
        )


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def check_metadata(meta: dict[str, Any] | None, field: str = "metadata") -> dict[str, Any]:
    """Key/values every database stores alike: an object of at most MAX_METADATA_KEYS keys,
    MAX_METADATA_DEPTH levels and MAX_METADATA_BYTES as JSON, finite numbers, text without NUL or
    lone surrogates."""
    meta = meta or {}
    if not isinstance(meta, dict):
        raise _invalid(field, f"{field} must be an object of key/values")
    if len(meta) > MAX_METADATA_KEYS:
        raise _invalid(field, f"{field} has {len(meta)} keys; at most {MAX_METADATA_KEYS}")
    try:
        if _depth(meta) > MAX_METADATA_DEPTH:
            raise _invalid(field, f"{field} nests deeper than {MAX_METADATA_DEPTH} levels")
        encoded = json.dumps(meta, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise _invalid(field, f"{field} nests deeper than {MAX_METADATA_DEPTH} levels") from None
    except ValueError:
        raise _invalid(field, f"{field} holds NaN or an infinite number") from None
    size = len(encoded.encode("utf-8", "surrogatepass"))
    if size > MAX_METADATA_BYTES:
        raise _invalid(field, f"{field} is {size} bytes as JSON; at most {MAX_METADATA_BYTES}")
    check_text(meta, where=field)
    return meta


async def _check_embedding_model(
    session: AsyncSession, org_id: uuid.UUID, model_id: uuid.UUID | None
) -> None:
    if model_id is None:
        return
    model = (
        await session.execute(scoped(AIModel, org_id).where(AIModel.id == model_id))
    ).scalar_one_or_none()
    if model is None or model.type != ModelType.embedding:
        raise _invalid("embedding_model_id", f"no embedding model {model_id} in this organization")


async def _check_bot(session: AsyncSession, org_id: uuid.UUID, bot_id: uuid.UUID | None) -> None:
    if bot_id is None:
        return
    from wirework.bots.models import Bot

    if (await session.execute(scoped(Bot, org_id).where(Bot.id == bot_id))).scalar_one_or_none() is None:
        raise _invalid("bot_id", f"no bot {bot_id} in this organization")


async def _name_is_free(
    session: AsyncSession, org_id: uuid.UUID, name: str, but: uuid.UUID | None = None
) -> None:
    query = scoped(KBCollection, org_id).where(KBCollection.name == name)
    if but is not None:
        query = query.where(KBCollection.id != but)
    if (await session.execute(query)).first() is not None:
        raise Conflict(f"A knowledge base named {name!r} already exists in this organization.")


async def create_collection(session: AsyncSession, org_id: uuid.UUID, fields: dict[str, Any]) -> KBCollection:
    """A new collection (the caller commits)."""
    chunk_size = int(fields.get("chunk_size") or 250)
    overlap = int(fields["chunk_overlap"]) if fields.get("chunk_overlap") is not None else 32
    parent = fields.get("parent_chunk_size")
    check_chunking(chunk_size, overlap, parent)
    meta = check_metadata(fields.get("metadata"))
    await _check_embedding_model(session, org_id, fields.get("embedding_model_id"))
    await _check_bot(session, org_id, fields.get("bot_id"))
    await _name_is_free(session, org_id, fields["name"])
    count = (
        await session.execute(
            select(func.count()).select_from(KBCollection).where(KBCollection.org_id == org_id)
        )
    ).scalar_one()
    if count >= MAX_COLLECTIONS_PER_ORG:
        raise Conflict(f"This organization has {count} knowledge bases, the most it may have.")
    collection = KBCollection(
        org_id=org_id,
        name=fields["name"],
        description=fields.get("description"),
        bot_id=fields.get("bot_id"),
        meta=meta,
        embedding_model_id=fields.get("embedding_model_id"),
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        parent_chunk_size=parent,
        index_version=0,
    )
    session.add(collection)
    await session.flush()
    return collection


async def update_collection(
    session: AsyncSession, org_id: uuid.UUID, collection_id: uuid.UUID, fields: dict[str, Any]
) -> KBCollection:
    """Change a collection; new chunking settings or another embedding model index its
    documents again (the caller commits, then calls `ingest.wake()`)."""
    collection = await get_scoped(session, KBCollection, collection_id, org_id)
    if "name" in fields and fields["name"] != collection.name:
        await _name_is_free(session, org_id, fields["name"], but=collection.id)
        collection.name = fields["name"]
    if "description" in fields:
        collection.description = fields["description"]
    if "metadata" in fields:
        collection.meta = check_metadata(fields["metadata"])
    if "bot_id" in fields:
        await _check_bot(session, org_id, fields["bot_id"])
        collection.bot_id = fields["bot_id"]
    reindex = False
    chunk_size = fields.get("chunk_size", collection.chunk_size) or collection.chunk_size
    overlap = fields.get("chunk_overlap", collection.chunk_overlap)
    overlap = collection.chunk_overlap if overlap is None else overlap
    parent = fields.get("parent_chunk_size", collection.parent_chunk_size)
    check_chunking(chunk_size, overlap, parent)
    if (chunk_size, overlap, parent) != (
        collection.chunk_size,
        collection.chunk_overlap,
        collection.parent_chunk_size,
    ):
        collection.chunk_size, collection.chunk_overlap, collection.parent_chunk_size = (
            chunk_size,
            overlap,
            parent,
        )
        reindex = True
    if "embedding_model_id" in fields and fields["embedding_model_id"] != collection.embedding_model_id:
        await _check_embedding_model(session, org_id, fields["embedding_model_id"])
        collection.embedding_model_id = fields["embedding_model_id"]
        # Another vector space: the old vectors cannot be compared with the new ones.
        collection.embedding_dimensions = None
        await session.execute(delete(KBChunk).where(KBChunk.collection_id == collection.id))
        collection.index_version += 1
        reindex = True
    if reindex:
        await _requeue(session, collection.id)
    collection.updated_at = utcnow()
    await session.flush()
    return collection


async def _requeue(
    session: AsyncSession, collection_id: uuid.UUID, document_id: uuid.UUID | None = None
) -> int:
    """Put documents (all of the collection's, or one) back in the ingestion queue."""
    statement = update(KBDocument).where(KBDocument.collection_id == collection_id, KBDocument.content != "")
    if document_id is not None:
        statement = statement.where(KBDocument.id == document_id)
    result = await session.execute(
        statement.values(
            status=DocumentStatus.pending,
            error=None,
            attempts=0,
            chunks_embedded=0,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=utcnow(),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_collection(session: AsyncSession, org_id: uuid.UUID, collection_id: uuid.UUID) -> None:
    collection = await get_scoped(session, KBCollection, collection_id, org_id)
    # Chunks first, children before parents: MySQL does not cascade through the self-reference in order.
    await session.execute(
        delete(KBChunk).where(KBChunk.collection_id == collection.id, KBChunk.parent_id.is_not(None))
    )
    await session.execute(delete(KBChunk).where(KBChunk.collection_id == collection.id))
    await session.delete(collection)
    await session.flush()


async def document_counts(
    session: AsyncSession, collection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Documents per collection and status."""
    counts: dict[uuid.UUID, dict[str, int]] = {cid: {} for cid in collection_ids}
    if not collection_ids:
        return counts
    rows = await session.execute(
        select(KBDocument.collection_id, KBDocument.status, func.count())
        .where(KBDocument.collection_id.in_(list(collection_ids)))
        .group_by(KBDocument.collection_id, KBDocument.status)
    )
    for collection_id, status, count in rows:
        counts[collection_id][str(status)] = int(count)
    return counts


async def collection_ids(db: Database, org_id: uuid.UUID, refs: list[str]) -> list[uuid.UUID]:
    """Collections named by id or name → their ids, in order; an unknown one is NotFound."""
    if len(refs) > MAX_COLLECTIONS:
        raise ValidationFailed(f"{len(refs)} knowledge bases named; at most {MAX_COLLECTIONS} at once")
    found: list[uuid.UUID] = []
    async with db.session() as session:
        for ref in refs:
            ref = str(ref).strip()
            query = scoped(KBCollection, org_id)
            try:
                query = query.where(KBCollection.id == uuid.UUID(ref))
            except ValueError:
                query = query.where(KBCollection.name == ref)
            collection = (await session.execute(query)).scalar_one_or_none()
            if collection is None:
                raise NotFound(f"Knowledge base {ref!r} not found")
            if collection.id not in found:
                found.append(collection.id)
    return found


# ------------------------------------------------------------------------------ documents


def document_out(document: KBDocument, *, changed: bool | None = None) -> dict[str, Any]:
    out = {
        "id": document.id,
        "collection_id": document.collection_id,
        "name": document.name,
        "source": str(document.source),
        "source_url": document.source_url,
        "mime_type": document.mime_type,
        "size_bytes": document.size_bytes,
        "characters": len(document.content or ""),
        "content_hash": document.content_hash,
        "metadata": document.meta or {},
        "status": str(document.status),
        "error": document.error,
        "chunk_count": document.chunk_count,
        "chunks_embedded": document.chunks_embedded,
        "attempts": document.attempts,
        "indexed_at": document.indexed_at,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }
    if changed is not None:
        out["changed"] = changed
    return out


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise _invalid("name", "a document needs a name")
    if len(name) > 300:
        raise _invalid("name", f"a document name is at most 300 characters, not {len(name)}")
    if "\x00" in name:
        raise _invalid("name", "a document name cannot contain NUL")
    return name


async def _extract(
    data: bytes, name: str, mime_type: str | None
) -> tuple[str | None, str | None, str | None]:
    """(text, mime type, error) of an original, read by `extract_isolated` (a child process under
    the operating system's limits for anything but plain text; a 503 when every child is busy)."""
    from wirework.knowledge.extract import ExtractionError, extract_isolated

    try:
        extracted = await extract_isolated(data, filename=name, mime_type=mime_type)
    except ExtractionError as exc:
        return None, mime_type, str(exc)
    return extracted.text, extracted.mime_type, None


async def add_document(
    db: Database,
    org_id: uuid.UUID,
    collection_id: uuid.UUID,
    *,
    name: str,
    data: bytes | None = None,
    text: str | None = None,
    mime_type: str | None = None,
    source: DocumentSource = DocumentSource.api,
    source_url: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add (or replace) the document `name` of a collection from `text` or an original
    (`data`, extracted here). Returns the document: `pending` when it is to be indexed,
    unchanged (`changed` false) when the collection already has this text under this name,
    `failed` with its `error` when the original cannot be read."""
    name = _check_name(name)
    meta = check_metadata(metadata)
    if (data is None) == (text is None):
        raise ValidationFailed("give a document either as text or as a file, not both or neither")
    size = len(data) if data is not None else len((text or "").encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"the document is {size} bytes; at most {MAX_DOCUMENT_BYTES} bytes")
    error: str | None = None
    if data is not None:
        text, mime_type, error = await _extract(data, name, mime_type)
    else:
        if "\x00" in (text or ""):
            raise _invalid("text", "the text contains a NUL character")
        if not (text or "").strip():
            raise _invalid("text", "the text is empty")
        mime_type = mime_type or "text/plain"
    content = text or ""
    if len(content) > MAX_TEXT_CHARS:
        error = f"{name}: its text has {len(content):,} characters; at most {MAX_TEXT_CHARS:,} per document"
        content = ""
    if error is None and not content.strip():
        error = f"{name}: no text found in it"
    digest = _hash(content)

    for attempt in range(2):  # a racing add of the same name: the second try finds the first's row
        async with db.session() as session:
            collection = await get_scoped(session, KBCollection, collection_id, org_id)
            existing = (
                await session.execute(
                    scoped(KBDocument, org_id).where(
                        KBDocument.collection_id == collection.id, KBDocument.name == name
                    )
                )
            ).scalar_one_or_none()
            if (
                existing is not None
                and error is None
                and existing.content_hash == digest
                and existing.status != DocumentStatus.failed
            ):
                if existing.meta != meta and metadata is not None:
                    existing.meta = meta
                    await session.execute(
                        update(KBChunk).where(KBChunk.document_id == existing.id).values(meta=meta)
                    )
                    await _bump(session, collection.id)
                    await session.commit()
                return document_out(existing, changed=False)
            document = existing
            if document is None:
                count = (
                    await session.execute(
                        select(func.count())
                        .select_from(KBDocument)
                        .where(KBDocument.collection_id == collection.id)
                    )
                ).scalar_one()
                if count >= MAX_DOCUMENTS:
                    raise Conflict(f"This knowledge base has {count} documents, the most it may have.")
                document = KBDocument(org_id=org_id, collection_id=collection.id, name=name)
                session.add(document)
            document.source = source
            document.source_url = source_url
            document.mime_type = (mime_type or "")[:100] or None
            document.content = content
            document.content_hash = digest
            document.size_bytes = size
            document.meta = meta
            document.status = DocumentStatus.failed if error else DocumentStatus.pending
            document.error = error
            document.chunk_count = 0 if error else document.chunk_count or 0
            document.chunks_embedded = 0
            document.attempts = 0
            document.lease_owner = None
            document.lease_expires_at = None
            document.updated_at = utcnow()
            if error and existing is not None:
                # A failed replacement leaves nothing stale to find under its name.
                await _delete_chunks(session, existing.id)
                await _bump(session, collection.id)
            try:
                await session.commit()
            except IntegrityError:
                if attempt == 1:
                    raise
                await session.rollback()
                continue
            out = document_out(document, changed=True)
        if not error:
            ingest.wake()
        return out
    raise AssertionError("unreachable")


async def add_document_from_url(
    db: Database,
    org_id: uuid.UUID,
    collection_id: uuid.UUID,
    url: str,
    *,
    ssrf: SsrfPolicy,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fetch `url` through the SSRF guard (at most MAX_DOCUMENT_BYTES, URL_TIMEOUT_S, a few
    redirects, each hop checked), then add it as a document named by its URL."""
    async with db.session() as session:  # 404 before any request goes out
        await get_scoped(session, KBCollection, collection_id, org_id)
    data, mime_type, final_url = await fetch_url(url, ssrf)
    return await add_document(
        db,
        org_id,
        collection_id,
        name=name or _name_of(final_url),
        data=data,
        mime_type=mime_type,
        source=DocumentSource.url,
        source_url=final_url[:2000],
        metadata=metadata,
    )


def _name_of(url: str) -> str:
    name = url.split("://", 1)[-1].split("#", 1)[0]
    if len(name) > 300:
        name = name[:280] + "…" + _hash(name)[:8]
    return name


async def fetch_url(url: str, ssrf: SsrfPolicy) -> tuple[bytes, str | None, str]:
    """(body, content type, final URL) of a GET; a clear 422 for what cannot be fetched."""
    url = (url or "").strip()
    if len(url) > 2000:
        raise _invalid("url", "a URL is at most 2000 characters")
    try:
        parsed = httpx.URL(url)
    except Exception:
        raise _invalid("url", f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _invalid("url", f"{url!r} is not an http(s) URL")
    try:
        async with asyncio.timeout(URL_TIMEOUT_S), guarded_client(ssrf, timeout=URL_TIMEOUT_S) as client:
            current = parsed
            for _ in range(URL_MAX_REDIRECTS + 1):
                async with client.stream("GET", current, headers={"Accept": "*/*"}) as response:
                    if response.is_redirect and response.next_request is not None:
                        current = response.next_request.url
                        continue
                    if response.status_code >= 400:
                        raise _invalid("url", f"{current} answered HTTP {response.status_code}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                        raise PayloadTooLarge(
                            f"{current} is {int(declared)} bytes; at most {MAX_DOCUMENT_BYTES} bytes"
                        )
                    body = bytearray()
                    async for piece in response.aiter_bytes():
                        body += piece
                        if len(body) > MAX_DOCUMENT_BYTES:
                            raise PayloadTooLarge(f"{current} is larger than {MAX_DOCUMENT_BYTES} bytes")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
                    return bytes(body), content_type, str(current)
            raise _invalid("url", f"{url} redirected more than {URL_MAX_REDIRECTS} times")
    except SsrfBlocked as exc:
        raise _invalid("url", str(exc)) from None
    except TimeoutError:
        raise _invalid("url", f"{url} did not answer within {URL_TIMEOUT_S:g} s") from None
    except httpx.HTTPError as exc:
        raise _invalid("url", f"could not fetch {url}: {type(exc).__name__}: {exc}") from None


async def _delete_chunks(session: AsyncSession, document_id: uuid.UUID) -> None:
    await session.execute(
        delete(KBChunk).where(KBChunk.document_id == document_id, KBChunk.parent_id.is_not(None))
    )
    await session.execute(delete(KBChunk).where(KBChunk.document_id == document_id))


async def _bump(session: AsyncSession, collection_id: uuid.UUID) -> None:
    await session.execute(
        update(KBCollection)
        .where(KBCollection.id == collection_id)
        .values(index_version=KBCollection.index_version + 1)
    )


async def delete_document(session: AsyncSession, org_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """The document and its chunks go; searches stop finding it (the caller commits)."""
    document = await get_scoped(session, KBDocument, document_id, org_id)
    await _delete_chunks(session, document.id)
    await _bump(session, document.collection_id)
    await session.delete(document)
    await session.flush()


async def reindex_document(session: AsyncSession, org_id: uuid.UUID, document_id: uuid.UUID) -> KBDocument:
    """Index the document again (after a failure, or to pick up new settings)."""
    document = await get_scoped(session, KBDocument, document_id, org_id)
    if not document.content:
        raise Conflict(
            f"{document.name} has no text to index ({document.error or 'nothing extracted'}); add it again"
        )
    await _requeue(session, document.collection_id, document.id)
    await session.flush()
    await session.refresh(document)
    return document


# ------------------------------------------------------------------------------ conversations


async def collections_of_session(db: Database, org_id: uuid.UUID, session_id: uuid.UUID) -> list[uuid.UUID]:
    """The knowledge bases a conversation searches: its bot's, then those linked to it."""
    async with db.session() as session:
        conversation = await get_scoped(session, UserSession, session_id, org_id)
        own = (
            await session.execute(
                scoped(KBCollection, org_id)
                .where(KBCollection.bot_id == conversation.bot_id)
                .order_by(KBCollection.id)
            )
        ).scalars()
        ids = [c.id for c in own]
        linked = await session.execute(
            select(UserKBAssociation.collection_id)
            .where(UserKBAssociation.org_id == org_id, UserKBAssociation.session_id == session_id)
            .order_by(UserKBAssociation.created_at)
        )
        for (collection_id,) in linked:
            if collection_id not in ids:
                ids.append(collection_id)
    return ids


async def linked_collections(
    session: AsyncSession, org_id: uuid.UUID, session_id: uuid.UUID
) -> list[uuid.UUID]:
    await get_scoped(session, UserSession, session_id, org_id)
    rows = await session.execute(
        select(UserKBAssociation.collection_id)
        .where(UserKBAssociation.org_id == org_id, UserKBAssociation.session_id == session_id)
        .order_by(UserKBAssociation.created_at)
    )
    return [r[0] for r in rows]


async def link_collections(
    session: AsyncSession, org_id: uuid.UUID, session_id: uuid.UUID, collection_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Set the collections linked to a conversation (besides its bot's); the caller commits."""
    await get_scoped(session, UserSession, session_id, org_id)
    wanted = list(dict.fromkeys(collection_ids))
    if len(wanted) > MAX_LINKS_PER_SESSION:
        raise _invalid("collection_ids", f"at most {MAX_LINKS_PER_SESSION} knowledge bases per conversation")
    for collection_id in wanted:
        try:
            await get_scoped(session, KBCollection, collection_id, org_id)
        except NotFound:
            raise _invalid(
                "collection_ids", f"no knowledge base {collection_id} in this organization"
            ) from None
    current = await linked_collections(session, org_id, session_id)
    gone = [c for c in current if c not in wanted]
    if gone:
        await session.execute(
            delete(UserKBAssociation).where(
                UserKBAssociation.session_id == session_id, UserKBAssociation.collection_id.in_(gone)
            )
        )
    for collection_id in wanted:
        if collection_id not in current:
            session.add(UserKBAssociation(org_id=org_id, session_id=session_id, collection_id=collection_id))
    await session.flush()
    return wanted
