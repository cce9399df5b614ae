"""Bodies of the knowledge-base API (/api/v1/kb)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wirework.knowledge.search import MAX_COLLECTIONS, MAX_LIMIT, MAX_QUERY_CHARS

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DocumentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionCreate(_Strict):
    name: Name
    description: str | None = Field(None, max_length=5_000)
    bot_id: uuid.UUID | None = Field(None, description="The bot it belongs to; null: the organization's.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding_model_id: uuid.UUID | None = Field(
        None, description="An embedding model of the organization; null: the model that ships with Wirework."
    )
    chunk_size: int = Field(
        250, description="Tokens per searched chunk (16 to 1024); the built-in model reads 254 at most."
    )
    chunk_overlap: int = Field(32, description="Tokens shared by neighbouring chunks (at most half a chunk).")
    parent_chunk_size: int | None = Field(
        None, description="Tokens per parent chunk returned as context (larger than chunk_size); null: none."
    )


class CollectionUpdate(_Strict):
    name: Name | None = None
    description: str | None = Field(None, max_length=5_000)
    bot_id: uuid.UUID | None = None
    metadata: dict[str, Any] | None = None
    embedding_model_id: uuid.UUID | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    parent_chunk_size: int | None = None


class CollectionOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    bot_id: uuid.UUID | None
    metadata: dict[str, Any]
    embedding_model_id: uuid.UUID | None
    embedding_dimensions: int | None
    chunk_size: int
    chunk_overlap: int
    parent_chunk_size: int | None
    index_version: int
    documents: dict[str, int] = Field(description="Documents by status.")
    created_at: datetime
    updated_at: datetime


class DocumentText(_Strict):
    name: DocumentName
    text: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentUrl(_Strict):
    url: str = Field(min_length=1, max_length=2000)
    name: DocumentName | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentOut(BaseModel):
    id: uuid.UUID
    collection_id: uuid.UUID
    name: str
    source: str
    source_url: str | None
    mime_type: str | None
    size_bytes: int
    characters: int
    content_hash: str
    metadata: dict[str, Any]
    status: str = Field(description="pending, processing, indexed or failed.")
    error: str | None
    chunk_count: int
    chunks_embedded: int
    attempts: int
    indexed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    changed: bool | None = Field(None, description="On add: false when the same text was there already.")


class DocumentDetail(DocumentOut):
    content: str = Field(description="The extracted text (the first 200,000 characters).")


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: Literal["hybrid", "vector", "text"] = "hybrid"
    limit: int = Field(5, ge=1, le=MAX_LIMIT)
    filters: dict[str, Any] | None = Field(
        None, description="Metadata equality: {key: value}, or {key: [values]} for any of them."
    )
    collection_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_COLLECTIONS - 1,
        description="Other knowledge bases of the organization to search as well.",
    )


class HitOut(BaseModel):
    chunk_id: int
    document_id: uuid.UUID
    document_name: str
    collection_id: uuid.UUID
    content: str
    score: float
    scores: dict[str, float | None]
    metadata: dict[str, Any]


class SearchOut(BaseModel):
    mode: str
    hits: list[HitOut]


class SessionLinks(_Strict):
    collection_ids: list[uuid.UUID] = Field(max_length=MAX_COLLECTIONS)


class SessionLinksOut(BaseModel):
    session_id: uuid.UUID
    collection_ids: list[uuid.UUID] = Field(description="Linked to the conversation.")
    searched: list[uuid.UUID] = Field(description="What its searches use: its bot's and the linked ones.")
