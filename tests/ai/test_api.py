"""The AI models API on every database: add models with keys from credentials, test them against
a local OpenAI/Anthropic server, defaults per type, refusals, deletion guarded by knowledge
bases, which model a call resolves to, token usage summed, and another organization's models
out of reach."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account, signup, signup_invited
from tests.support.llm_server import EmbeddingReply, FakeLLM, fake_llm, text
from tests.support.server import free_port
from tests.support.workflows import TRIGGER, chain, create, run
from wirework.ai import service
from wirework.ai.llm import AIError, Usage
from wirework.ai.models import ModelType
from wirework.db.engine import Database
from wirework.errors import Conflict, NotFound, ValidationFailed
from wirework.knowledge.models import KBCollection
from wirework.security.vault import Vault
from wirework.settings import Settings

KEY = "sk-live-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.http_allow_hosts = "127.0.0.1"  # the fake model server is on loopback
    settings.open_signup = True
    return settings


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeLLM]:
    async with fake_llm() as fake:
        yield fake


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.requests.clear()
    server.replies.clear()
    server.embedding_replies.clear()
    server.api_key = None
    return server


@pytest.fixture
async def ann(client: httpx.AsyncClient) -> Account:
    return await signup(client, "ann")


async def credential(
    client: httpx.AsyncClient, who: Account, type: str, api_key: str, name: str = "key"
) -> str:
    body = {"name": name, "type": type, "data": {"api_key": api_key}}
    response = await client.post("/api/v1/credentials", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_model(client: httpx.AsyncClient, who: Account, **body: Any) -> httpx.Response:
    return await client.post("/api/v1/ai/models", json=body, headers=who.headers)


async def openai_model(
    client: httpx.AsyncClient, who: Account, llm: FakeLLM, name: str = "Fast", **extra: Any
) -> dict[str, Any]:
    response = await add_model(
        client,
        who,
        name=name,
        provider="openai",
        model_id=extra.pop("model_id", "fake-gpt"),
        configuration={"base_url": llm.openai_url, "temperature": 0.1, **extra.pop("configuration", {})},
        **extra,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_add_test_and_default_models_with_keys_from_credentials(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM
) -> None:
    llm.api_key = KEY
    openai_key = await credential(client, ann, "openai_api", KEY, "OpenAI")
    claude_key = await credential(client, ann, "anthropic_api", ANTHROPIC_KEY, "Claude")
    fast = await openai_model(client, ann, llm, credential_id=openai_key)
    assert fast["provider"] == "openai" and fast["type"] == "llm" and fast["is_default"] is False
    assert fast["configuration"] == {"base_url": llm.openai_url, "temperature": 0.1}

    llm.reply(text("OK", usage=(14, 1)))
    tested = (await client.post(f"/api/v1/ai/models/{fast['id']}/test", headers=ann.headers)).json()
    assert tested["ok"] is True and tested["answer"] == "OK" and tested["model"] == "fake-gpt"
    assert tested["usage"] == {"prompt_tokens": 14, "completion_tokens": 1}
    assert tested["latency_ms"] > 0
    sent = llm.last()
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["messages"] == [{"role": "user", "content": service.TEST_PROMPT}]

    # Anthropic needs its own credential type; the server answers in its protocol.
    wrong = await add_model(
        client, ann, name="Claude", provider="anthropic", model_id="claude-x", credential_id=openai_key
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == (
        "credential 'OpenAI' is of type openai_api; anthropic models take an anthropic_api credential"
    )
    # Each entry of `errors` fits the problem schema (loc, msg, type), as OpenAPI says.
    assert wrong.json()["errors"] == [
        {"loc": ["body", "credential_id"], "msg": "needs a anthropic_api credential", "type": "value_error"}
    ]
    claude = await add_model(
        client,
        ann,
        name="Claude",
        provider="anthropic",
        model_id="claude-x",
        credential_id=claude_key,
        configuration={"base_url": llm.url},
    )
    assert claude.status_code == 201, claude.text
    llm.api_key = ANTHROPIC_KEY
    llm.reply("OK")
    tested = (await client.post(f"/api/v1/ai/models/{claude.json()['id']}/test", headers=ann.headers)).json()
    assert tested["ok"] is True and tested["answer"] == "OK"
    assert llm.last().headers["x-api-key"] == ANTHROPIC_KEY

    # No key ever comes back, from any route.
    for url in ("/api/v1/ai/models", f"/api/v1/ai/models/{fast['id']}", "/api/v1/credentials"):
        body = (await client.get(url, headers=ann.headers)).text
        assert KEY not in body and ANTHROPIC_KEY not in body

    # One default per type: setting another clears the first.
    first = await client.post(f"/api/v1/ai/models/{fast['id']}/default", headers=ann.headers)
    assert first.status_code == 200 and first.json()["is_default"] is True
    second = await client.post(f"/api/v1/ai/models/{claude.json()['id']}/default", headers=ann.headers)
    assert second.json()["is_default"] is True
    listed = (await client.get("/api/v1/ai/models", headers=ann.headers)).json()["items"]
    assert {m["name"]: m["is_default"] for m in listed} == {"Fast": False, "Claude": True}
    builtin = (await client.get("/api/v1/ai/builtin-embedding", headers=ann.headers)).json()
    assert builtin["model_id"] == "all-MiniLM-L6-v2" and builtin["dimensions"] == 384
    assert builtin["in_use_as_default"] is True
    unset = await client.delete(f"/api/v1/ai/models/{claude.json()['id']}/default", headers=ann.headers)
    assert unset.json()["is_default"] is False


async def test_defaults_set_at_once_leave_one_default(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM, db: Database
) -> None:
    """Two transactions make two models the default at once: one wins, the other is a 409 (or,
    where the database makes it wait for the first, it clears the first and wins); never two."""
    first, second = [await openai_model(client, ann, llm, name=n) for n in ("A", "B")]
    org = uuid.UUID(ann.org_id)
    async with db.session() as one, db.session() as two:
        await service.set_default(one, await service.find_model(one, org, first["id"]))  # flushed, open
        racing = asyncio.create_task(
            service.set_default(two, await service.find_model(two, org, second["id"]))
        )
        await asyncio.sleep(0.3)
        await one.commit()
        try:
            await racing
            await two.commit()
            winner = "B"
        except Conflict as exc:
            assert "Another default was set at the same moment" in exc.detail
            winner = "A"
    if db.dialect == "postgresql":
        assert winner == "A"  # the unique index waits for the first, then refuses the second
    listed = (await client.get("/api/v1/ai/models", headers=ann.headers)).json()["items"]
    assert [m["name"] for m in listed if m["is_default"]] == [winner]


async def test_a_model_test_gives_the_answer_size_or_why_it_failed(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM
) -> None:
    down = await add_model(
        client,
        ann,
        name="Down",
        provider="openai",
        model_id="m",
        configuration={"base_url": f"http://127.0.0.1:{free_port()}/v1"},
    )
    tested = (await client.post(f"/api/v1/ai/models/{down.json()['id']}/test", headers=ann.headers)).json()
    assert tested["ok"] is False
    assert tested["error"].startswith("cannot reach the model server at http://127.0.0.1:")
    assert "connection refused" in tested["error"]

    llm.api_key = KEY
    no_key = await openai_model(client, ann, llm, name="No key")
    tested = (await client.post(f"/api/v1/ai/models/{no_key['id']}/test", headers=ann.headers)).json()
    assert tested["ok"] is False and "HTTP 401" in tested["error"] and "API key" in tested["error"]

    llm.api_key = None
    made = await openai_model(
        client, ann, llm, name="Embed", type="embedding", configuration={"dimensions": 64}
    )
    tested = (await client.post(f"/api/v1/ai/models/{made['id']}/test", headers=ann.headers)).json()
    assert tested == {"ok": True, "dimensions": 64, "latency_ms": tested["latency_ms"], "answer": None,
                      "model": None, "usage": None, "error": None}  # fmt: skip
    llm.reply_embeddings(EmbeddingReply(dimensions=12))
    tested = (await client.post(f"/api/v1/ai/models/{made['id']}/test", headers=ann.headers)).json()
    assert tested["ok"] is False
    assert "answered an embedding of 12 numbers, expected 64" in tested["error"]


REFUSED: list[tuple[dict[str, Any], int, str]] = [
    ({"provider": "local", "model_id": "all-MiniLM-L6-v2", "type": "llm"}, 422, "choose provider openai"),
    ({"provider": "local", "model_id": "other", "type": "embedding"}, 422, "built-in embedding model only"),
    ({"provider": "anthropic", "model_id": "c", "type": "embedding"}, 422, "Anthropic serves no embedding"),
    (
        {"provider": "openai", "model_id": "m", "configuration": {"dimensions": 3}},
        422,
        "embedding models only",
    ),
    ({"provider": "openai", "model_id": "m", "configuration": {"secret": 1}}, 422, "Extra inputs"),
    ({"provider": "openai", "model_id": "m", "configuration": {"temperature": 9}}, 422, "less than or equal"),
    (
        {"provider": "openai", "model_id": "m", "configuration": {"timeout_s": 6000}},
        422,
        "less than or equal",
    ),
    ({"provider": "openai", "model_id": "m", "configuration": {"base_url": "ftp://x"}}, 422, "http://"),
    ({"provider": "openai", "model_id": "m", "configuration": {"max_tokens": True}}, 422, "valid integer"),
    ({"provider": "openai", "model_id": "m", "configuration": {"temperature": "1"}}, 422, "valid number"),
    (
        {
            "provider": "openai",
            "model_id": "m",
            "configuration": {"base_url": "https://u:sk-1@api.example.com/v1"},
        },
        422,
        "put the key in a credential",
    ),
    (
        {"provider": "openai", "model_id": "m", "configuration": {"base_url": "http://169.254.169.254/v1"}},
        422,
        "169.254.169.254 is a link-local/metadata address",
    ),
    ({"provider": "openai", "model_id": "m", "credential_id": str(uuid.uuid4())}, 404, "not found"),
    ({"provider": "gemini", "model_id": "m"}, 422, "provider"),
    ({"provider": "openai", "model_id": ""}, 422, "model_id"),
]


async def test_refused_models(client: httpx.AsyncClient, ann: Account) -> None:
    for body, status, says in REFUSED:
        response = await add_model(client, ann, name="x", **body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert says in response.text, (body, response.text)
    assert (await client.get("/api/v1/ai/models", headers=ann.headers)).json()["items"] == []


async def test_change_and_delete_models(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM, db: Database
) -> None:
    """Names are unique, PATCH changes what it is given, a default is not deactivated, and a
    model whose vectors a knowledge base holds is not deleted."""
    fast = await openai_model(client, ann, llm)
    await openai_model(client, ann, llm, name="Other")
    assert (await add_model(client, ann, name="Fast", provider="openai", model_id="m")).status_code == 409
    url = f"/api/v1/ai/models/{fast['id']}"
    assert (await client.patch(url, json={"name": "Other"}, headers=ann.headers)).status_code == 409
    key = await credential(client, ann, "openai_api", KEY)
    changed = await client.patch(
        url,
        json={"model_id": "fake-gpt-2", "credential_id": key, "description": "quick"},
        headers=ann.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["model_id"], changed.json()["credential_id"]) == ("fake-gpt-2", key)
    assert changed.json()["configuration"]["temperature"] == 0.1  # untouched
    cleared = (await client.patch(url, json={"credential_id": None}, headers=ann.headers)).json()
    assert cleared["credential_id"] is None and cleared["description"] == "quick"
    await client.post(f"{url}/default", headers=ann.headers)
    refused = await client.patch(url, json={"is_active": False}, headers=ann.headers)
    assert refused.status_code == 409 and "default" in refused.json()["detail"]

    embed = await openai_model(client, ann, llm, name="Embed", type="embedding")
    async with db.session() as session:
        session.add(
            KBCollection(
                org_id=uuid.UUID(ann.org_id), name="Handbook", embedding_model_id=uuid.UUID(embed["id"])
            )
        )
        await session.commit()
    refused = await client.delete(f"/api/v1/ai/models/{embed['id']}", headers=ann.headers)
    assert refused.status_code == 409
    assert (
        "'Handbook'" in refused.json()["detail"]
        and "delete those knowledge bases" in refused.json()["detail"]
    )
    other = await openai_model(client, ann, llm, name="Unused")
    assert (await client.delete(f"/api/v1/ai/models/{other['id']}", headers=ann.headers)).status_code == 204
    assert (await client.get(f"/api/v1/ai/models/{other['id']}", headers=ann.headers)).status_code == 404


async def test_which_model_a_call_uses(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM, db: Database, app: Any
) -> None:
    vault: Vault = app.state.vault
    org = uuid.UUID(ann.org_id)
    with pytest.raises(service.NoModel, match="no LLM configured: add one on the AI models page"):
        await service.resolve_model(db, vault, org, None, ModelType.llm)
    builtin = await service.resolve_model(db, vault, org, None, ModelType.embedding)
    assert (builtin.provider, builtin.model_id, builtin.id) == ("local", "all-MiniLM-L6-v2", None)

    key = await credential(client, ann, "openai_api", KEY)
    fast = await openai_model(client, ann, llm, credential_id=key)
    smart = await openai_model(client, ann, llm, name="Smart")
    embed = await openai_model(client, ann, llm, name="Embed", type="embedding")
    await client.post(f"/api/v1/ai/models/{smart['id']}/default", headers=ann.headers)
    await client.post(f"/api/v1/ai/models/{embed['id']}/default", headers=ann.headers)

    by_name = await service.resolve_model(db, vault, org, "Fast", ModelType.llm)
    assert (by_name.id, by_name.api_key, by_name.base_url) == (uuid.UUID(fast["id"]), KEY, llm.openai_url)
    assert KEY not in repr(by_name)
    assert (await service.resolve_model(db, vault, org, fast["id"], ModelType.llm)).name == "Fast"
    assert (await service.resolve_model(db, vault, org, None, ModelType.llm)).name == "Smart"
    embedder = await service.embedder_for(db, vault, org, None, ssrf=app.state.platform.ssrf_policy)
    assert embedder.key == f"openai:{embed['id']}"
    assert (await embedder.embed(["hello world"])).shape == (1, 64)
    with pytest.raises(ValidationFailed, match="'Embed' is an embedding model; this needs an LLM"):
        await service.resolve_model(db, vault, org, "Embed", ModelType.llm)
    with pytest.raises(NotFound, match="AI model 'Nope' not found"):
        await service.resolve_model(db, vault, org, "Nope", ModelType.llm)
    await client.patch(f"/api/v1/ai/models/{fast['id']}", json={"is_active": False}, headers=ann.headers)
    with pytest.raises(AIError, match="'Fast' is inactive"):
        await service.resolve_model(db, vault, org, "Fast", ModelType.llm)
    # Another organization's model is not found by id or name.
    bob = await signup(client, "bob")
    with pytest.raises(NotFound):
        await service.resolve_model(db, vault, uuid.UUID(bob.org_id), smart["id"], ModelType.llm)
    with pytest.raises(service.NoModel):
        await service.resolve_model(db, vault, uuid.UUID(bob.org_id), None, ModelType.llm)


async def test_usage_is_recorded_and_summed(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM, db: Database, app: Any
) -> None:
    vault: Vault = app.state.vault
    org = uuid.UUID(ann.org_id)
    fast = await openai_model(client, ann, llm)
    await openai_model(client, ann, llm, name="Smart", model_id="fake-gpt-4")
    execution = await run(client, ann, await create(client, ann, chain(TRIGGER)))
    execution_id = uuid.UUID(execution["id"])
    model_fast = await service.resolve_model(db, vault, org, "Fast", ModelType.llm)
    model_smart = await service.resolve_model(db, vault, org, "Smart", ModelType.llm)
    await service.record_usage(db, org, model_fast, Usage(100, 20), execution_id=execution_id, node_id="chat")
    await service.record_usage(db, org, model_fast, Usage(50, 5), execution_id=execution_id, node_id="chat")
    await service.record_usage(db, org, model_smart, Usage(7, 3))

    everything = (await client.get("/api/v1/ai/usage", headers=ann.headers)).json()
    assert (everything["calls"], everything["prompt_tokens"], everything["completion_tokens"]) == (3, 157, 28)
    assert [(i["name"], i["model_name"], i["calls"], i["total_tokens"]) for i in everything["items"]] == [
        ("Fast", "fake-gpt", 2, 175),
        ("Smart", "fake-gpt-4", 1, 10),
    ]
    one_run = (await client.get(f"/api/v1/ai/usage?execution_id={execution_id}", headers=ann.headers)).json()
    assert (one_run["calls"], one_run["total_tokens"]) == (2, 175)
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert (await client.get("/api/v1/ai/usage", params={"since": later}, headers=ann.headers)).json()[
        "calls"
    ] == 0
    naive = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert (await client.get("/api/v1/ai/usage", params={"since": naive}, headers=ann.headers)).json()[
        "calls"
    ] == 3
    # A deleted model's usage stays, under the provider's model name.
    await client.delete(f"/api/v1/ai/models/{fast['id']}", headers=ann.headers)
    kept = (await client.get("/api/v1/ai/usage", headers=ann.headers)).json()["items"]
    assert [(i["model_id"], i["name"], i["model_name"], i["total_tokens"]) for i in kept] == [
        (None, None, "fake-gpt", 175),
        (kept[1]["model_id"], "Smart", "fake-gpt-4", 10),
    ]
    bob = await signup(client, "bob")
    assert (await client.get("/api/v1/ai/usage", headers=bob.headers)).json() == {
        "items": [], "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "calls": 0,
    }  # fmt: skip


async def test_another_organization_sees_nothing_and_viewers_only_read(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM
) -> None:
    fast = await openai_model(client, ann, llm)
    eve = await signup(client, "eve")
    url = f"/api/v1/ai/models/{fast['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"name": "mine"}),
        ("DELETE", url, None),
        ("POST", f"{url}/test", None),
        ("POST", f"{url}/default", None),
        ("DELETE", f"{url}/default", None),
    ]:
        response = await client.request(method, path, json=body, headers=eve.headers)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert "not found" in response.json()["detail"]
    assert (await client.get("/api/v1/ai/models", headers=eve.headers)).json()["items"] == []
    # Nor can Eve use Ann's credential for a model of her own.
    ann_key = await credential(client, ann, "openai_api", KEY)
    stolen = await add_model(client, eve, name="x", provider="openai", model_id="m", credential_id=ann_key)
    assert stolen.status_code == 404
    assert llm.requests == []
    assert (await client.get(url, headers=ann.headers)).json()["name"] == "Fast"

    # A viewer of Ann's organization reads, and changes nothing.
    viewer = await signup_invited(client, ann, "vic", role="viewer")
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    assert (await client.get("/api/v1/ai/usage", headers=viewer.headers)).status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/ai/models", {"name": "v", "provider": "openai", "model_id": "m"}),
        ("PATCH", url, {"name": "x"}),
        ("DELETE", url, None),
        ("POST", f"{url}/test", None),
        ("POST", f"{url}/default", None),
    ]:
        response = await client.request(method, path, json=body, headers=viewer.headers)
        assert response.status_code == 403, (method, path, response.text)
    assert llm.requests == []


async def test_a_bots_model_is_used_before_the_default_and_must_be_an_llm_of_the_org(
    client: httpx.AsyncClient, ann: Account, llm: FakeLLM, db: Database, app: Any
) -> None:
    vault: Vault = app.state.vault
    fast = await openai_model(client, ann, llm)
    smart = await openai_model(client, ann, llm, name="Smart")
    embed = await openai_model(client, ann, llm, name="Embed", type="embedding")
    await client.post(f"/api/v1/ai/models/{smart['id']}/default", headers=ann.headers)
    created = await client.post(
        "/api/v1/bots", json={"name": "Helper", "ai_model_id": fast["id"]}, headers=ann.headers
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["ai_model_id"] == fast["id"]
    org, bot_id = uuid.UUID(ann.org_id), uuid.UUID(bot["id"])
    assert (await service.resolve_model(db, vault, org, None, ModelType.llm, bot_id=bot_id)).name == "Fast"
    assert (
        await service.resolve_model(db, vault, org, "Smart", ModelType.llm, bot_id=bot_id)
    ).name == "Smart"

    refused = await client.patch(
        f"/api/v1/bots/{bot['id']}", json={"ai_model_id": embed["id"]}, headers=ann.headers
    )
    assert refused.status_code == 422 and "not an LLM of this organization" in refused.json()["detail"]
    bob = await signup(client, "bob")
    theirs = await client.post(
        "/api/v1/bots", json={"name": "B", "ai_model_id": fast["id"]}, headers=bob.headers
    )
    assert theirs.status_code == 422, theirs.text

    cleared = await client.patch(f"/api/v1/bots/{bot['id']}", json={"ai_model_id": None}, headers=ann.headers)
    assert cleared.status_code == 200 and cleared.json()["ai_model_id"] is None
    assert (await service.resolve_model(db, vault, org, None, ModelType.llm, bot_id=bot_id)).name == "Smart"
