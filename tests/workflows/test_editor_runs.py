"""Runs from the editor: a draft runs without being saved or published, pinned outputs saved in
the workflow feed the editor's runs and never a production run, and running from a node of a
draft reuses an earlier run's outputs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run


def webhook(path: str) -> dict[str, Any]:
    return node("hook", "core.webhook", {"path": path, "response_mode": "last_node"})


def greet(word: str) -> dict[str, Any]:
    return node("greet", "core.set", {"fields": {"word": word}, "keep_only_set": True})


async def versions(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> list[int]:
    listed = await client.get(f"/api/v1/workflows/{workflow_id}/versions", headers=headers)
    return [v["version"] for v in listed.json()]


async def test_a_draft_run_is_not_saved_and_the_live_webhook_keeps_its_version(
    client: httpx.AsyncClient,
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(webhook("live-draft"), greet("saved")))
    assert (await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=ann.headers)).is_success

    draft = chain(webhook("live-draft"), greet("draft"))
    ran = await run(client, ann, workflow_id, [{"body": {}}], definition=draft, start_node="hook")
    assert ran["status"] == "completed", ran
    assert outputs(ran, "greet") == {"main": [{"word": "draft"}]}
    assert await versions(client, ann.headers, workflow_id) == [1]
    live = await client.post("/webhook/live-draft", json={})
    assert live.status_code == 200 and live.json() == [{"word": "saved"}]
    detail = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=ann.headers)).json()
    assert detail["version"] == 1
    assert detail["definition"]["nodes"][1]["parameters"]["fields"] == {"word": "saved"}

    invalid = chain(webhook("live-draft"), node("x", "core.nope"))
    refused = await client.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"definition": invalid}, headers=ann.headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["node_id"] == "x"


async def test_pinned_outputs_saved_in_the_workflow_feed_editor_runs_never_production(
    client: httpx.AsyncClient,
) -> None:
    ann = await signup(client, "ann")
    definition = chain(
        webhook("pinned-hook"),
        node("lookup", "core.set", {"fields": {"source": "live"}, "keep_only_set": True}),
        node("after", "core.set", {"fields": {"seen": "{{ json.source }}"}, "keep_only_set": True}),
    )
    definition["pinned"] = {
        "lookup": {"main": [{"source": "pinned"}]},
        "hook": {"main": [{"body": {"sample": True}}]},
    }
    workflow_id = await create(client, ann, definition)
    assert (await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=ann.headers)).is_success
    saved = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=ann.headers)).json()
    assert saved["definition"]["pinned"] == definition["pinned"]  # saved with the workflow

    production = await client.post("/webhook/pinned-hook", json={"real": 1})
    assert production.status_code == 200 and production.json() == [{"seen": "live"}]

    manual = await run(client, ann, workflow_id)  # the editor's Execute: pins apply
    assert outputs(manual, "after") == {"main": [{"seen": "pinned"}]}
    assert outputs(manual, "hook") == {"main": [{"body": {"sample": True}}]}

    listened = await client.post(
        f"/api/v1/workflows/{workflow_id}/webhook-test", json={"definition": definition}, headers=ann.headers
    )
    test_call = await client.post(listened.json()["url"], json={"real": 2})
    assert test_call.status_code == 200 and test_call.json() == [{"seen": "pinned"}]
    execution_id = test_call.headers["X-Wirework-Execution"]
    detail = (await client.get(f"/api/v1/executions/{execution_id}", headers=ann.headers)).json()
    assert outputs(detail, "hook")["main"][0]["body"] == {"real": 2}  # the call itself, not the pin

    bad = {**definition, "pinned": {"ghost": {"main": []}}}
    refused = await client.post(
        f"/api/v1/workflows/{workflow_id}/versions", json={"definition": bad}, headers=ann.headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["node_id"] == "ghost"


async def test_running_from_a_node_of_a_draft_reuses_the_earlier_run(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    definition = chain(
        TRIGGER,
        node("a", "core.set", {"fields": {"n": "{{ json.n + 1 }}"}}),
        node("b", "core.set", {"fields": {"twice": "{{ json.n * 2 }}"}}),
    )
    workflow_id = await create(client, ann, definition)
    first = await run(client, ann, workflow_id, [{"n": 1}])
    assert outputs(first, "b") == {"main": [{"n": 2, "twice": 4}]}

    draft = chain(
        TRIGGER,
        node("a", "core.set", {"fields": {"n": "{{ json.n + 100 }}"}}),  # would change if it ran
        node("b", "core.set", {"fields": {"thrice": "{{ json.n * 3 }}"}}),
    )
    again = await run(client, ann, workflow_id, definition=draft, start_node="b", reuse_execution=first["id"])
    assert again["status"] == "completed", again
    assert [n["node_id"] for n in again["nodes"]] == ["b"]
    assert outputs(again, "b") == {"main": [{"n": 2, "thrice": 6}]}
    assert await versions(client, ann.headers, workflow_id) == [1]


async def test_the_executions_list_tells_draft_runs_from_saved_ones(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER, greet("saved")))
    saved = await run(client, ann, workflow_id)
    drafted = await run(client, ann, workflow_id, definition=chain(TRIGGER, greet("draft")))
    assert (saved["is_draft"], drafted["is_draft"]) == (False, True)
    listed = (await client.get("/api/v1/executions", headers=ann.headers)).json()["items"]
    assert [(e["id"], e["is_draft"]) for e in listed] == [(drafted["id"], True), (saved["id"], False)]


async def test_the_sub_workflow_node_is_not_named_like_the_run_button(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    types = (await client.get("/api/v1/node-types", headers=ann.headers)).json()
    names = {t["type"]: t["display_name"] for t in types}
    assert names["core.execute_workflow"] == "Run sub-workflow"
    assert "Execute workflow" not in names.values()  # the editor's button is called that
