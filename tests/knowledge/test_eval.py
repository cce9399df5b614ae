"""Retrieval quality on the labelled set (tests/data/kb_eval), SQLite only: hybrid search finds
at least 80% of the relevant documents in its first five hits, and no fewer than vectors alone."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.knowledge.kb_eval import build, load, recall_at
from tests.support.accounts import Account
from wirework.db.engine import Database


def test_the_set_is_what_its_notes_say() -> None:
    documents, queries = load()
    ids = {d["id"] for d in documents}
    assert len(ids) == len(documents) == 50
    assert len(queries) >= 40
    assert all(set(q["relevant"]) <= ids for q in queries)
    kinds = {q["kind"] for q in queries}
    assert kinds == {"paraphrase", "keyword", "plain"}


async def test_hybrid_recall_at_5_on_the_labelled_set(
    client: httpx.AsyncClient, ann: Account, db: Database, app: object, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("retrieval quality is measured once, on SQLite (bench/kb.py measures PostgreSQL too)")
    vault = app.state.vault  # type: ignore[attr-defined]
    org = uuid.UUID(ann.org_id)
    collection = await build(db, vault, org)
    hybrid = await recall_at(db, vault, org, collection, "hybrid")
    vector = await recall_at(db, vault, org, collection, "vector")
    text = await recall_at(db, vault, org, collection, "text")
    print(f"recall@5 hybrid {hybrid.recall:.3f} vector {vector.recall:.3f} text {text.recall:.3f}")
    print(f"hybrid by kind {hybrid.by_kind}; misses {hybrid.misses}")
    print(f"vector by kind {vector.by_kind}; text by kind {text.by_kind}")
    assert hybrid.recall >= 0.8, hybrid
    assert hybrid.recall >= vector.recall, (hybrid, vector)
