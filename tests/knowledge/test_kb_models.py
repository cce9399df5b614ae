"""A knowledge base embedded by an OpenAI-compatible model (a local server speaking the protocol):
documents are indexed with its vectors, and when the model is down, answers garbage or vectors
of the wrong size, that document fails with the reason while the others go on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.knowledge.conftest import add_text, find, make_collection, settled
from tests.support.accounts import Account
from tests.support.llm_server import EmbeddingReply, FakeLLM, fake_llm


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with fake_llm() as fake:
        yield fake


async def embedding_model(client: httpx.AsyncClient, who: Account, llm: FakeLLM) -> str:
    body: dict[str, Any] = {
        "name": "Remote embeddings",
        "provider": "openai",
        "model_id": "fake-embed",
        "type": "embedding",
        "configuration": {"base_url": llm.openai_url, "dimensions": 64},
    }
    response = await client.post("/api/v1/ai/models", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_failing_model_fails_its_document_and_the_rest_goes_on(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM
) -> None:
    model = await embedding_model(client, ann, llm)
    collection = await make_collection(client, ann, embedding_model_id=model)
    await add_text(client, ann, collection, "bread.txt", "Sourdough bread rises with wild yeast.")
    assert (await settled(client, ann, collection))["bread.txt"]["status"] == "indexed"
    info = (await client.get(f"/api/v1/kb/collections/{collection}", headers=ann.headers)).json()
    assert info["embedding_dimensions"] == 64 and info["embedding_model_id"] == model
    assert any(r.path.endswith("/embeddings") for r in llm.requests)
    hits = await find(client, ann, collection, "sourdough yeast", mode="vector")
    assert hits[0]["document_name"] == "bread.txt" and hits[0]["scores"]["vector"] > 0

    for name, reply, words in (
        ("down.txt", EmbeddingReply(status=500, error_message="the GPU caught fire"), "the GPU caught fire"),
        ("garbage.txt", EmbeddingReply(raw=b"<html>Bad gateway</html>"), "embedding model failed"),
        ("small.txt", EmbeddingReply(dimensions=12), "12"),
    ):
        llm.reply_embeddings(reply)
        await add_text(client, ann, collection, name, f"The document {name} talks about rye flour.")
        document = (await settled(client, ann, collection))[name]
        assert document["status"] == "failed", document
        assert name in document["error"] and words in document["error"], document["error"]

    await add_text(client, ann, collection, "after.txt", "Rye bread is dense and dark.")
    documents = await settled(client, ann, collection)
    assert documents["after.txt"]["status"] == "indexed"
    assert documents["bread.txt"]["status"] == "indexed"
    names = {h["document_name"] for h in await find(client, ann, collection, "bread", mode="vector")}
    assert names == {"bread.txt", "after.txt"}
    # A model in use by a knowledge base cannot be deleted from under it.
    assert (await client.delete(f"/api/v1/ai/models/{model}", headers=ann.headers)).status_code == 409
