"""HTTP routes: /api/v1/kb — collections, documents (upload, URL, text), re-index, search, and
the knowledge bases linked to a conversation. Every query is scoped to the caller's
organization (another organization's id is 404)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.schemas import Page
from wirework.db.engine import Database
from wirework.db.pagination import paginate
from wirework.db.scoping import get_scoped, scoped
from wirework.deps import Cursor, Limit, SessionDep
from wirework.errors import BadRequest, PayloadTooLarge, ValidationFailed
from wirework.knowledge import ingest, service
from wirework.knowledge.models import DocumentSource, DocumentStatus, KBCollection, KBDocument
from wirework.knowledge.schemas import (
    CollectionCreate,
    CollectionOut,
    CollectionUpdate,
    DocumentDetail,
    DocumentOut,
    DocumentText,
    DocumentUrl,
    HitOut,
    SearchOut,
    SearchRequest,
    SessionLinks,
    SessionLinksOut,
)
from wirework.problems import problem_responses
from wirework.security.bodies import parse_json
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

COMMON = problem_responses(400, 401, 403, 404, 422)
CONTENT_PREVIEW = 200_000

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge"], responses=COMMON)
routers = [router]


def _writer(principal: Any) -> None:
    require_role(principal, OrgRole.member)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _ssrf(request: Request) -> SsrfPolicy:
    policy: SsrfPolicy = request.app.state.platform.ssrf_policy
    return policy


async def _collection_out(session: SessionDep, collection: KBCollection) -> CollectionOut:
    counts = await service.document_counts(session, [collection.id])
    return CollectionOut.model_validate(service.collection_out(collection, counts[collection.id]))


# ---------------------------------------------------------------- collections


@router.get("/collections", response_model=Page[CollectionOut])
async def list_collections(
    org_id: ActiveOrgId,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    bot_id: Annotated[uuid.UUID | None, Query(description="Only this bot's.")] = None,
) -> Page[CollectionOut]:
    """The organization's knowledge bases, oldest first, with their documents by status."""
    query = scoped(KBCollection, org_id)
    if bot_id is not None:
        query = query.where(KBCollection.bot_id == bot_id)
    rows, next_cursor = await paginate(session, query, KBCollection.id, limit=limit, cursor=cursor)
    counts = await service.document_counts(session, [c.id for c in rows])
    return Page(
        items=[CollectionOut.model_validate(service.collection_out(c, counts[c.id])) for c in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "/collections",
    response_model=CollectionOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_collection(
    body: CollectionCreate, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> CollectionOut:
    """A new knowledge base: how its documents are chunked (tokens) and which model embeds them."""
    _writer(principal)
    collection = await service.create_collection(session, org_id, body.model_dump())
    await session.commit()
    return await _collection_out(session, collection)


@router.get("/collections/{collection_id}", response_model=CollectionOut)
async def get_collection(collection_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> CollectionOut:
    collection = await get_scoped(session, KBCollection, collection_id, org_id)
    return await _collection_out(session, collection)


@router.patch("/collections/{collection_id}", response_model=CollectionOut, responses=problem_responses(409))
async def update_collection(
    collection_id: uuid.UUID,
    body: CollectionUpdate,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> CollectionOut:
    """Change a knowledge base. New chunking settings or another embedding model index every
    document again."""
    _writer(principal)
    collection = await service.update_collection(
        session, org_id, collection_id, body.model_dump(exclude_unset=True)
    )
    await session.commit()
    ingest.wake()
    return await _collection_out(session, collection)


@router.delete("/collections/{collection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_collection(
    collection_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    """Delete a knowledge base with its documents and chunks."""
    _writer(principal)
    await service.delete_collection(session, org_id, collection_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- documents


@router.get("/collections/{collection_id}/documents", response_model=Page[DocumentOut])
async def list_documents(
    collection_id: uuid.UUID,
    org_id: ActiveOrgId,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status_: Annotated[DocumentStatus | None, Query(alias="status", description="Only these.")] = None,
) -> Page[DocumentOut]:
    """A knowledge base's documents with their state and progress (chunks_embedded of chunk_count)."""
    await get_scoped(session, KBCollection, collection_id, org_id)
    query = scoped(KBDocument, org_id).where(KBDocument.collection_id == collection_id)
    if status_ is not None:
        query = query.where(KBDocument.status == status_)
    rows, next_cursor = await paginate(session, query, KBDocument.id, limit=limit, cursor=cursor)
    return Page(
        items=[DocumentOut.model_validate(service.document_out(d)) for d in rows], next_cursor=next_cursor
    )


_ADD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "description": "Default: the file's name."},
                        "metadata": {"type": "string", "description": "A JSON object."},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "oneOf": [
                        DocumentText.model_json_schema(ref_template="#/components/schemas/{model}"),
                        DocumentUrl.model_json_schema(ref_template="#/components/schemas/{model}"),
                    ]
                }
            },
        },
    }
}


@router.post(
    "/collections/{collection_id}/documents",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_ADD_BODY,
    responses=problem_responses(409, 413),
)
async def add_document(
    collection_id: uuid.UUID, request: Request, principal: CurrentPrincipal, org_id: ActiveOrgId
) -> DocumentOut:
    """Add a document: a file (multipart `file`: txt, md, html, pdf, docx or csv), text
    (`{name, text, metadata}`) or a page to fetch (`{url}`). The same name with the same text
    is left as it is (`changed` false); with other text it is replaced and indexed again. A file
    that cannot be read is kept as `failed` with its `error`."""
    _writer(principal)
    db = _db(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        out = await _add_upload(db, org_id, collection_id, request)
    elif kind == "application/json":
        out = await _add_json(db, org_id, collection_id, request)
    else:
        raise BadRequest("send multipart/form-data with a file, or JSON {name, text} or {url}")
    return DocumentOut.model_validate(out)


async def _add_upload(db: Database, org_id: uuid.UUID, collection_id: uuid.UUID, request: Request) -> Any:
    async with db.session() as session:  # 404 before reading a large body
        await get_scoped(session, KBCollection, collection_id, org_id)
    form = await request.form(max_files=1, max_fields=10, max_part_size=service.MAX_DOCUMENT_BYTES + 1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed(
            "the form needs a file in the field 'file'",
            errors=[{"loc": ["body", "file"], "msg": "a file is required", "type": "missing"}],
        )
    data = await upload.read(service.MAX_DOCUMENT_BYTES + 1)
    if len(data) > service.MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"the file is larger than {service.MAX_DOCUMENT_BYTES} bytes, the most a document may be"
        )
    name = form.get("name")
    name = name if isinstance(name, str) and name.strip() else (upload.filename or "upload")
    metadata: dict[str, Any] | None = None
    raw = form.get("metadata")
    if isinstance(raw, str) and raw.strip():
        try:  # the checks every JSON body gets (depth, NaN, NUL, lone surrogates, size)
            metadata = parse_json(raw.encode("utf-8", "surrogatepass"))
        except BadRequest as exc:
            reason = exc.errors[0]["msg"] if exc.errors else exc.detail
            raise _bad_metadata(f"the form field metadata is not valid JSON: {reason}") from None
        if not isinstance(metadata, dict):
            raise _bad_metadata("the form field metadata must be a JSON object of key/values")
    return await service.add_document(
        db,
        org_id,
        collection_id,
        name=name,
        data=data,
        mime_type=upload.content_type,
        source=DocumentSource.upload,
        metadata=metadata,
    )


def _bad_metadata(message: str) -> ValidationFailed:
    return ValidationFailed(
        message, errors=[{"loc": ["body", "metadata"], "msg": message, "type": "value_error"}]
    )


async def _add_json(db: Database, org_id: uuid.UUID, collection_id: uuid.UUID, request: Request) -> Any:
    body = parse_json(await request.body())  # the edge has parsed it once already; the same door
    if not isinstance(body, dict):
        raise ValidationFailed("send an object: {name, text, metadata} or {url, name, metadata}")
    try:
        if "url" in body:
            fetch = DocumentUrl.model_validate(body)
            return await service.add_document_from_url(
                db,
                org_id,
                collection_id,
                fetch.url,
                ssrf=_ssrf(request),
                name=fetch.name,
                metadata=fetch.metadata,
            )
        given = DocumentText.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(
            "the document is not valid: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
            errors=[{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()],
        ) from None
    return await service.add_document(
        db,
        org_id,
        collection_id,
        name=given.name,
        text=given.text,
        source=DocumentSource.api,
        metadata=given.metadata,
    )


@router.get("/documents/{document_id}", response_model=DocumentDetail)
async def get_document(document_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> DocumentDetail:
    """A document, its state, and its extracted text."""
    document = await get_scoped(session, KBDocument, document_id, org_id)
    return DocumentDetail.model_validate(
        {**service.document_out(document), "content": (document.content or "")[:CONTENT_PREVIEW]}
    )


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    document_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    """Delete a document and its chunks; searches stop finding it at once."""
    _writer(principal)
    await service.delete_document(session, org_id, document_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/documents/{document_id}/reindex", response_model=DocumentOut, responses=problem_responses(409))
async def reindex_document(
    document_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> DocumentOut:
    """Index a document again (its old chunks stay searchable until the new ones are ready)."""
    _writer(principal)
    document = await service.reindex_document(session, org_id, document_id)
    await session.commit()
    ingest.wake()
    return DocumentOut.model_validate(service.document_out(document))


# ---------------------------------------------------------------- search


@router.post("/collections/{collection_id}/search", response_model=SearchOut)
async def search_collection(
    collection_id: uuid.UUID, body: SearchRequest, request: Request, org_id: ActiveOrgId
) -> SearchOut:
    """Search a knowledge base (and any others named in `collection_ids`) by meaning, words or
    both; each hit carries each retriever's score (null where that retriever did not find it)."""
    hits = await service.search(
        _db(request),
        _vault(request),
        org_id,
        [collection_id, *body.collection_ids],
        body.query,
        mode=body.mode,
        limit=body.limit,
        filters=body.filters,
        ssrf=_ssrf(request),
    )
    return SearchOut(
        mode=body.mode,
        hits=[HitOut.model_validate(hit, from_attributes=True) for hit in hits],
    )


# ---------------------------------------------------------------- conversations


async def _links_out(
    request: Request, org_id: uuid.UUID, session_id: uuid.UUID, linked: list[uuid.UUID]
) -> SessionLinksOut:
    searched = await service.collections_of_session(_db(request), org_id, session_id)
    return SessionLinksOut(session_id=session_id, collection_ids=linked, searched=searched)


@router.get("/sessions/{session_id}", response_model=SessionLinksOut)
async def get_session_links(
    session_id: uuid.UUID, request: Request, org_id: ActiveOrgId, session: SessionDep
) -> SessionLinksOut:
    """The knowledge bases linked to a conversation, and all it searches (its bot's too)."""
    linked = await service.linked_collections(session, org_id, session_id)
    return await _links_out(request, org_id, session_id, linked)


@router.put("/sessions/{session_id}", response_model=SessionLinksOut)
async def put_session_links(
    session_id: uuid.UUID,
    body: SessionLinks,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> SessionLinksOut:
    """Set the knowledge bases linked to a conversation (besides its bot's)."""
    _writer(principal)
    linked = await service.link_collections(session, org_id, session_id, body.collection_ids)
    await session.commit()
    return await _links_out(request, org_id, session_id, linked)
