"""What the editor's expression preview reads from the server: the one list of names runs render
with, `vars` as a run sees them; and what a missing field means in a comparison."""

from __future__ import annotations

import inspect

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, edge, node, outputs, run
from wirework.engine.expressions import EMPTY_NODES, EXPRESSION_NAMES, expression_context
from wirework.settings import Settings


async def test_the_api_lists_exactly_the_names_runs_render_with(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    reference = (await client.get("/api/v1/expressions", headers=ann.headers)).json()
    listed = [entry["name"] for entry in reference["names"]]
    arguments = {name: None for name in inspect.signature(expression_context).parameters}
    rendered_with = list(expression_context(**{**arguments, "nodes": EMPTY_NODES}))
    assert listed == rendered_with == list(EXPRESSION_NAMES)
    assert all(entry["description"] for entry in reference["names"])
    assert {"default", "to_json", "from_json", "upper"} <= set(reference["filters"])
    assert not [f for f in reference["filters"] if f.startswith("@")]  # internal ones stay hidden
    assert {"defined", "none"} <= set(reference["tests"]) and "range" in reference["functions"]


async def test_variable_values_are_what_a_run_sees(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.open_signup = True
    ann = await signup(client, "ann", org_name="A")
    workflow_id = await create(
        client, ann, chain(TRIGGER, node("set", "core.set", {"fields": {"v": "{{ vars }}"}}))
    )
    for body in (
        {"name": "LIMIT", "value": "10", "type": "number"},
        {"name": "who", "value": "world"},
        {"name": "who", "value": "team", "workflow_id": workflow_id},
        {"name": "on", "value": "true", "type": "boolean"},
    ):
        assert (await client.post("/api/v1/variables", json=body, headers=ann.headers)).status_code == 201
    values = await client.get(
        "/api/v1/variables/values", params={"workflow_id": workflow_id}, headers=ann.headers
    )
    assert values.json() == {"LIMIT": 10, "who": "team", "on": True}
    assert outputs(await run(client, ann, workflow_id), "set")["main"][0]["v"] == values.json()
    org_wide = await client.get("/api/v1/variables/values", headers=ann.headers)
    assert org_wide.json() == {"LIMIT": 10, "who": "world", "on": True}

    bob = await signup(client, "bob", org_name="B")
    assert (await client.get("/api/v1/variables/values", headers=bob.headers)).json() == {}
    other = await client.get(
        "/api/v1/variables/values", params={"workflow_id": workflow_id}, headers=bob.headers
    )
    assert other.status_code == 404


async def test_a_missing_or_null_field_compares_false_instead_of_failing_the_run(
    client: httpx.AsyncClient,
) -> None:
    ann = await signup(client, "ann")
    definition = chain(TRIGGER, node("check", "core.if", {"condition": "{{ json.total > 100 }}"}))
    definition["nodes"] += [
        node("big", "core.set", {"fields": {"size": "big"}}),
        node("small", "core.set", {"fields": {"size": "small"}}),
    ]
    definition["edges"] += [edge("check", "big", "true"), edge("check", "small", "false")]
    workflow_id = await create(client, ann, definition)
    execution = await run(client, ann, workflow_id, [{"total": 150}, {}, {"total": None}, {"total": 5}])
    assert execution["status"] == "completed", execution
    assert [i.get("total") for i in outputs(execution, "big")["main"]] == [150]
    assert [i.get("total") for i in outputs(execution, "small")["main"]] == [None, None, 5]


async def test_a_bad_variable_name_is_explained_in_words(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    refused = await client.post(
        "/api/v1/variables", json={"name": "not a name", "value": "x"}, headers=ann.headers
    )
    assert refused.status_code == 422
    message = refused.json()["errors"][0]["msg"]
    assert "letters, digits or '_'" in message and "[A-Za-z" not in message
