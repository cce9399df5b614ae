"""`ai.embed` (text → vector), `kb.search` (hybrid, vector or full-text search of knowledge
bases) and `kb.ingest` (an item's text, file or URL → a document, indexed in the background).
They reach the knowledge bases through `knowledge.service` only."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final, Literal

from pydantic import Field, model_validator

from wirework.engine.errors import NodeError
from wirework.engine.items import MISSING, Items, NodeOutputs, get_path
from wirework.engine.nodes import Node, NodeContext, NodeParameters
from wirework.errors import WireworkError
from wirework.nodes.ai.common import CATEGORY, AIRun, node_error, text_of

EMBED_BATCH: Final = 64


class EmbedParameters(NodeParameters):
    text: str | None = Field(None, description="What to embed; empty: the item's `text`.")
    model: str | None = Field(
        None,
        max_length=200,
        description=(
            "An embedding model's name or id; empty: the organization's default embedding model, "
            "else the local model that ships with Wirework (all-MiniLM-L6-v2, 384 dimensions)."
        ),
    )
    field: str = Field("embedding", min_length=1, max_length=100, description="Where the vector goes.")


class AIEmbed(Node):
    type = "ai.embed"
    display_name = "AI embed"
    description = (
        "Turns text into a vector (a list of numbers, L2-normalised) with an embedding model: the local "
        "one by default. Output: the item with `embedding`, `dimensions` and `embedding_model`."
    )
    category = CATEGORY
    icon = "hash"
    Parameters = EmbedParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        from wirework.ai import service as ai

        run = AIRun(ctx)
        texts: list[tuple[int, str, str | None, str]] = []
        for index in range(len(ctx.items)):
            params = ctx.params(EmbedParameters, index)
            texts.append((index, text_of(ctx, index, params.text, "text"), params.model, params.field))
        out: Items = [dict(item) for item in ctx.items]
        embedders: dict[str | None, Any] = {}
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            for ref in dict.fromkeys(t[2] for t in batch):
                group = [t for t in batch if t[2] == ref]
                try:
                    if ref not in embedders:
                        embedders[ref] = await ai.embedder_for(
                            run.db, run.vault, run.org_id, ref, ssrf=run.ssrf
                        )
                    vectors = await embedders[ref].embed([t[1] for t in group])
                except WireworkError as exc:
                    raise node_error(exc) from None
                for (index, _text, _ref, field), vector in zip(group, vectors, strict=True):
                    out[index][field] = [float(x) for x in vector]
                    out[index]["dimensions"] = len(vector)
                    out[index]["embedding_model"] = embedders[ref].key
        return {"main": out}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class SearchParameters(NodeParameters):
    query: str | None = Field(None, description="What to look for; empty: the item's `text`.")
    collections: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Knowledge bases (ids or names); empty: those of the item's conversation (its bot's).",
    )
    mode: Literal["hybrid", "vector", "text"] = Field(
        "hybrid", description="hybrid: meaning and words together (reciprocal rank fusion)."
    )
    limit: int = Field(5, ge=1, le=50)
    filters: dict[str, Any] | None = Field(
        None, description='Document metadata that must match, e.g. {"lang": "en"}.'
    )


class KBSearch(Node):
    type = "kb.search"
    display_name = "Knowledge search"
    description = (
        "Searches knowledge bases by meaning and by words. Output: the item with `hits` (best first: "
        "content, score, scores per retriever, document and metadata) and `context` (the hits' text)."
    )
    category = CATEGORY
    icon = "search"
    Parameters = SearchParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        from wirework.knowledge import service as knowledge

        run = AIRun(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(SearchParameters, index)
                session_id = run.session_id(index)
                try:
                    if params.collections:
                        ids = await knowledge.collection_ids(run.db, run.org_id, params.collections)
                    elif session_id is not None:
                        ids = await knowledge.collections_of_session(run.db, run.org_id, session_id)
                    else:
                        raise NodeError(
                            "name the knowledge bases (collections), or search in a bot's conversation"
                        )
                    hits = (
                        await knowledge.search(
                            run.db,
                            run.vault,
                            run.org_id,
                            ids,
                            text_of(ctx, index, params.query, "query"),
                            mode=params.mode,
                            limit=params.limit,
                            filters=params.filters,
                            ssrf=run.ssrf,
                        )
                        if ids
                        else []
                    )
                except WireworkError as exc:
                    raise node_error(exc) from None
                found = [
                    _jsonable(
                        {
                            "content": hit.content,
                            "score": hit.score,
                            "scores": hit.scores,
                            "document_id": hit.document_id,
                            "document_name": hit.document_name,
                            "collection_id": hit.collection_id,
                            "chunk_id": hit.chunk_id,
                            "metadata": hit.metadata,
                        }
                    )
                    for hit in hits
                ]
                out.append({**item, "hits": found, "context": "\n\n".join(h["content"] for h in found)})
        return {"main": out}


class IngestParameters(NodeParameters):
    collection: str = Field(min_length=1, max_length=200, description="The knowledge base (id or name).")
    source: Literal["text", "binary", "url"] = Field(
        "text",
        description=(
            "text: the text parameter; binary: a field holding a file (base64, or {data: base64, "
            "mime_type, file_name} as HTTP request gives it); url: fetched through the SSRF guard."
        ),
    )
    text: str | None = Field(None, description="source text: the document's text; empty: the item's `text`.")
    binary_field: str = Field("data", min_length=1, max_length=200, description="source binary: the field.")
    url: str | None = Field(None, max_length=2000, description="source url: the page or file to fetch.")
    name: str | None = Field(
        None,
        max_length=500,
        description="The document's name (one name is one document: the same name again replaces it); "
        "empty: the file's or the URL's name.",
    )
    mime_type: str | None = Field(
        None, max_length=200, description="binary: the type, if the field does not say."
    )
    metadata: dict[str, Any] | None = Field(
        None, description="Stored with the document (search filters use it)."
    )

    @model_validator(mode="after")
    def _needs(self) -> IngestParameters:
        if self.source == "url" and not self.url:
            raise ValueError("source url needs url")
        return self


class KBIngest(Node):
    type = "kb.ingest"
    display_name = "Knowledge ingest"
    description = (
        "Adds the item's text, file or URL to a knowledge base as a document; it is chunked and "
        "embedded in the background. Output: the item with `document` (id, status, …)."
    )
    category = CATEGORY
    icon = "upload"
    Parameters = IngestParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        from wirework.knowledge import service as knowledge

        run = AIRun(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(IngestParameters, index)
                try:
                    (collection_id,) = await knowledge.collection_ids(run.db, run.org_id, [params.collection])
                    if params.source == "url":
                        document = await knowledge.add_document_from_url(
                            run.db,
                            run.org_id,
                            collection_id,
                            str(params.url),
                            ssrf=run.ssrf,
                            name=params.name,
                            metadata=params.metadata,
                        )
                    elif params.source == "binary":
                        data, mime_type, file_name = _binary(item, params.binary_field)
                        name = params.name or file_name
                        if not name:
                            raise NodeError("name the document (name), the file has no file_name")
                        document = await knowledge.add_document(
                            run.db,
                            run.org_id,
                            collection_id,
                            name=name,
                            data=data,
                            mime_type=params.mime_type or mime_type,
                            metadata=params.metadata,
                        )
                    else:
                        if not params.name:
                            raise NodeError("name the document (name), e.g. {{ json.title }}")
                        document = await knowledge.add_document(
                            run.db,
                            run.org_id,
                            collection_id,
                            name=params.name,
                            text=text_of(ctx, index, params.text, "text"),
                            metadata=params.metadata,
                        )
                except WireworkError as exc:
                    raise node_error(exc) from None
                out.append({**item, "document": _jsonable(document)})
        return {"main": out}


def _binary(item: dict[str, Any], field: str) -> tuple[bytes, str | None, str | None]:
    value = get_path(item, field)
    if value is MISSING or value is None:
        raise NodeError(f"the item has no field {field!r} holding a file")
    mime_type = file_name = None
    if isinstance(value, dict):
        mime_type = value.get("mime_type")
        file_name = value.get("file_name") or value.get("name")
        value = value.get("data")
    if not isinstance(value, str):
        raise NodeError(f"field {field!r} must hold base64 text or {{data: base64, mime_type, file_name}}")
    try:
        return base64.b64decode(value, validate=True), mime_type, file_name
    except (binascii.Error, ValueError):
        raise NodeError(f"field {field!r} is not valid base64") from None
