"""The labelled retrieval set in tests/data/kb_eval: load it into a collection and measure
recall@k of each retriever. Used by tests/knowledge/test_eval.py and bench/kb.py."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirework.db.engine import Database
from wirework.knowledge import ingest, service
from wirework.knowledge.search import Mode
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

DATA = Path(__file__).resolve().parents[1] / "data" / "kb_eval"


def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(documents, queries) of the set."""
    documents = [json.loads(line) for line in (DATA / "documents.jsonl").read_text().splitlines() if line]
    queries = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines() if line]
    return documents, queries


async def build(db: Database, vault: Vault, org_id: uuid.UUID, name: str = "eval") -> uuid.UUID:
    """A collection (built-in model, default chunking) holding the set's documents, indexed."""
    documents, _ = load()
    async with db.session() as session:
        collection = await service.create_collection(session, org_id, {"name": name})
        await session.commit()
    for document in documents:
        await service.add_document(
            db, org_id, collection.id, name=document["id"], text=f"{document['title']}\n\n{document['text']}"
        )
    jobs = ingest.KnowledgeJobs(db, vault, owner="kb-eval", ssrf=SsrfPolicy())
    await jobs.run_once()
    return collection.id


@dataclass
class Recall:
    mode: str
    k: int
    recall: float = 0.0
    by_kind: dict[str, float] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


async def recall_at(
    db: Database, vault: Vault, org_id: uuid.UUID, collection_id: uuid.UUID, mode: Mode, k: int = 5
) -> Recall:
    """Mean over the queries of the share of their relevant documents among the first k hits."""
    _, queries = load()
    result = Recall(mode, k)
    per_kind: dict[str, list[float]] = {}
    total = 0.0
    for query in queries:
        hits = await service.search(
            db,
            vault,
            org_id,
            [collection_id],
            query["query"],
            mode=mode,
            limit=k,
            ssrf=SsrfPolicy(),
        )
        found = {hit.document_name for hit in hits}
        share = sum(1 for r in query["relevant"] if r in found) / len(query["relevant"])
        total += share
        per_kind.setdefault(query["kind"], []).append(share)
        if share < 1:
            result.misses.append(query["query"])
    result.recall = total / len(queries)
    result.by_kind = {kind: sum(v) / len(v) for kind, v in sorted(per_kind.items())}
    return result
