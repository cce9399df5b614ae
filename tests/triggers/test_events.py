"""Events: a workflow that listens for workflow.completed/failed runs when another one finishes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, run


async def listener(client: httpx.AsyncClient, who: Any, event: str, filter_: str | None = None) -> str:
    parameters = {"event": event, **({"filter": filter_} if filter_ else {})}
    definition = chain(
        node("on", "core.event", parameters),
        node("note", "core.set", {"fields": {"heard": "{{ json.workflow_name }}"}}),
    )
    workflow_id = await create(client, who, definition, name=f"listens to {event}")
    assert (
        await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=who.headers)
    ).status_code == 200
    return workflow_id


async def runs_of(client: httpx.AsyncClient, who: Any, workflow_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/executions", params={"workflow_id": workflow_id}, headers=who.headers
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_completed_and_failed_events_start_listeners_with_matching_filters(
    client: httpx.AsyncClient, app: Any
) -> None:
    ann = await signup(client, "ann")
    on_done = await listener(client, ann, "workflow.completed", "{{ json.workflow_name == 'Source' }}")
    on_fail = await listener(client, ann, "workflow.failed")
    source = await create(client, ann, chain(TRIGGER, node("ok", "core.noop")), name="Source")
    other = await create(client, ann, chain(TRIGGER, node("ok", "core.noop")), name="Other")
    broken = await create(
        client, ann, chain(TRIGGER, node("boom", "core.stop_error", {"message": "no"})), name="Broken"
    )

    await run(client, ann, source)
    await run(client, ann, other)
    await run(client, ann, broken)
    await app.state.executor.drain()

    heard = await runs_of(client, ann, on_done)
    assert len(heard) == 1 and heard[0]["trigger_type"] == "event"
    [source_run] = await runs_of(client, ann, source)
    assert heard[0]["root_execution_id"] == source_run["id"] and heard[0]["chain_depth"] == 1
    assert source_run["root_execution_id"] is None and source_run["chain_depth"] == 0
    detail = (await client.get(f"/api/v1/executions/{heard[0]['id']}", headers=ann.headers)).json()
    item = next(n for n in detail["nodes"] if n["node_id"] == "note")["output_data"]["main"][0]
    assert (
        item["event"] == "workflow.completed" and item["heard"] == "Source" and item["status"] == "completed"
    )
    failed = await runs_of(client, ann, on_fail)
    assert len(failed) == 1
    # A listener's own completion is not an event for itself (no endless loop), and only one
    # listener exists per event, so nothing else ran.
    assert len(await runs_of(client, ann, on_done)) == 1


async def test_events_stay_inside_the_organization(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    app.state.settings.open_signup = True
    bob = await signup(client, "bob")
    bobs_listener = await listener(client, bob, "workflow.*")
    anns = await create(client, ann, chain(TRIGGER, node("ok", "core.noop")), name="Ann's")
    await run(client, ann, anns)
    await app.state.executor.drain()
    assert await runs_of(client, bob, bobs_listener) == []


async def test_two_workflows_triggering_each_other_stop_at_the_cycle_with_a_visible_failure(
    client: httpx.AsyncClient, app: Any
) -> None:
    ann = await signup(client, "ann")
    ping = await listener(client, ann, "workflow.completed")  # each hears the other's completions
    pong = await listener(client, ann, "workflow.completed")

    await run(client, ann, ping, [{"event": "manual"}])  # a first run starts the ping-pong
    async with asyncio.timeout(30):
        await app.state.executor.drain()

    pings, pongs = await runs_of(client, ann, ping), await runs_of(client, ann, pong)
    assert [r["status"] for r in pings] == ["completed", "completed"]
    refused, heard = pongs  # newest first
    assert heard["status"] == "completed"
    assert refused["status"] == "failed" and refused["started_at"] is None
    assert "cycle" in refused["error"] and "Not started" in refused["error"]


async def test_a_heavy_filter_is_stopped_by_its_small_budget_and_does_not_match(
    client: httpx.AsyncClient, app: Any
) -> None:
    """A filter renders inside the emitting write, on the event loop: it gets a budget of its own
    (10,000 steps), far below a node's, so an author cannot stall the server through it."""
    ann = await signup(client, "ann")
    heavy = "{% for a in range(200) %}{% for b in range(200) %}{% endfor %}{% endfor %}"
    stalled = await listener(client, ann, "workflow.completed", heavy + "{{ true }}")
    light = await listener(client, ann, "workflow.completed", "{{ json.workflow_name == 'Source' }}")
    source = await create(client, ann, chain(TRIGGER, node("ok", "core.noop")), name="Source")
    await run(client, ann, source)
    await app.state.executor.drain()
    assert await runs_of(client, ann, stalled) == []
    assert len(await runs_of(client, ann, light)) == 1
