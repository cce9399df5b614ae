"""AI-built workflows through /api/v1/ai/suggestions, with a local server speaking the OpenAI
protocol as the model: the repair loop, the stored suggestion and its diff, apply, feedback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.accounts import Account, signup, signup_invited
from tests.support.llm_server import FakeLLM, error, fake_llm, text
from tests.support.workflows import TRIGGER, chain, create, edge, node
from wirework.ai.models import AIUsage, AIWorkflowSuggestion
from wirework.db.engine import Database
from wirework.settings import Settings

BASE = "/api/v1/ai/suggestions"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32, http_allow_hosts="127.0.0.1"
    )


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeLLM]:
    async with fake_llm() as fake:
        yield fake


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.requests.clear()
    server.replies.clear()
    return server


async def with_model(client: httpx.AsyncClient, who: Account, llm: FakeLLM) -> str:
    made = await client.post(
        "/api/v1/ai/models",
        json={
            "name": "Planner",
            "provider": "openai",
            "model_id": "fake-gpt",
            "configuration": {"base_url": llm.openai_url},
        },
        headers=who.headers,
    )
    assert made.status_code == 201, made.text
    model_id = str(made.json()["id"])
    default = await client.post(f"/api/v1/ai/models/{model_id}/default", headers=who.headers)
    assert default.status_code == 200, default.text
    return model_id


def answer(definition: dict[str, Any]) -> Any:
    return text(json.dumps(definition))


GREET = {
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.manual_trigger", "parameters": {}},
        {
            "id": "greet",
            "name": "Greet",
            "type": "core.set",
            "parameters": {"fields": {"greeting": "Hello {{ json.name }}"}},
        },
        {
            "id": "keep",
            "name": "Only adults",
            "type": "core.filter",
            "parameters": {"condition": "{{ json.age > 17 }}"},
        },
    ],
    "edges": [{"from": "start", "to": "greet"}, {"from": "greet", "to": "keep"}],
}


async def test_a_sentence_becomes_a_workflow_after_one_repair(
    client: httpx.AsyncClient, llm: FakeLLM, db: Database
) -> None:
    ann = await signup(client, "ann")
    model_id = await with_model(client, ann, llm)
    wrong = json.loads(json.dumps(GREET))
    wrong["nodes"][1]["type"] = "core.greet_everyone"
    llm.reply(answer(wrong), answer(GREET))

    made = await client.post(BASE, json={"prompt": "Greet adults by name"}, headers=ann.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["attempts"] == 2 and body["model_id"] == model_id and body["is_applied"] is False
    # The model was told what it can use, in JSON mode, and then what was wrong.
    first, second = llm.chat_requests()
    assert first.body["response_format"]["type"] == "json_schema"
    system = first.body["messages"][0]["content"]
    assert '"type":"core.set"' in system and '"type":"core.filter"' in system
    assert first.body["messages"][1] == {"role": "user", "content": "Greet adults by name"}
    repair = second.body["messages"][-1]["content"]
    assert "node 'greet'" in repair and "core.greet_everyone" in repair
    # Laid out left to right, since the model gave no positions.
    positions = [n["position"] for n in body["suggestion"]["nodes"]]
    assert positions == [[0, 0], [260, 0], [520, 0]]
    assert [n["id"] for n in body["diff"]["nodes_added"]] == ["start", "greet", "keep"]
    assert [(e["from_name"], e["to_name"]) for e in body["diff"]["edges_added"]] == [
        ("Greet", "Only adults"),
        ("Start", "Greet"),
    ]
    async with db.session() as session:
        tokens = (await session.execute(select(func.count()).select_from(AIUsage))).scalar_one()
    assert tokens == 1  # one usage row for the two calls

    applied = await client.post(f"{BASE}/{body['id']}/apply", json={"name": "Adults"}, headers=ann.headers)
    assert applied.status_code == 200, applied.text
    workflow_id = applied.json()["applied_workflow_id"]
    assert applied.json()["is_applied"] is True and applied.json()["applied_at"]
    workflow = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=ann.headers)).json()
    assert workflow["name"] == "Adults" and workflow["version"] == 1
    assert [n["type"] for n in workflow["definition"]["nodes"]] == [
        "core.manual_trigger",
        "core.set",
        "core.filter",
    ]
    again = await client.post(f"{BASE}/{body['id']}/apply", headers=ann.headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    liked = await client.post(
        f"{BASE}/{body['id']}/feedback", json={"feedback": "positive"}, headers=ann.headers
    )
    assert liked.status_code == 200 and liked.json()["feedback"] == "positive"
    bad = await client.post(f"{BASE}/{body['id']}/feedback", json={"feedback": "great"}, headers=ann.headers)
    assert bad.status_code == 422

    listed = (await client.get(BASE, headers=ann.headers)).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]
    # Another member of the organization neither lists nor reads it.
    bob = await signup_invited(client, ann, "bob")
    assert (await client.get(BASE, headers=bob.headers)).json()["items"] == []
    assert (await client.get(f"{BASE}/{body['id']}", headers=bob.headers)).status_code == 404
    for action, payload in (("apply", {}), ("feedback", {"feedback": "negative"})):
        response = await client.post(f"{BASE}/{body['id']}/{action}", json=payload, headers=bob.headers)
        assert response.status_code == 404, action


async def test_a_change_shows_its_diff_and_applies_as_a_new_version(
    client: httpx.AsyncClient, llm: FakeLLM, settings: Settings
) -> None:
    settings.open_signup = True
    ann = await signup(client, "ann", org_name="Ann's")
    await with_model(client, ann, llm)
    current = chain(TRIGGER, node("greet", "core.set", {"fields": {"greeting": "Hi"}}, name="Greet"))
    workflow_id = await create(client, ann, current, "Greeter")
    changed = {
        "nodes": [
            {**TRIGGER, "position": [0, 0]},
            {
                "id": "greet",
                "name": "Greet",
                "type": "core.set",
                "parameters": {"fields": {"greeting": "Hello"}},
            },
            {
                "id": "top",
                "name": "Top 5",
                "type": "core.limit",
                "parameters": {"max_items": 5},
            },
        ],
        "edges": [edge("trigger", "greet"), edge("greet", "top")],
        "settings": {},
    }
    llm.reply(answer(changed))
    made = await client.post(
        BASE, json={"prompt": "Say hello, keep five", "workflow_id": workflow_id}, headers=ann.headers
    )
    assert made.status_code == 201, made.text
    # The model saw the definition it changes.
    assert '"greeting": "Hi"' in llm.chat_requests()[0].body["messages"][0]["content"]
    diff = made.json()["diff"]
    assert diff["nodes_added"] == [{"id": "top", "name": "Top 5", "type": "core.limit"}]
    assert diff["nodes_removed"] == []
    assert diff["nodes_changed"] == [
        {
            "id": "greet",
            "name": "Greet",
            "type": "core.set",
            "fields": {},
            "parameters": {"fields": {"before": {"greeting": "Hi"}, "after": {"greeting": "Hello"}}},
        }
    ]
    assert [(e["from"], e["to"]) for e in diff["edges_added"]] == [("greet", "top")]
    assert diff["edges_removed"] == []

    # Another organization sees nothing of it and cannot apply it.
    olga = await signup(client, "olga", org_name="Other")
    suggestion = made.json()["id"]
    assert (await client.get(BASE, headers=olga.headers)).json()["items"] == []
    for method, path, body in (
        ("GET", f"{BASE}/{suggestion}", None),
        ("POST", f"{BASE}/{suggestion}/apply", {}),
        ("POST", f"{BASE}/{suggestion}/feedback", {"feedback": "negative"}),
    ):
        response = await client.request(method, path, json=body, headers=olga.headers)
        assert response.status_code == 404, (method, path, response.text)

    applied = await client.post(f"{BASE}/{suggestion}/apply", headers=ann.headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied_workflow_id"] == workflow_id
    assert applied.json()["feedback"] is None
    workflow = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=ann.headers)).json()
    assert workflow["version"] == 2
    assert workflow["definition"]["nodes"][1]["parameters"] == {"fields": {"greeting": "Hello"}}


async def test_what_never_validates_is_a_422_and_nothing_is_stored(
    client: httpx.AsyncClient, llm: FakeLLM, db: Database, settings: Settings
) -> None:
    ann = await signup(client, "ann")
    await with_model(client, ann, llm)
    bad = {"nodes": [{"id": "a", "name": "A", "type": "core.nope", "parameters": {}}], "edges": []}
    nul = '{"nodes": [{"id": "a", "name": "A\\u0000", "type": "core.set", "parameters": {}}], "edges": []}'
    llm.reply(text("I would build a workflow that greets people."), text(nul), answer(bad))
    refused = await client.post(BASE, json={"prompt": "Greet people"}, headers=ann.headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "after 3 attempts" in problem["detail"] and "core.nope" in problem["detail"]
    assert problem["errors"][0]["node_id"] == "a"
    assert len(llm.chat_requests()) == 3
    assert "not JSON" in llm.chat_requests()[1].body["messages"][-1]["content"]
    assert "NUL character" in llm.chat_requests()[2].body["messages"][-1]["content"]
    async with db.session() as session:
        stored = (await session.execute(select(func.count()).select_from(AIWorkflowSuggestion))).scalar_one()
    assert stored == 0

    llm.reply(error(500, "overloaded"))
    down = await client.post(BASE, json={"prompt": "Greet people"}, headers=ann.headers)
    assert down.status_code == 502
    assert "Planner" in down.json()["detail"]

    # Another organization's workflow is not there to change.
    settings.open_signup = True
    other = await signup(client, "olga", org_name="Other")
    theirs = await create(client, other, chain(TRIGGER), "Theirs")
    missing = await client.post(BASE, json={"prompt": "x", "workflow_id": theirs}, headers=ann.headers)
    assert missing.status_code == 404
    empty = await client.post(BASE, json={"prompt": "  "}, headers=ann.headers)
    assert empty.status_code == 422


async def test_an_ai_scoped_key_does_not_see_workflows_through_suggestions(
    client: httpx.AsyncClient, llm: FakeLLM
) -> None:
    """A suggestion for an existing workflow reads it (definition to the model, parameters in
    the diff): an API key needs workflows:read to make or see one, workflows:write to apply."""
    ann = await signup(client, "ann")
    await with_model(client, ann, llm)
    secret = "internal-token-9f8e7d"
    workflow_id = await create(
        client, ann, chain(TRIGGER, node("set", "core.set", {"fields": {"t": secret}}))
    )

    async def key(scopes: list[str]) -> dict[str, str]:
        made = await client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=ann.headers
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['key']}"}

    ai_only = await key(["ai:read", "ai:write"])
    refused = await client.post(BASE, json={"prompt": "tidy", "workflow_id": workflow_id}, headers=ai_only)
    assert refused.status_code == 403, refused.text
    assert "workflows:read" in refused.json()["detail"]
    assert llm.chat_requests() == []  # nothing was sent to the model
    # A new workflow needs no workflow scope.
    llm.reply(answer(GREET))
    new = await client.post(BASE, json={"prompt": "greet adults"}, headers=ai_only)
    assert new.status_code == 201, new.text
    # The user's own suggestion for the workflow (made in the browser) stays hidden from the key.
    llm.reply(answer(chain(TRIGGER, node("set", "core.set", {"fields": {}}))))
    change = await client.post(BASE, json={"prompt": "tidy", "workflow_id": workflow_id}, headers=ann.headers)
    assert change.status_code == 201, change.text
    assert secret in change.text  # the user who reads the workflow sees its diff
    change_id = change.json()["id"]
    listed = await client.get(BASE, headers=ai_only)
    assert [s["id"] for s in listed.json()["items"]] == [new.json()["id"]]
    for path in (f"{BASE}/{change_id}", f"{BASE}?workflow_id={workflow_id}"):
        hidden = await client.get(path, headers=ai_only)
        assert hidden.status_code == 403 and secret not in hidden.text, hidden.text
    feedback = await client.post(
        f"{BASE}/{change_id}/feedback", json={"feedback": "positive"}, headers=ai_only
    )
    assert feedback.status_code == 403 and secret not in feedback.text
    # With workflows:read the key reads it; applying needs workflows:write.
    reader = await key(["ai:read", "ai:write", "workflows:read"])
    shown = await client.get(f"{BASE}/{change_id}", headers=reader)
    assert shown.status_code == 200 and secret in shown.text
    applied = await client.post(f"{BASE}/{change_id}/apply", headers=reader)
    assert applied.status_code == 403 and "workflows:write" in applied.json()["detail"]
