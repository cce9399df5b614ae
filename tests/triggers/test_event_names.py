"""`core.event` offers only events Wirework emits, and a workflow listening for anything else
is refused on save (it would save and never run)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import signup
from tests.support.workflows import chain, node
from wirework.triggers import events
from wirework.triggers.event_names import EMITTED_EVENTS, subscription_patterns


def test_every_emitted_event_is_in_the_registry() -> None:
    assert {events.WORKFLOW_COMPLETED, events.WORKFLOW_FAILED} <= set(EMITTED_EVENTS)
    # bots.service emits these (tests/bots/test_events.py sees them start workflows)
    assert {"message.received", "message.sent", "session.started"} <= set(EMITTED_EVENTS)


async def test_the_editor_is_offered_only_emitted_events(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    types = {t["type"]: t for t in (await client.get("/api/v1/node-types", headers=ann.headers)).json()}
    event = types["core.event"]["parameters_schema"]["properties"]["event"]
    assert (
        event["enum"]
        == subscription_patterns()
        == [
            "workflow.completed",
            "workflow.failed",
            "message.received",
            "message.sent",
            "session.started",
            "message.*",
            "session.*",
            "workflow.*",
            "*",
        ]
    )
    assert "form.submitted" not in str(types["core.event"])


@pytest.mark.parametrize(
    "name",
    ["message.receive", "form.submitted", "workflow.complete", "workflow.c*", "form.*", "{{ json.e }}"],
)
async def test_unknown_events_are_refused_on_save_pointing_at_the_node(
    client: httpx.AsyncClient, name: str
) -> None:
    ann = await signup(client, "ann")
    definition = chain(node("on", "core.event", {"event": name}), node("n", "core.noop"))
    response = await client.post(
        "/api/v1/workflows", json={"name": "listener", "definition": definition}, headers=ann.headers
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors[0]["node_id"] == "on" and "no event" in errors[0]["msg"], errors


@pytest.mark.parametrize("name", ["workflow.completed", "workflow.failed", "workflow.*", "*"])
async def test_emitted_events_and_wildcards_that_match_them_save(
    client: httpx.AsyncClient, name: str
) -> None:
    ann = await signup(client, "ann")
    definition = chain(node("on", "core.event", {"event": name}), node("n", "core.noop"))
    response = await client.post(
        "/api/v1/workflows", json={"name": "listener", "definition": definition}, headers=ann.headers
    )
    assert response.status_code == 201, response.text
