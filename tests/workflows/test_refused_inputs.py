"""Bad inputs to the editor's and the API's new routes get a clear 422 (problem+json), never a
500 and never an accepted run that crashes at its start: pins and start nodes of a run, the
executions list's time filters, variable values."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, edge, node, run

SET = node("s", "core.set", {"fields": {"x": "1"}, "keep_only_set": True})


async def test_pins_and_start_nodes_a_run_cannot_use_are_refused_before_it_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER, SET))
    earlier = await run(client, ann, workflow_id)
    assert earlier["status"] == "completed"

    bad: list[dict[str, Any]] = [
        {"pinned": {"s": 5}},  # not items
        {"pinned": {"s": [1, 2]}},  # items that are not objects
        {"pinned": {"s": {"main": "text"}}},
        {"pinned": {"nowhere": [{"a": 1}]}},  # no such node
        {"start_node": "nowhere"},
        {"start_node": "s"},  # it has an incoming connection: a run cannot start there
        {"start_node": "nowhere", "reuse_execution": earlier["id"]},  # was a 500
        {"reuse_execution": earlier["id"]},  # was silently ignored: the whole workflow ran
    ]
    for body in bad:
        refused = await client.post(f"/api/v1/workflows/{workflow_id}/run", json=body, headers=ann.headers)
        assert refused.status_code == 422, (body, refused.text)
        problem = refused.json()
        assert refused.headers["content-type"] == "application/problem+json"
        assert problem["errors"][0]["loc"][1] in ("pinned", "start_node"), problem
    listed = await client.get(f"/api/v1/executions?workflow_id={workflow_id}", headers=ann.headers)
    assert [e["id"] for e in listed.json()["items"]] == [earlier["id"]]  # nothing accepted

    # What is fine still runs: pins by name, a start at a root, a run again from a node.
    pinned = await run(client, ann, workflow_id, pinned={"s": [{"pinned": True}]})
    assert pinned["status"] == "completed"
    again = await run(client, ann, workflow_id, start_node="s", reuse_execution=earlier["id"])
    assert again["status"] == "completed"


async def test_a_loop_node_cannot_be_pinned(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    definition = {
        "nodes": [TRIGGER, node("l", "core.loop"), node("b", "core.noop"), node("d", "core.noop")],
        "edges": [edge("trigger", "l"), edge("l", "b", "loop"), edge("b", "l"), edge("l", "d", "done")],
        "settings": {},
        "pinned": {"l": {"done": [{"a": 1}]}},
    }
    saved = await client.post(
        "/api/v1/workflows", json={"name": "w", "definition": definition}, headers=ann.headers
    )
    assert saved.status_code == 422 and saved.json()["errors"][0]["node_id"] == "l", saved.text

    del definition["pinned"]
    workflow_id = await create(client, ann, definition)
    refused = await client.post(
        f"/api/v1/workflows/{workflow_id}/run", json={"pinned": {"l": [{"a": 1}]}}, headers=ann.headers
    )
    assert refused.status_code == 422 and "loop" in refused.json()["detail"], refused.text


async def test_the_executions_list_takes_any_time_it_parses(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER, SET))
    ran = await run(client, ann, workflow_id)
    found = {
        "since=2020-01-01": [ran["id"]],  # no zone: UTC (was a 500)
        "since=2020-01-01T00:00:00": [ran["id"]],
        "until=2020-01-01T00:00:00": [],
        "since=0001-01-01T00:00:00Z": [ran["id"]],  # the ends of the calendar (were 500s)
        "until=9999-12-31T23:59:59": [ran["id"]],
        "until=9999-12-31T23:59:59%2B14:00": [ran["id"]],
        "since=9999-12-31T23:59:59-14:00": [],
        "until=0001-01-01T00:00:00%2B14:00": [],
    }
    for query, ids in found.items():
        listed = await client.get(f"/api/v1/executions?{query}", headers=ann.headers)
        assert listed.status_code == 200, (query, listed.text)
        assert [e["id"] for e in listed.json()["items"]] == ids, query


async def test_variables_refuse_values_no_run_could_use(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    unfit = [
        ("json", "[" * 5000 + "]" * 5000),  # was a 500 (RecursionError)
        ("json", "[" * 40 + "]" * 40),  # deeper than the databases store
        ("json", "NaN"),
        ("json", '{"a": 1e999}'),
        ("number", "nan"),
        ("number", "inf"),
        ("number", "1e400"),
    ]
    for type_, value in unfit:
        refused = await client.post(
            "/api/v1/variables", json={"name": "V", "value": value, "type": type_}, headers=ann.headers
        )
        assert refused.status_code == 422, (type_, value[:20], refused.text)
        assert refused.json()["errors"][0]["loc"] == ["body", "value"]
    made = await client.post(
        "/api/v1/variables",
        json={"name": "V", "value": '{"a": [1.5, 2]}', "type": "json"},
        headers=ann.headers,
    )
    assert made.status_code == 201, made.text
    patched = await client.patch(
        f"/api/v1/variables/{made.json()['id']}", json={"value": "NaN"}, headers=ann.headers
    )
    assert patched.status_code == 422
    values = await client.get("/api/v1/variables/values", headers=ann.headers)
    assert values.json() == {"V": {"a": [1.5, 2]}}


async def test_max_concurrency_must_be_a_whole_number(client: httpx.AsyncClient) -> None:
    """The claim reads it from the stored definition as sent: "2" made every run crash (int >=
    str) three times and then fail."""
    ann = await signup(client, "ann")
    for limit in ("2", 2.0, True):
        definition = {**chain(TRIGGER, SET), "settings": {"max_concurrency": limit}}
        refused = await client.post(
            "/api/v1/workflows", json={"name": "w", "definition": definition}, headers=ann.headers
        )
        assert refused.status_code == 422, (limit, refused.text)
    workflow_id = await create(client, ann, {**chain(TRIGGER, SET), "settings": {"max_concurrency": 2}})
    assert (await run(client, ann, workflow_id))["status"] == "completed"
