"""Tables of knowledge bases (seeds: G kb_collections, kb_documents, user_kb_associations).

A collection belongs to an organization and, optionally, to one of its bots. A document is
text extracted from an upload, a URL or the API; the `kb_documents` row is also its
ingestion job (claimed with a lease, like executions), so ingestion survives restarts and
runs once across servers. Its chunks carry an embedding (float32 bytes) and a full-text
index that the migration adds per database: an FTS5 table on SQLite, a generated tsvector
column on PostgreSQL, a FULLTEXT index on MariaDB/MySQL.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType, utcnow

CATEGORY = "AI"

LongText = Text().with_variant(mysql.LONGTEXT(), "mysql")
"""A document's whole text, past MySQL's 64 KB TEXT."""

ChunkId = BigInteger().with_variant(Integer(), "sqlite")
"""On SQLite an INTEGER PRIMARY KEY is the rowid, which the FTS5 index refers to."""


class DocumentSource(enum.StrEnum):
    upload = "upload"
    url = "url"
    api = "api"


class DocumentStatus(enum.StrEnum):
    pending = "pending"  # waiting for ingestion (or to be ingested again)
    processing = "processing"  # claimed by a process (lease)
    indexed = "indexed"
    failed = "failed"  # `error` says why


class ChunkKind(enum.StrEnum):
    chunk = "chunk"  # searched: embedded and full-text indexed
    parent = "parent"  # larger context returned for the chunks that point at it


class KBCollection(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "kb_collections"
    __label__ = "Knowledge base"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        {
            "comment": "A knowledge base: a named collection of documents of an organization or "
            "one of its bots, with how its documents are chunked and embedded.",
            "info": {"category": CATEGORY, "seeds": "G kb_collections"},
        },
    )

    bot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bots.id", ondelete="CASCADE"), index=True, comment="The bot it belongs to, if any."
    )
    name: Mapped[str] = mapped_column(String(200), comment="Display name, unique in the organization.")
    description: Mapped[str | None] = mapped_column(Text, comment="What it holds.")
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, default=dict, comment="Free key/values of the collection."
    )
    embedding_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_models.id", ondelete="RESTRICT"),
        index=True,
        comment="Embedding model; null: the model that ships with Wirework.",
    )
    embedding_dimensions: Mapped[int | None] = mapped_column(
        Integer, comment="Length of its vectors, fixed by the first embedding."
    )
    # 250, not 256: the built-in model reads 254 tokens of text at most.
    chunk_size: Mapped[int] = mapped_column(Integer, default=250, comment="Tokens per searched chunk.")
    chunk_overlap: Mapped[int] = mapped_column(
        Integer, default=32, comment="Tokens shared by neighbouring chunks."
    )
    parent_chunk_size: Mapped[int | None] = mapped_column(
        Integer, comment="Tokens per parent chunk returned as context; null: no parents."
    )
    index_version: Mapped[int] = mapped_column(
        Integer, default=0, comment="Bumped with every change of its chunks (search caches key on it)."
    )


class KBDocument(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "kb_documents"
    __label__ = "Knowledge base document"
    __table_args__ = (
        UniqueConstraint("collection_id", "name"),
        Index("ix_kb_documents_status_lease_expires_at", "status", "lease_expires_at"),
        {
            "comment": "A document of a knowledge base: its extracted text, where it came from, and "
            "its ingestion state (the row is the ingestion job).",
            "info": {"category": CATEGORY, "seeds": "G kb_documents"},
        },
    )

    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE"), index=True, comment="Its knowledge base."
    )
    name: Mapped[str] = mapped_column(String(300), comment="File name or title, unique in the collection.")
    source: Mapped[DocumentSource] = mapped_column(
        StrEnumType(DocumentSource, "kb_document_source"), comment="upload, url or api."
    )
    source_url: Mapped[str | None] = mapped_column(String(2000), comment="Where it was fetched from.")
    mime_type: Mapped[str | None] = mapped_column(String(100), comment="Type of the original.")
    content: Mapped[str] = mapped_column(LongText, default="", comment="Extracted text.")
    content_hash: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of the extracted text; unchanged text is not indexed again."
    )
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0, comment="Size of the original.")
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, default=dict, comment="Key/values searches can filter on."
    )
    status: Mapped[DocumentStatus] = mapped_column(
        StrEnumType(DocumentStatus, "kb_document_status"),
        default=DocumentStatus.pending,
        comment="pending, processing, indexed or failed.",
    )
    error: Mapped[str | None] = mapped_column(Text, comment="Why ingestion failed.")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, comment="Chunks to embed.")
    chunks_embedded: Mapped[int] = mapped_column(
        Integer, default=0, comment="Chunks embedded so far (progress)."
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="Ingestion attempts.")
    lease_owner: Mapped[str | None] = mapped_column(String(100), comment="Process ingesting it.")
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        comment="When another process may take it over."
    )
    indexed_at: Mapped[datetime | None] = mapped_column(comment="When it was last indexed (UTC).")


class KBChunk(OrgOwnedMixin, Base):
    __tablename__ = "kb_chunks"
    __label__ = "Knowledge base chunk"
    __table_args__ = (
        Index("ix_kb_chunks_collection_id_kind_id", "collection_id", "kind", "id"),
        {
            "comment": "A piece of a document: its text, embedding and full-text index entry "
            "(FTS5 table kb_chunks_fts on SQLite, generated column tsv on PostgreSQL, FULLTEXT "
            "index on MariaDB/MySQL).",
            "info": {"category": CATEGORY, "seeds": "-"},
        },
    )

    id: Mapped[int] = mapped_column(
        ChunkId, primary_key=True, autoincrement=True, sort_order=-100, comment="Row id."
    )
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE"), comment="Its knowledge base."
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True, comment="Its document."
    )
    parent_id: Mapped[int | None] = mapped_column(
        ChunkId,
        ForeignKey("kb_chunks.id", ondelete="CASCADE"),
        index=True,
        comment="Its parent chunk, if any.",
    )
    kind: Mapped[ChunkKind] = mapped_column(
        StrEnumType(ChunkKind, "kb_chunk_kind"), comment="chunk or parent."
    )
    position: Mapped[int] = mapped_column(Integer, comment="Order in the document.")
    content: Mapped[str] = mapped_column(Text, comment="The text.")
    token_count: Mapped[int] = mapped_column(Integer, comment="Tokens in the text.")
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, default=dict, comment="The document's metadata, for filters."
    )
    embedding: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="float32 little-endian vector, L2-normalised; null until embedded."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When the row was created (UTC).")


class UserKBAssociation(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "user_kb_associations"
    __label__ = "Conversation knowledge base"
    __table_args__ = (
        UniqueConstraint("session_id", "collection_id"),
        {
            "comment": "Which knowledge bases a conversation uses (besides its bot's).",
            "info": {"category": CATEGORY, "seeds": "G user_kb_associations"},
        },
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), comment="The conversation."
    )
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE"), index=True, comment="The knowledge base."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was linked (UTC).")
