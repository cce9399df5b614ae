"""Sticky notes: saved with the definition, ignored by the engine, validated for size."""

from __future__ import annotations

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run

NOTE = {"id": "note_1", "text": "Doubles **n**", "position": [10, -120], "width": 300, "height": 140}


async def test_a_sticky_note_is_saved_and_the_run_ignores_it(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    definition = chain(TRIGGER, node("double", "core.set", {"fields": {"twice": "{{ json.n * 2 }}"}}))
    definition["sticky_notes"] = [NOTE]
    workflow_id = await create(client, alice, definition)
    saved = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=alice.headers)).json()
    assert saved["definition"]["sticky_notes"] == [NOTE]
    execution = await run(client, alice, workflow_id, [{"n": 21}])
    assert execution["status"] == "completed", execution
    assert [n["node_id"] for n in execution["nodes"]] == ["trigger", "double"]
    assert outputs(execution, "double") == {"main": [{"n": 21, "twice": 42}]}


async def test_sticky_notes_are_bounded(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    for bad, where in [
        ({**NOTE, "text": "x" * 10_001}, "text"),
        ({**NOTE, "width": 5000}, "width"),
        ({**NOTE, "color": "javascript:alert(1)"}, "color"),
        ({**NOTE, "onclick": "x"}, "onclick"),
    ]:
        definition = {**chain(TRIGGER), "sticky_notes": [bad]}
        response = await client.post(
            "/api/v1/workflows", json={"name": "n", "definition": definition}, headers=alice.headers
        )
        assert response.status_code == 422, response.text
        assert any(where in str(e.get("field") or e.get("loc")) for e in response.json()["errors"]), (
            response.text
        )
    twice = {**chain(TRIGGER), "sticky_notes": [NOTE, NOTE]}
    response = await client.post(
        "/api/v1/workflows", json={"name": "n", "definition": twice}, headers=alice.headers
    )
    assert response.status_code == 422 and "unique" in response.text
