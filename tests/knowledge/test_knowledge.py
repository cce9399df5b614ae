"""Knowledge bases end to end through the API, on every database: documents in, the app's
ingestion loop indexes them with the local model, searches find them by meaning, by words and
both; filters, parents, re-indexing, bad documents, a crashed ingester, odd queries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.knowledge.conftest import add_text, find, make_collection, settled, upload
from tests.support.accounts import Account
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.knowledge import ingest
from wirework.knowledge.models import DocumentStatus, KBChunk, KBDocument

VOLCANO = (
    "Mount Etna on Sicily is one of the most active volcanoes in the world. Its eruptions send lava "
    "flows down the slopes and ash clouds over Catania, whose airport then closes for a day or two."
)
BREAD = (
    "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria instead of baker's "
    "yeast. The dough ferments slowly, often overnight, which gives the loaf its sour taste."
)
INVOICE = (
    "Error code WX-4471 means the invoice export stopped because the customer's VAT number is "
    "missing. Fill it in on the customer record and start the export again."
)


async def _three(client: httpx.AsyncClient, ann: Account, **fields: Any) -> str:
    collection = await make_collection(client, ann, **fields)
    await add_text(client, ann, collection, "etna.txt", VOLCANO, metadata={"topic": "geo", "lang": "en"})
    await add_text(client, ann, collection, "bread.md", BREAD, metadata={"topic": "food", "tags": ["baking"]})
    await add_text(client, ann, collection, "wx.txt", INVOICE, metadata={"topic": "support", "lang": "en"})
    documents = await settled(client, ann, collection)
    assert {d["status"] for d in documents.values()} == {"indexed"}, documents
    return collection


async def test_documents_are_found_by_meaning_by_words_and_by_both(
    client: httpx.AsyncClient, ann: Account
) -> None:
    collection = await _three(client, ann)
    documents = await settled(client, ann, collection)
    for document in documents.values():
        assert document["chunk_count"] >= 1
        assert document["chunks_embedded"] == document["chunk_count"]
        assert document["indexed_at"]

    # By meaning: no word of the query is in the document.
    hits = await find(client, ann, collection, "how do you make a loaf taste tangy", mode="vector")
    assert hits[0]["document_name"] == "bread.md"
    assert hits[0]["scores"]["vector"] > 0.3 and hits[0]["scores"]["text"] is None
    assert hits[0]["scores"]["hybrid"] is None

    # By words: a code the model knows nothing about.
    hits = await find(client, ann, collection, "WX-4471", mode="text")
    assert [h["document_name"] for h in hits] == ["wx.txt"]
    assert hits[0]["scores"]["text"] > 0 and hits[0]["scores"]["vector"] is None

    # Both: the fused list has each retriever's score where it found the chunk.
    hits = await find(client, ann, collection, "volcano eruption closes the airport", limit=3)
    assert hits[0]["document_name"] == "etna.txt"
    top = hits[0]["scores"]
    assert top["vector"] is not None and top["text"] is not None
    assert top["hybrid"] == hits[0]["score"] == 2 / 61
    assert hits[0]["content"] == VOLCANO
    assert hits[0]["metadata"] == {"topic": "geo", "lang": "en"}


async def test_filters_apply_before_ranking(client: httpx.AsyncClient, ann: Account) -> None:
    collection = await _three(client, ann)
    hits = await find(client, ann, collection, "volcano", filters={"topic": "food"}, mode="vector")
    assert [h["document_name"] for h in hits] == ["bread.md"]  # the only one left to rank
    hits = await find(
        client, ann, collection, "anything at all", filters={"topic": ["geo", "support"]}, limit=5
    )
    assert sorted(h["document_name"] for h in hits) == ["etna.txt", "wx.txt"]
    hits = await find(client, ann, collection, "sourdough", filters={"tags": "baking"}, mode="text")
    assert [h["document_name"] for h in hits] == ["bread.md"]  # a list in the metadata holds the value
    assert await find(client, ann, collection, "volcano", filters={"lang": "fr"}) == []
    refused = await client.post(
        f"/api/v1/kb/collections/{collection}/search",
        json={"query": "x", "filters": {"topic": {"$ne": 1}}},
        headers=ann.headers,
    )
    assert refused.status_code == 422, refused.text
    assert "filter 'topic'" in refused.json()["detail"]


async def test_a_filter_leaving_many_documents_is_applied_to_ranked_rows(
    client: httpx.AsyncClient, ann: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team finding 8: a filter leaving more documents than a statement may bind (asyncpg:
    32,767 parameters) was a 500. Past IN_LIMIT ids the ranked rows are filtered instead, the
    window growing until k pass; here every filtered words search takes that road, from a
    window of one row."""
    from wirework.knowledge import search

    collection = await _three(client, ann)
    monkeypatch.setattr(search, "IN_LIMIT", 0)
    monkeypatch.setattr(search, "FILTER_FIRST_WINDOW", 1)
    monkeypatch.setattr(search, "ALLOWED_PARTITION", 1)  # the documents' metadata streamed row by row
    query = "Etna lava sourdough starter invoice export"
    everything = await find(client, ann, collection, query, mode="text", limit=5)
    assert {h["document_name"] for h in everything} == {"etna.txt", "bread.md", "wx.txt"}
    for topic, expected in (("geo", ["etna.txt"]), ("food", ["bread.md"]), ("support", ["wx.txt"])):
        hits = await find(client, ann, collection, query, mode="text", filters={"topic": topic}, limit=1)
        assert [h["document_name"] for h in hits] == expected, (topic, hits)
    hits = await find(client, ann, collection, query, mode="text", filters={"lang": "en"}, limit=5)
    assert [h["document_name"] for h in hits] == [
        h["document_name"] for h in everything if h["document_name"] != "bread.md"
    ]  # the same order as unfiltered, less what the filter leaves out
    assert await find(client, ann, collection, query, mode="text", filters={"lang": "fr"}) == []


async def test_parents_are_returned_for_their_chunks_once(client: httpx.AsyncClient, ann: Account) -> None:
    collection = await make_collection(client, ann, chunk_size=24, chunk_overlap=4, parent_chunk_size=96)
    text = "\n\n".join([VOLCANO, BREAD, INVOICE] * 2)
    await add_text(client, ann, collection, "mixed.txt", text)
    [document] = (await settled(client, ann, collection)).values()
    assert document["status"] == "indexed" and document["chunk_count"] > 6
    hits = await find(client, ann, collection, "lava flows and ash over Catania", limit=10)
    contents = [h["content"] for h in hits]
    assert len(contents) == len(set(contents))  # each parent once
    assert "Etna" in contents[0] and len(contents[0]) > len("lava flows and ash clouds over Catania")
    # The parent holds more than the chunk that matched: about 96 tokens, not 24.
    assert len(contents[0].split()) > 40


async def test_changed_text_is_indexed_again_and_the_same_text_is_not(
    client: httpx.AsyncClient, ann: Account, db: Database
) -> None:
    collection = await make_collection(client, ann)
    first = await add_text(client, ann, collection, "faq.txt", VOLCANO)
    assert first["changed"] is True and first["status"] == "pending"
    indexed = (await settled(client, ann, collection))["faq.txt"]

    again = await add_text(client, ann, collection, "faq.txt", VOLCANO)
    assert again["changed"] is False and again["id"] == first["id"]
    assert again["status"] == "indexed" and again["indexed_at"] == indexed["indexed_at"]

    changed = await add_text(client, ann, collection, "faq.txt", BREAD)
    assert changed["changed"] is True and changed["id"] == first["id"] and changed["status"] == "pending"
    document = (await settled(client, ann, collection))["faq.txt"]
    assert document["status"] == "indexed" and document["indexed_at"] > indexed["indexed_at"]
    assert await find(client, ann, collection, "Etna", mode="text") == []
    assert [h["content"] for h in await find(client, ann, collection, "sourdough", mode="text")] == [BREAD]
    async with db.session() as session:
        chunks = (await session.execute(select(KBChunk.content))).scalars().all()
    assert list(chunks) == [BREAD]  # the old chunks are gone, not kept beside the new


async def test_bad_documents_fail_alone_with_their_reason(client: httpx.AsyncClient, ann: Account) -> None:
    collection = await make_collection(client, ann)
    assert (
        await upload(client, ann, collection, "broken.pdf", b"%PDF-1.7\nthis is no pdf")
    ).status_code == 201
    assert (await upload(client, ann, collection, "empty.txt", b"")).status_code == 201
    assert (await upload(client, ann, collection, "tool.exe", b"MZ\x90\x00binary")).status_code == 201
    good = await upload(client, ann, collection, "good.md", f"# Etna\n\n{VOLCANO}".encode())
    assert good.status_code == 201 and good.json()["status"] == "pending"
    documents = await settled(client, ann, collection)
    assert documents["good.md"]["status"] == "indexed"
    for name, words in (("broken.pdf", "pdf"), ("empty.txt", "empty"), ("tool.exe", "unsupported")):
        assert documents[name]["status"] == "failed", documents[name]
        assert name in documents[name]["error"] and words in documents[name]["error"].lower(), documents[name]
    assert [h["document_name"] for h in await find(client, ann, collection, "volcano")] == ["good.md"]
    # A failed document is not indexed again by re-index (nothing to index), but a new upload is.
    refused = await client.post(
        f"/api/v1/kb/documents/{documents['empty.txt']['id']}/reindex", headers=ann.headers
    )
    assert refused.status_code == 409
    fixed = await upload(
        client, ann, collection, "empty.txt", b"Now it says something about bread and yeast."
    )
    assert fixed.json()["status"] == "pending"
    assert (await settled(client, ann, collection))["empty.txt"]["status"] == "indexed"


async def test_a_crashed_ingester_leaves_a_lease_that_another_takes_over(
    client: httpx.AsyncClient, ann: Account, db: Database, app: object
) -> None:
    collection = await make_collection(client, ann)
    await app.state.knowledge_jobs.stop()  # type: ignore[attr-defined]  # the app's loop: not now
    crashed = await add_text(client, ann, collection, "crashed.txt", VOLCANO)
    doomed = await add_text(client, ann, collection, "doomed.txt", BREAD)
    async with db.session() as session:  # as a process that died mid-way leaves them
        for document_id, attempts in ((crashed["id"], 1), (doomed["id"], ingest.MAX_ATTEMPTS)):
            await session.execute(
                update(KBDocument)
                .where(KBDocument.id == uuid.UUID(document_id))
                .values(
                    status=DocumentStatus.processing,
                    lease_owner="dead-host:1:0",
                    lease_expires_at=utcnow() - timedelta(seconds=1),
                    attempts=attempts,
                    chunk_count=1,
                )
            )
        await session.commit()
    other = ingest.KnowledgeJobs(db, app.state.vault, owner="other", ssrf=app.state.platform.ssrf_policy)  # type: ignore[attr-defined]
    assert await other.run_once() == 1  # the doomed one is given up, not taken
    documents = await settled(client, ann, collection, timeout_s=1)
    assert documents["crashed.txt"]["status"] == "indexed" and documents["crashed.txt"]["attempts"] == 2
    assert documents["doomed.txt"]["status"] == "failed"
    assert "gave up after 3 attempts" in documents["doomed.txt"]["error"]
    # A lease that has not expired is left to its owner.
    async with db.session() as session:
        await session.execute(
            update(KBDocument)
            .where(KBDocument.id == uuid.UUID(doomed["id"]))
            .values(
                status=DocumentStatus.processing,
                lease_owner="alive",
                lease_expires_at=utcnow() + timedelta(minutes=1),
                attempts=0,
            )
        )
        await session.commit()
    assert await other.run_once() == 0


async def test_queries_with_full_text_syntax_never_error(client: httpx.AsyncClient, ann: Account) -> None:
    collection = await _three(client, ann)
    for query in (
        '"unbalanced',
        "AND OR NOT",
        "NEAR(etna sicily)",
        "etna*",
        "content:bread",
        "(((",
        "-bread +yeast",
        "'; DROP TABLE kb_chunks; --",
        "^^ ~~ {} [] ::",
        "🌋 volcano",
        "!!!",
        "or",
        "\\",
    ):
        for mode in ("text", "hybrid"):
            response = await client.post(
                f"/api/v1/kb/collections/{collection}/search",
                json={"query": query, "mode": mode},
                headers=ann.headers,
            )
            assert response.status_code == 200, (query, mode, response.text)
    hits = await find(client, ann, collection, "NEAR(etna sicily)", mode="text")
    assert hits[0]["document_name"] == "etna.txt"  # the words still count
    hits = await find(client, ann, collection, '"WX-4471"', mode="text")
    assert hits[0]["document_name"] == "wx.txt"


async def test_bounds_and_bad_input_are_clear_problems(client: httpx.AsyncClient, ann: Account) -> None:
    h = ann.headers
    for body, words in (
        ({"name": "a", "chunk_size": 8}, "chunk_size"),
        ({"name": "a", "chunk_size": 100, "chunk_overlap": 60}, "chunk_overlap"),
        ({"name": "a", "chunk_size": 100, "parent_chunk_size": 50}, "parent_chunk_size"),
        ({"name": "a", "embedding_model_id": str(uuid.uuid4())}, "embedding model"),
        ({"name": ""}, "name"),
    ):
        response = await client.post("/api/v1/kb/collections", json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert words in response.text
    collection = await make_collection(client, ann)
    assert (await client.post("/api/v1/kb/collections", json={"name": "Docs"}, headers=h)).status_code == 409
    search = f"/api/v1/kb/collections/{collection}/search"
    for body in (
        {"query": "x", "limit": 51},
        {"query": "x" * 2001},
        {"query": ""},
        {"query": "x", "mode": "magic"},
    ):
        response = await client.post(search, json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    documents = f"/api/v1/kb/collections/{collection}/documents"
    too_big = await upload(client, ann, collection, "big.txt", b"a" * (10 * 1024 * 1024 + 1))
    assert too_big.status_code == 413, too_big.text
    assert (await client.post(documents, json={"name": "x", "text": "   "}, headers=h)).status_code == 422
    assert (await client.post(documents, json={"name": "x", "text": "a\x00b"}, headers=h)).status_code in (
        400,
        422,
    )
    assert (await client.post(documents, content=b"plain", headers=h)).status_code == 400
    refused = await client.post(documents, json={"url": "http://169.254.169.254/latest/meta-data"}, headers=h)
    assert refused.status_code == 422 and "169.254.169.254" in refused.json()["detail"]
    assert (await client.get(documents, headers=h)).json()["items"] == []
