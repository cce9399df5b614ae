"""Workflows through the API: save (validated), version, run durably, inspect, retry, cancel."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import delete, select

from tests.support.accounts import signup, signup_invited
from tests.support.workflows import TRIGGER, chain, create, edge, node, outputs, run
from wirework.db.engine import Database
from wirework.engine.models import ExecutionLog, NodeCategoryRecord, NodeTypeRecord


async def test_run_a_branching_workflow_and_read_every_node(client: httpx.AsyncClient, db: Database) -> None:
    alice = await signup(client, "alice")
    definition = chain(TRIGGER, node("if", "core.if", {"condition": "{{ json.total >= 100 }}"}))
    definition["nodes"] += [
        node("big", "core.set", {"fields": {"size": "big", "double": "{{ json.total * 2 }}"}}),
        node("small", "core.set", {"fields": {"size": "small"}}),
    ]
    definition["edges"] += [edge("if", "big", "true"), edge("if", "small", "false")]
    workflow_id = await create(client, alice, definition)
    execution = await run(client, alice, workflow_id, [{"total": 150}])
    assert execution["status"] == "completed", execution
    assert outputs(execution, "big") == {"main": [{"total": 150, "size": "big", "double": 300}]}
    assert [n["node_id"] for n in execution["nodes"]] == ["trigger", "if", "big"]  # small was skipped
    both = await run(client, alice, workflow_id, [{"total": 5}, {"total": 500}])
    assert outputs(both, "small") == {"main": [{"total": 5, "size": "small"}]}
    assert outputs(both, "big")["main"][0]["double"] == 1000


async def test_invalid_definition_is_422_pointing_at_the_node(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    bad = chain(TRIGGER, node("x", "core.nope"))
    bad["edges"].append(edge("x", "ghost"))
    response = await client.post(
        "/api/v1/workflows", json={"name": "bad", "definition": bad}, headers=alice.headers
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e.get("node_id") for e in errors} >= {"x"}
    assert any("core.nope" in e["msg"] for e in errors)
    params = chain(TRIGGER, node("limit", "core.limit", {"max_items": -3}))
    response = await client.post(
        "/api/v1/workflows", json={"name": "p", "definition": params}, headers=alice.headers
    )
    assert response.status_code == 422 and response.json()["errors"][0]["node_id"] == "limit"


async def test_versions_are_immutable_and_restorable(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    v1 = chain(TRIGGER, node("set", "core.set", {"fields": {"v": 1}}))
    workflow_id = await create(client, alice, v1)
    v2 = chain(TRIGGER, node("set", "core.set", {"fields": {"v": 2}}))
    saved = await client.post(
        f"/api/v1/workflows/{workflow_id}/versions",
        json={"definition": v2, "notes": "two"},
        headers=alice.headers,
    )
    assert saved.status_code == 201 and saved.json()["version"] == 2
    assert outputs(await run(client, alice, workflow_id), "set") == {"main": [{"v": 2}]}
    assert outputs(await run(client, alice, workflow_id, version=1), "set") == {"main": [{"v": 1}]}
    restored = await client.post(f"/api/v1/workflows/{workflow_id}/versions/1/restore", headers=alice.headers)
    assert restored.json()["version"] == 3 and restored.json()["definition"] == v1
    versions = (await client.get(f"/api/v1/workflows/{workflow_id}/versions", headers=alice.headers)).json()
    assert [v["version"] for v in versions] == [3, 2, 1]


async def test_variables_reach_expressions(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(
        client,
        alice,
        chain(
            TRIGGER,
            node(
                "set",
                "core.set",
                {"fields": {"greeting": "Hello {{ vars.who }}", "limit": "{{ vars.limit + 1 }}"}},
            ),
        ),
    )
    for body in ({"name": "who", "value": "world"}, {"name": "limit", "value": "41", "type": "number"}):
        assert (await client.post("/api/v1/variables", json=body, headers=alice.headers)).status_code == 201
    scoped = {"name": "who", "value": "team", "workflow_id": workflow_id}
    assert (await client.post("/api/v1/variables", json=scoped, headers=alice.headers)).status_code == 201
    result = outputs(await run(client, alice, workflow_id), "set")["main"][0]
    assert result == {"greeting": "Hello team", "limit": 42}
    wrong = await client.post(
        "/api/v1/variables", json={"name": "n", "value": "abc", "type": "number"}, headers=alice.headers
    )
    assert wrong.status_code == 422
    dup = await client.post("/api/v1/variables", json={"name": "who", "value": "x"}, headers=alice.headers)
    assert dup.status_code == 409


async def test_retry_starts_at_the_failed_node_reusing_earlier_outputs(
    client: httpx.AsyncClient, db: Database
) -> None:
    alice = await signup(client, "alice")
    var = (
        await client.post(
            "/api/v1/variables", json={"name": "d", "value": "0", "type": "number"}, headers=alice.headers
        )
    ).json()
    definition = chain(
        TRIGGER,
        node("a", "core.set", {"fields": {"n": 10}}),
        node("b", "core.set", {"fields": {"q": "{{ json.n // vars.d }}"}}),
    )
    workflow_id = await create(client, alice, definition)
    failed = await run(client, alice, workflow_id)
    assert failed["status"] == "failed" and failed["error_node"] == "b"
    assert "division" in failed["error"].lower() or "zero" in failed["error"].lower()
    await client.patch(f"/api/v1/variables/{var['id']}", json={"value": "5"}, headers=alice.headers)
    retried = await client.post(f"/api/v1/executions/{failed['id']}/retry", headers=alice.headers)
    assert retried.status_code == 201 and retried.json()["retry_of"] == failed["id"]
    for _ in range(200):
        detail = (
            await client.get(f"/api/v1/executions/{retried.json()['id']}", headers=alice.headers)
        ).json()
        if detail["status"] in ("completed", "failed"):
            break
        await asyncio.sleep(0.05)
    assert detail["status"] == "completed", detail
    assert [n["node_id"] for n in detail["nodes"]] == ["b"]  # trigger and a were not run again
    assert outputs(detail, "b") == {"main": [{"n": 10, "q": 2}]}


async def test_wait_pauses_durably_and_cancel_stops_it(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(
        client,
        alice,
        chain(TRIGGER, node("wait", "core.wait", {"seconds": 3600}), node("after", "core.noop")),
    )
    waiting = await run(client, alice, workflow_id)
    assert waiting["status"] == "waiting" and waiting["resume_at"]
    cancelled = await client.post(f"/api/v1/executions/{waiting['id']}/cancel", headers=alice.headers)
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/executions/{waiting['id']}/cancel", headers=alice.headers)
    assert again.status_code == 409


async def test_short_wait_resumes_and_completes(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(
        client,
        alice,
        chain(
            TRIGGER,
            node("wait", "core.wait", {"seconds": 0.3}),
            node("after", "core.set", {"fields": {"done": True}}),
        ),
    )
    execution = await run(client, alice, workflow_id, [{"x": 1}])
    for _ in range(100):
        if execution["status"] == "completed":
            break
        await asyncio.sleep(0.1)
        execution = (await client.get(f"/api/v1/executions/{execution['id']}", headers=alice.headers)).json()
    assert execution["status"] == "completed", execution
    assert outputs(execution, "after") == {"main": [{"x": 1, "done": True}]}


async def test_sub_workflow_and_error_workflow(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    child = await create(
        client,
        alice,
        chain(TRIGGER, node("double", "core.set", {"fields": {"n": "{{ json.n * 2 }}"}})),
        name="child",
    )
    parent = await create(
        client, alice, chain(TRIGGER, node("call", "core.execute_workflow", {"workflow_id": child}))
    )
    result = await run(client, alice, parent, [{"n": 2}, {"n": 5}])
    assert outputs(result, "call") == {"main": [{"n": 4}, {"n": 10}]}
    handler = await create(
        client, alice, chain(TRIGGER, node("note", "core.set", {"fields": {"seen": True}})), name="on error"
    )
    failing = chain(TRIGGER, node("boom", "core.stop_error", {"message": "it broke"}))
    failing["settings"] = {"error_workflow_id": handler}
    broken = await create(client, alice, failing, name="broken")
    failed = await run(client, alice, broken)
    assert failed["status"] == "failed" and failed["error"] == "it broke"
    for _ in range(100):
        runs = (await client.get(f"/api/v1/executions?workflow_id={handler}", headers=alice.headers)).json()[
            "items"
        ]
        if runs and runs[0]["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    detail = (await client.get(f"/api/v1/executions/{runs[0]['id']}", headers=alice.headers)).json()
    item = outputs(detail, "note")["main"][0]
    assert item["execution"]["id"] == failed["id"] and item["execution"]["error"] == "it broke"


async def test_executions_filter_and_paginate_newest_first(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(client, alice, chain(TRIGGER))
    ids = [(await run(client, alice, workflow_id))["id"] for _ in range(3)]
    page = (
        await client.get(f"/api/v1/executions?workflow_id={workflow_id}&limit=2", headers=alice.headers)
    ).json()
    assert [e["id"] for e in page["items"]] == ids[::-1][:2]
    rest = (
        await client.get(f"/api/v1/executions?limit=2&cursor={page['next_cursor']}", headers=alice.headers)
    ).json()
    assert [e["id"] for e in rest["items"]] == [ids[0]]
    failed = (await client.get("/api/v1/executions?status=failed", headers=alice.headers)).json()
    assert failed["items"] == []
    listed = (await client.get("/api/v1/workflows", headers=alice.headers)).json()["items"]
    assert listed[0]["last_run"]["id"] == ids[-1]


async def test_viewer_reads_but_cannot_run(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    viewer = await signup_invited(client, alice, "vic", role="viewer")
    workflow_id = await create(client, alice, chain(TRIGGER))
    assert (await client.get(f"/api/v1/workflows/{workflow_id}", headers=viewer.headers)).status_code == 200
    response = await client.post(f"/api/v1/workflows/{workflow_id}/run", json={}, headers=viewer.headers)
    assert response.status_code == 403


async def test_node_types_and_templates(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    types = {t["type"]: t for t in (await client.get("/api/v1/node-types", headers=alice.headers)).json()}
    assert {"core.if", "core.set", "core.wait", "core.execute_workflow", "data.parse"} <= set(types)
    assert types["core.if"]["outputs"] == ["true", "false"]
    assert "condition" in types["core.if"]["parameters_schema"]["properties"]
    templates = (await client.get("/api/v1/templates", headers=alice.headers)).json()
    assert len(templates) >= 8
    made = await client.post(f"/api/v1/templates/{templates[0]['id']}/use", json={}, headers=alice.headers)
    assert made.status_code == 201 and made.json()["version"] == 1


async def test_node_types_and_their_palette_order_come_from_the_registry_tables(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The `nodes` and `node_categories` tables, filled from the registry at start, are what
    the node-types API (and so the editor's palette) offers."""
    alice = await signup(client, "alice")
    async with db.session() as session:
        noop = (
            await session.execute(select(NodeTypeRecord).where(NodeTypeRecord.type == "core.noop"))
        ).scalar_one()
        noop.name = "Do nothing (as the table says)"
        await session.execute(delete(NodeTypeRecord).where(NodeTypeRecord.type == "core.wait"))
        await session.commit()
    types = (await client.get("/api/v1/node-types", headers=alice.headers)).json()
    by_type = {t["type"]: t for t in types}
    assert by_type["core.noop"]["display_name"] == "Do nothing (as the table says)"
    assert "core.wait" not in by_type
    categories = list(dict.fromkeys(t["category"] for t in types))
    assert categories == ["Triggers", "Core", "Flow", "Transform", "Data", "Chat", "AI"]  # AI: issue 13
    async with db.session() as session:
        orders = dict(
            (await session.execute(select(NodeCategoryRecord.name, NodeCategoryRecord.display_order))).all()
        )
    assert sorted(categories, key=orders.__getitem__) == categories


async def test_is_public_is_not_offered_until_it_does_something(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(client, alice, chain(TRIGGER))
    shown = (await client.get(f"/api/v1/workflows/{workflow_id}", headers=alice.headers)).json()
    assert "is_public" not in shown
    refused = await client.patch(
        f"/api/v1/workflows/{workflow_id}", json={"is_public": True}, headers=alice.headers
    )
    assert refused.status_code == 422


async def test_node_logs_are_committed_per_node(client: httpx.AsyncClient, db: Database) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(client, alice, chain(TRIGGER, node("a", "core.noop"), node("b", "core.noop")))
    execution = await run(client, alice, workflow_id, [{"i": 1}])
    async with db.session() as session:
        rows = (await session.execute(select(ExecutionLog.node_id, ExecutionLog.item_count))).all()
    assert sorted(rows) == [("a", 1), ("b", 1), ("trigger", 1)]
    assert execution["nodes"][1]["input_data"] == {"main": [{"i": 1}]}


async def test_rerun_from_a_chosen_node_reuses_earlier_outputs(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    definition = chain(
        TRIGGER,
        node("a", "core.crypto", {"operation": "uuid", "field": "id"}),
        node("b", "core.set", {"fields": {"copy": "{{ json.id }}"}}),
    )
    workflow_id = await create(client, alice, definition)
    first = await run(client, alice, workflow_id)
    made = outputs(first, "a")["main"][0]["id"]
    rerun = await client.post(
        f"/api/v1/executions/{first['id']}/rerun", json={"node": "b"}, headers=alice.headers
    )
    assert rerun.status_code == 201
    for _ in range(100):
        detail = (await client.get(f"/api/v1/executions/{rerun.json()['id']}", headers=alice.headers)).json()
        if detail["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    assert [n["node_id"] for n in detail["nodes"]] == ["b"]
    assert outputs(detail, "b")["main"][0]["copy"] == made  # a's uuid from the first run, not a new one
    unknown = await client.post(
        f"/api/v1/executions/{first['id']}/rerun", json={"node": "zz"}, headers=alice.headers
    )
    assert unknown.status_code == 422


async def test_pinned_data_replaces_running_a_node(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    definition = chain(
        TRIGGER,
        node("boom", "core.stop_error", {"message": "would fail"}),
        node("after", "core.set", {"fields": {"seen": True}}),
    )
    workflow_id = await create(client, alice, definition)
    execution = await run(client, alice, workflow_id, pinned={"boom": [{"pinned": 1}]})
    assert execution["status"] == "completed", execution
    assert outputs(execution, "after") == {"main": [{"pinned": 1, "seen": True}]}


async def test_retention_prunes_old_and_surplus_executions(client: httpx.AsyncClient, db: Database) -> None:
    from datetime import timedelta

    from sqlalchemy import func, update

    from wirework.db.types import utcnow
    from wirework.engine.executions import prune
    from wirework.engine.models import Execution

    alice = await signup(client, "alice")
    workflow_id = await create(client, alice, chain(TRIGGER))
    ids = [(await run(client, alice, workflow_id))["id"] for _ in range(5)]
    async with db.session() as session:
        old = utcnow() - timedelta(days=40)
        await session.execute(
            update(Execution).where(Execution.id == uuid.UUID(ids[0])).values(created_at=old)
        )
        await session.commit()
    assert await prune(db, max_age_days=30, max_count=0) == 1
    assert await prune(db, max_age_days=30, max_count=2) == 2
    async with db.session() as session:
        left = (await session.execute(select(Execution.id).order_by(Execution.id))).scalars().all()
        logs = (await session.execute(select(func.count()).select_from(ExecutionLog))).scalar()
    assert [str(i) for i in left] == ids[3:]
    assert logs == 2


async def test_export_then_import_round_trips(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    definition = chain(TRIGGER, node("set", "core.set", {"fields": {"v": 1}}))
    workflow_id = await create(client, alice, definition)
    exported = (await client.get(f"/api/v1/workflows/{workflow_id}/export", headers=alice.headers)).json()
    imported = await client.post("/api/v1/workflows/import", json=exported, headers=alice.headers)
    assert imported.status_code == 201 and imported.json()["definition"] == definition
    assert imported.json()["id"] != workflow_id and imported.json()["version"] == 1
