"""AI nodes against a local server speaking the OpenAI and Anthropic protocols: ai.chat, the
ai.agent loop with workflow and HTTP tools (bounded, told about its mistakes), ai.classify,
ai.extract, ai.summarize, ai.embed; usage rows per execution and node; a model that is down."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.accounts import Account, signup
from tests.support.llm_server import FakeLLM, fake_llm, text, tool_call
from tests.support.server import free_port
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run
from wirework.ai.models import AIModel, AIUsage, ModelProvider, ModelType
from wirework.db.engine import Database
from wirework.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The fake model server and the HTTP tool's target listen on 127.0.0.1.
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        http_allow_hosts="127.0.0.1",
        open_signup=True,  # a second person signs up into an organization of their own
    )


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with fake_llm() as fake:
        yield fake


@pytest.fixture
async def ann(client: httpx.AsyncClient) -> Account:
    return await signup(client, "ann")


async def add_model(
    db: Database,
    who: Account,
    name: str,
    base_url: str,
    provider: ModelProvider = ModelProvider.openai,
    default: bool = False,
    model_id: str = "fake-gpt",
    type_: ModelType = ModelType.llm,
) -> str:
    async with db.session() as session:
        model = AIModel(
            org_id=uuid.UUID(who.org_id),
            name=name,
            provider=provider,
            model_id=model_id,
            type=type_,
            configuration={"base_url": base_url},
            default_for=type_.value if default else None,
        )
        session.add(model)
        await session.commit()
        return str(model.id)


async def usage_rows(db: Database) -> list[AIUsage]:
    async with db.session() as session:
        return list((await session.execute(select(AIUsage).order_by(AIUsage.created_at))).scalars())


async def run_nodes(
    client: httpx.AsyncClient, who: Account, *nodes: dict[str, Any], items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    workflow_id = await create(client, who, chain(TRIGGER, *nodes))
    return await run(client, who, workflow_id, items or [{"text": "hello"}])


def failed(execution: dict[str, Any], node_id: str) -> str:
    runs = [n for n in execution["nodes"] if n["node_id"] == node_id and n["status"] == "failed"]
    assert runs, f"{node_id} did not fail: {execution}"
    return str(runs[-1]["error"])


async def test_chat_speaks_openai_and_anthropic_records_usage_and_reads_history(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "gpt", llm.openai_url, default=True)
    await add_model(db, ann, "claude", llm.url, ModelProvider.anthropic, model_id="fake-claude")
    llm.reply(text("Bonjour!"), text("Hallo!"))
    execution = await run_nodes(
        client,
        ann,
        node("a", "ai.chat", {"prompt": "Say hello in French", "system": "Be brief."}),  # the default model
        node("b", "ai.chat", {"prompt": "Now German, after {{ json.text }}", "model": "claude"}),
    )
    assert execution["status"] == "completed", execution
    first = outputs(execution, "a")["main"][0]
    assert first["text"] == "Bonjour!" and first["model"] == "gpt"
    assert first["usage"]["completion_tokens"] == 1 and first["usage"]["prompt_tokens"] > 0
    second = outputs(execution, "b")["main"][0]
    assert second["text"] == "Hallo!" and second["model"] == "claude"

    openai, anthropic = llm.chat_requests()
    assert openai.protocol == "openai" and anthropic.protocol == "anthropic"
    assert openai.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello in French"},
    ]
    assert anthropic.body["model"] == "fake-claude"
    assert json.dumps(anthropic.body["messages"]).count("Now German, after Bonjour!") == 1

    rows = await usage_rows(db)
    assert [(r.node_id, r.model_name) for r in rows] == [("a", "fake-gpt"), ("b", "fake-claude")]
    assert {str(r.execution_id) for r in rows} == {execution["id"]}
    assert rows[0].completion_tokens == 1 and rows[0].session_id is None

    # Without a conversation, the item's `history` is the memory (the editor's playground sends it).
    history = [{"role": "user", "content": "My name is Ann."}, {"role": "assistant", "content": "Hi Ann!"}]
    execution = await run_nodes(
        client, ann, node("a", "ai.chat", {}), items=[{"text": "What is my name?", "history": history}]
    )
    assert outputs(execution, "a")["main"][0]["text"] == "echo: What is my name?"
    assert llm.last().body["messages"] == [*history, {"role": "user", "content": "What is my name?"}]

    bad = await run_nodes(client, ann, node("a", "ai.chat", {}), items=[{"text": "x", "history": "nope"}])
    assert "history must be a list" in failed(bad, "a")


async def test_agent_calls_workflow_and_http_tools_then_answers(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "gpt", llm.openai_url, default=True)
    orders = await create(
        client,
        ann,
        chain(TRIGGER, node("s", "core.set", {"fields": {"status": "shipped {{ json.order }}"}})),
        name="orders",
    )
    llm.reply(
        tool_call("order_status", '{"order": "A1"'),  # cut-off JSON: told to the model, which tries again
        tool_call("order_status", {"order": "A1"}),
        tool_call("list_models", {"kind": "models"}),
        text("Order A1 is shipped; the server has 2 models."),
    )
    agent = node(
        "agent",
        "ai.agent",
        {
            "system": "You help with orders.",
            "tools": [
                {
                    "kind": "workflow",
                    "name": "order_status",
                    "description": "The status of an order.",
                    "workflow_id": orders,
                    "parameters": {
                        "type": "object",
                        "properties": {"order": {"type": "string"}},
                        "required": ["order"],
                    },
                },
                {
                    "kind": "http",
                    "name": "list_models",
                    "description": "Lists the models.",
                    "url": f"{llm.url}/v1/{{kind}}",
                    "parameters": {"type": "object", "properties": {"kind": {"type": "string"}}},
                },
            ],
        },
    )
    # The HTTP tool's server wants a key: it comes from the node's bearer credential, not the definition.
    credential = await client.post(
        "/api/v1/credentials",
        json={"name": "models key", "type": "http_bearer_token", "data": {"token": "sk-tool"}},
        headers=ann.headers,
    )
    assert credential.status_code == 201, credential.text
    agent["credentials"] = {"bearer": credential.json()["id"]}
    async with fake_llm(api_key="sk-tool") as keyed:
        agent["parameters"]["tools"][1]["url"] = f"{keyed.url}/v1/{{kind}}"
        agent["parameters"]["tools"][1]["authentication"] = "bearer"
        execution = await run_nodes(client, ann, agent, items=[{"text": "Where is my order A1?"}])
        assert keyed.last().headers["authorization"] == "Bearer sk-tool"
    assert execution["status"] == "completed", execution
    out = outputs(execution, "agent")["main"][0]
    assert out["text"] == "Order A1 is shipped; the server has 2 models."
    assert out["iterations"] == 4
    broken, first, second = out["steps"]
    assert broken["tool_calls"][0]["error"] == ('the arguments must be a JSON object; got \'{"order": "A1"\'')
    (call,) = first["tool_calls"]
    assert call["name"] == "order_status" and call["arguments"] == {"order": "A1"}
    assert call["result"]["status"] == "shipped A1"
    (http,) = second["tool_calls"]
    assert http["result"]["status"] == 200
    assert [m["id"] for m in http["result"]["body"]["data"]] == ["fake-gpt", "fake-embed"]

    # The model was sent each tool's schema, then each result as a tool message answering its call.
    requests = llm.chat_requests()
    assert [t["function"]["name"] for t in requests[0].body["tools"]] == ["order_status", "list_models"]
    last = requests[-1].body["messages"]
    roles = ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]
    assert [m["role"] for m in last] == roles
    assert "must be a JSON object" in json.loads(last[3]["content"])["error"]
    assert last[4]["tool_calls"][0]["id"] == last[5]["tool_call_id"]
    assert json.loads(last[5]["content"])["status"] == "shipped A1"
    assert '"fake-embed"' in last[7]["content"]
    # Four model calls, four usage rows, all of this node and execution.
    rows = await usage_rows(db)
    assert [(r.node_id, str(r.execution_id)) for r in rows] == [("agent", execution["id"])] * 4


async def test_agent_answers_bad_tool_calls_as_tool_errors_and_is_bounded(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "claude", llm.url, ModelProvider.anthropic, default=True, model_id="fake-claude")
    llm.reply(
        tool_call("no_such_tool", {}),
        tool_call("lookup", {"order": 42}),  # the schema wants a string
        tool_call("lookup", {"order": "B2"}),
        tool_call("metadata", {}),
        text("B2 is 'blocked'."),
    )
    lookup = {
        "kind": "http",
        "name": "lookup",
        "description": "Looks an order up.",
        "url": f"http://127.0.0.1:{free_port()}/orders/{{order}}",  # nothing listens there
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
    }
    metadata = {  # not on the allow-list (127.0.0.1 is): the SSRF guard refuses it
        "kind": "http",
        "name": "metadata",
        "description": "Reads the cloud's metadata.",
        "url": "http://169.254.169.254/latest/meta-data/",
    }
    execution = await run_nodes(client, ann, node("agent", "ai.agent", {"tools": [lookup, metadata]}))
    assert execution["status"] == "completed", execution
    out = outputs(execution, "agent")["main"][0]
    assert out["text"] == "B2 is 'blocked'."
    errors = [s["tool_calls"][0]["error"] for s in out["steps"]]
    assert errors[0] == "there is no tool 'no_such_tool'; the tools are: lookup, metadata"
    assert errors[1].startswith("invalid arguments at order: 42 is not of type 'string'")
    assert errors[2].startswith("cannot reach http://127.0.0.1:")
    assert errors[3].startswith("refused by the SSRF guard") and "169.254.169.254" in errors[3]
    # Each error went back to the model as the tool_result of its tool_use.
    last = llm.chat_requests()[-1].body["messages"]
    results = [b for m in last if m["role"] == "user" for b in m["content"] if isinstance(b, dict)]
    results = [b for b in results if b.get("type") == "tool_result"]
    assert len(results) == 4 and "no_such_tool" in json.dumps(results[0])

    # Iterations are bounded: a model that keeps calling tools fails the node, saying so.
    before = len(llm.chat_requests())
    llm.reply(*[tool_call("echo", {"n": n}) for n in range(5)])
    echo = await create(client, ann, chain(TRIGGER), name="echo")
    tool = {"kind": "workflow", "name": "echo", "description": "Echoes.", "workflow_id": echo}
    execution = await run_nodes(
        client, ann, node("agent", "ai.agent", {"tools": [tool], "max_iterations": 3})
    )
    assert execution["status"] == "failed"
    assert "still calling tools (echo) after 3 iterations (max_iterations)" in failed(execution, "agent")
    assert len(llm.chat_requests()) == before + 3


async def test_classify_routes_extract_repairs_and_summarize_maps_then_reduces(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    await add_model(db, ann, "gpt", llm.openai_url, default=True)
    llm.reply('{"category": "billing"}', '```json\n{"category": "tech"}\n```', '{"category": "weather"}')
    classify = node(
        "c",
        "ai.classify",
        {
            "categories": [
                {"name": "billing", "description": "Invoices, refunds, payments."},
                {"name": "tech", "description": "Bugs and errors."},
            ]
        },
    )
    workflow_id = await create(
        client,
        ann,
        {
            "nodes": [TRIGGER, classify],
            "edges": [{"from": "trigger", "output": "main", "to": "c", "input": "main"}],
            "settings": {},
        },
    )
    items = [{"text": "I was charged twice"}, {"text": "The app crashes"}, {"text": "Is it sunny?"}]
    execution = await run(client, ann, workflow_id, items)
    routed = outputs(execution, "c")
    assert [i["text"] for i in routed["billing"]] == ["I was charged twice"]
    assert [i["text"] for i in routed["tech"]] == ["The app crashes"]
    assert routed["other"] == [{"text": "Is it sunny?", "category": "other"}]
    schema = llm.chat_requests()[0].body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == ["billing", "tech", "other"]
    # Without `other`, an answer that is no category fails the item, saying what the model said.
    llm.reply('{"category": "weather"}')
    strict = await run_nodes(
        client, ann, {**classify, "parameters": {**classify["parameters"], "other": False}}
    )
    assert '\'{"category": "weather"}\', which is none of the categories' in failed(strict, "c")

    # ai.extract: the answer is validated against the schema, and a wrong one sent back once.
    before = len(llm.chat_requests())
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    llm.reply('{"name": "Ann"}', '{"name": "Ann", "age": 34}')
    extract = node("x", "ai.extract", {"schema": schema})
    execution = await run_nodes(client, ann, extract, items=[{"text": "Ann is 34."}])
    out = outputs(execution, "x")["main"][0]
    assert out["data"] == {"name": "Ann", "age": 34} and out["attempts"] == 2
    first, repair = llm.chat_requests()[before:]
    assert first.body["response_format"]["json_schema"]["schema"] == schema
    assert "'age' is a required property" in repair.body["messages"][-1]["content"]

    llm.reply("not json", '{"name": 1, "age": 2}')
    bad = await run_nodes(client, ann, extract, items=[{"text": "?"}])
    assert failed(bad, "x").startswith(
        "the model's answer did not match the schema, also after one repair: at name"
    )
    refused = await client.post(
        "/api/v1/workflows",
        json={
            "name": "bad",
            "definition": chain(TRIGGER, node("x", "ai.extract", {"schema": {"type": "nope"}})),
        },
        headers=ann.headers,
    )
    assert refused.status_code == 422 and "schema" in refused.text

    # ai.summarize: long text is cut by the token budget, each piece summarized, then the summaries.
    paragraphs = [f"Paragraph {n}. " + "word " * 150 for n in range(4)]  # ~760 characters each
    before = len(llm.chat_requests())
    llm.reply("one", "two", "three", "four", "all four")
    execution = await run_nodes(
        client,
        ann,
        node("s", "ai.summarize", {"chunk_tokens": 200}),  # 800 characters a piece
        items=[{"text": "\n\n".join(paragraphs)}],
    )
    out = outputs(execution, "s")["main"][0]
    assert (out["summary"], out["pieces"], out["calls"]) == ("all four", 4, 5)
    sent = [r.body["messages"][-1]["content"] for r in llm.chat_requests()[before:]]
    assert [s.split(".")[0] for s in sent[:4]] == [f"Paragraph {n}" for n in range(4)]
    assert sent[4] == "one\n\ntwo\n\nthree\n\nfour"
    too_long = await run_nodes(
        client,
        ann,
        node("s", "ai.summarize", {"chunk_tokens": 200, "max_pieces": 2}),
        items=[{"text": "\n\n".join(paragraphs)}],
    )
    assert "at most 2 (max_pieces)" in failed(too_long, "s")


async def test_a_model_down_or_missing_is_a_clear_error_and_embed_works_locally_and_remotely(
    client: httpx.AsyncClient, ann: Account, db: Database, llm: FakeLLM
) -> None:
    none = await run_nodes(client, ann, node("a", "ai.chat", {}))
    assert "no LLM configured" in failed(none, "a")
    down = f"http://127.0.0.1:{free_port()}/v1"
    await add_model(db, ann, "gone", down, default=True)
    execution = await run_nodes(client, ann, node("a", "ai.chat", {}))
    error = failed(execution, "a")
    assert "cannot reach" in error and down in error, error
    unknown = await run_nodes(client, ann, node("a", "ai.chat", {"model": "nope"}))
    assert "nope" in failed(unknown, "a")
    assert await usage_rows(db) == []

    # ai.embed: the local model by default, or a remote OpenAI-compatible one.
    await add_model(db, ann, "remote", llm.openai_url, model_id="fake-embed", type_=ModelType.embedding)
    execution = await run_nodes(
        client,
        ann,
        node("local", "ai.embed", {}),
        node("remote", "ai.embed", {"model": "remote", "field": "remote_vector"}),
        items=[{"text": "refunds take five days"}, {"text": "the app crashes"}],
    )
    assert execution["status"] == "completed", execution
    local = outputs(execution, "local")["main"]
    assert [(i["dimensions"], len(i["embedding"]), i["embedding_model"]) for i in local] == [
        (384, 384, "local:all-MiniLM-L6-v2")
    ] * 2
    assert abs(sum(x * x for x in local[0]["embedding"]) - 1) < 1e-3
    remote = outputs(execution, "remote")["main"]
    assert [len(i["remote_vector"]) for i in remote] == [64, 64] and remote[0]["dimensions"] == 64
