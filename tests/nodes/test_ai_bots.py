"""AI nodes in a bot's conversation (through the REST channel) and on real knowledge bases: a
dialog of chat.trigger → ai.agent → chat.reply with the conversation as memory and the bot's
knowledge base as a tool; ai.chat streaming partial text to an SSE listener; kb.ingest and
kb.search through the knowledge service with the local embedding model."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tests.bots.conftest import make_bot, say
from tests.nodes import test_ai_nodes as shared
from tests.support.accounts import Account, signup
from tests.support.llm_server import FakeLLM, broken, text, tool_call
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run
from wirework.ai.models import AIUsage
from wirework.db.engine import Database

settings, llm, ann = shared.settings, shared.llm, shared.ann  # the fixtures (127.0.0.1 allowed, the fake LLM)
add_model, usage_rows = shared.add_model, shared.usage_rows

AGENT_DIALOG = chain(
    node("t", "chat.trigger"),
    node(
        "agent",
        "ai.agent",
        {"system": "You are the shop's helper.", "tools": [{"kind": "knowledge", "name": "search_docs"}]},
    ),
    node("r", "chat.reply", {"text": "{{ json.text }}"}),
)


async def indexed(client: httpx.AsyncClient, who: Account, collection: str, name: str, body: str) -> str:
    """A text document added to a collection, once the ingestion loop has indexed it."""
    response = await client.post(
        f"/api/v1/kb/collections/{collection}/documents",
        json={"name": name, "text": body},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    document = response.json()["id"]
    for _ in range(300):
        state = (await client.get(f"/api/v1/kb/documents/{document}", headers=who.headers)).json()
        if state["status"] in ("indexed", "failed"):
            break
        await asyncio.sleep(0.05)
    assert state["status"] == "indexed", state
    return str(document)


async def test_a_bot_dialog_of_an_agent_answers_with_memory_and_its_knowledge_base(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "gpt", llm.openai_url, default=True)
    setup = await make_bot(client, ann, AGENT_DIALOG)
    collection = await client.post(
        "/api/v1/kb/collections", json={"name": "shop", "bot_id": setup.id}, headers=ann.headers
    )
    assert collection.status_code == 201, collection.text
    await indexed(
        client,
        ann,
        collection.json()["id"],
        "refunds.md",
        "Refunds are paid back within five working days to the card that paid.",
    )

    llm.reply(text("Hello! How can I help?"))
    first = (await say(client, setup, "Hi, I am Ann")).json()
    assert [r["content"] for r in first["replies"]] == ["Hello! How can I help?"]

    llm.reply(tool_call("search_docs", {"query": "refund days"}), text("Within five working days."))
    second = (await say(client, setup, "How long do refunds take?")).json()
    assert [r["content"] for r in second["replies"]] == ["Within five working days."]

    asked, answered = llm.chat_requests()[1:]
    # Memory: the conversation so far (without the message being answered twice), then the message.
    assert [(m["role"], m.get("content")) for m in asked.body["messages"]] == [
        ("system", "You are the shop's helper."),
        ("user", "Hi, I am Ann"),
        ("assistant", "Hello! How can I help?"),
        ("user", "How long do refunds take?"),
    ]
    # The knowledge-base tool searched the bot's collection; the passage went back to the model.
    found = json.loads(answered.body["messages"][-1]["content"])
    assert found[0]["document"] == "refunds.md" and "five working days" in found[0]["content"]

    rows = await usage_rows(db)
    assert len(rows) == 3 and {str(r.session_id) for r in rows} == {first["session_id"]}
    assert all(r.node_id == "agent" and r.execution_id is not None for r in rows)


async def test_ai_chat_streams_partial_text_to_the_conversations_listener(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "gpt", llm.openai_url, default=True)
    dialog = chain(node("t", "chat.trigger"), node("c", "ai.chat", {"reply": True}))
    setup = await make_bot(client, ann, dialog)
    answer = "Streaming answers grow as the model writes them."
    llm.reply(text(answer, chunk_delay=0.06))
    events: list[tuple[str, Any]] = []
    async with client.stream(
        "POST",
        f"/api/v1/bots/{setup.id}/messages",
        json={"text": "Tell me", "wait_s": 10},
        headers={**ann.headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        kind = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((str(kind), json.loads(line[6:])))
    kinds = [k for k, _ in events]
    partials = [data["text"] for k, data in events if k == "partial"]
    assert len(partials) >= 3, events
    assert all(answer.startswith(p) for p in partials) and partials[-1] == answer
    assert len(set(partials)) == len(partials)  # each a longer prefix
    # The whole answer is then stored and sent as a message, after the partials.
    messages = [data for k, data in events if k == "message"]
    assert [m["content"] for m in messages] == [answer]
    assert kinds.index("message") > max(i for i, k in enumerate(kinds) if k == "partial")
    assert llm.chat_requests()[0].body["stream"] is True

    # A stream that breaks off: the text shown is taken back (an empty partial), nothing is stored.
    llm.reply(broken("This answer breaks"))
    events = []
    async with client.stream(
        "POST",
        f"/api/v1/bots/{setup.id}/messages",
        json={"text": "Again", "wait_s": 10},
        headers={**ann.headers, "Accept": "text/event-stream"},
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((str(kind), json.loads(line[6:])))
    partials = [data["text"] for k, data in events if k == "partial"]
    assert partials[0] and partials[-1] == "", events
    assert [k for k, _ in events if k == "message"] == []


async def test_kb_ingest_and_kb_search_nodes(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    collection = await client.post("/api/v1/kb/collections", json={"name": "faq"}, headers=ann.headers)
    assert collection.status_code == 201, collection.text
    ingest = await run(
        client,
        ann,
        await create(
            client,
            ann,
            chain(TRIGGER, node("in", "kb.ingest", {"collection": "faq", "name": "{{ json.title }}"})),
        ),
        [
            {"title": "shipping", "text": "Parcels ship from Lyon and arrive in two days."},
            {"title": "returns", "text": "Return a parcel within thirty days for a refund."},
        ],
    )
    documents = [i["document"] for i in outputs(ingest, "in")["main"]]
    assert [(d["name"], d["status"]) for d in documents] == [("shipping", "pending"), ("returns", "pending")]
    for document in documents:
        for _ in range(300):
            state = (await client.get(f"/api/v1/kb/documents/{document['id']}", headers=ann.headers)).json()
            if state["status"] != "pending" and state["status"] != "processing":
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "indexed", state

    # A file from an earlier node (base64, as HTTP request gives it) becomes a document too.
    upload = chain(
        TRIGGER, node("in", "kb.ingest", {"collection": "faq", "source": "binary", "binary_field": "file"})
    )
    note = base64.b64encode(b"Gift cards never expire.").decode()
    files = await run(
        client,
        ann,
        await create(client, ann, upload),
        [{"file": {"data": note, "mime_type": "text/plain", "file_name": "gift.txt"}}, {"file": "%%%"}],
    )
    assert files["status"] == "failed"
    assert "field 'file' is not valid base64" in json.dumps(files["nodes"])
    gift = await run(
        client, ann, await create(client, ann, upload), [{"file": {"data": note, "file_name": "gift.txt"}}]
    )
    assert outputs(gift, "in")["main"][0]["document"]["name"] == "gift.txt"
    # A URL is fetched through the SSRF guard (127.0.0.1 is allowed here; the fake serves JSON).
    page = chain(
        TRIGGER,
        node("in", "kb.ingest", {"collection": "faq", "source": "url", "url": f"{llm.url}/v1/models"}),
    )
    fetched = outputs(await run(client, ann, await create(client, ann, page), [{}]), "in")["main"][0][
        "document"
    ]
    assert (fetched["source"], fetched["source_url"], fetched["status"]) == (
        "url",
        f"{llm.url}/v1/models",
        "pending",
    )
    metadata = chain(
        TRIGGER,
        node("in", "kb.ingest", {"collection": "faq", "source": "url", "url": "http://169.254.169.254/"}),
    )
    refused_url = await run(client, ann, await create(client, ann, metadata), [{}])
    assert refused_url["status"] == "failed" and "169.254.169.254" in json.dumps(refused_url["nodes"])

    search = await create(
        client,
        ann,
        chain(TRIGGER, node("s", "kb.search", {"collections": ["faq"], "limit": 1})),
    )
    found = outputs(await run(client, ann, search, [{"text": "where do parcels ship from?"}]), "s")["main"][0]
    (hit,) = found["hits"]
    assert hit["document_name"] == "shipping" and set(hit["scores"]) >= {"vector", "text"}
    assert found["context"] == hit["content"]

    # Without collections and outside a conversation there is nothing to search: a clear error.
    lost = await create(client, ann, chain(TRIGGER, node("s", "kb.search", {})))
    failed = await run(client, ann, lost, [{"text": "x"}])
    assert failed["status"] == "failed"
    assert "name the knowledge bases" in json.dumps(failed["nodes"])
    unknown = await create(client, ann, chain(TRIGGER, node("s", "kb.search", {"collections": ["nope"]})))
    assert "'nope' not found" in json.dumps((await run(client, ann, unknown, [{"text": "x"}]))["nodes"])
    async with db.session() as session:
        assert list((await session.execute(select(AIUsage))).scalars()) == []
    assert uuid.UUID(documents[0]["id"])

    # Another organization reaches neither this knowledge base nor this workflow from its own.
    bob = await signup(client, "bob")
    await add_model(db, bob, "gpt", llm.openai_url, default=True)
    theirs = chain(TRIGGER, node("s", "kb.search", {"collections": [collection.json()["id"]]}))
    refused = await run(client, bob, await create(client, bob, theirs), [{"text": "parcels"}])
    assert refused["status"] == "failed" and "not found" in json.dumps(refused["nodes"])
    llm.reply(tool_call("ann_search", {}), text("I cannot."))
    tool = {"kind": "workflow", "name": "ann_search", "description": "Ann's.", "workflow_id": search}
    agent = chain(TRIGGER, node("a", "ai.agent", {"tools": [tool]}))
    answered = await run(client, bob, await create(client, bob, agent), [{"text": "use it"}])
    (step,) = outputs(answered, "a")["main"][0]["steps"]
    assert step["tool_calls"][0]["error"] == f"workflow {search} not found in this organization"
