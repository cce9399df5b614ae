"""The executions list: pages by an index whatever the history's length, only the columns it
returns, every filter; deleting one execution."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import event

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create, node, run
from wirework.db.engine import Database
from wirework.db.types import utcnow


@contextmanager
def _statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def _runs(client: httpx.AsyncClient) -> tuple[Account, str, str, list[dict[str, Any]]]:
    alice = await signup(client, "alice")
    good = await create(client, alice, chain(TRIGGER, node("a", "core.noop")), name="good")
    bad = await create(client, alice, chain(TRIGGER, node("boom", "core.stop_error")), name="bad")
    done = [await run(client, alice, good, [{"big": "x" * 50_000}]) for _ in range(3)]
    done += [await run(client, alice, bad) for _ in range(2)]
    return alice, good, bad, done


async def _pages(client: httpx.AsyncClient, who: Account, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/executions", params=query, headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


async def test_filters_pages_and_columns(client: httpx.AsyncClient, db: Database) -> None:
    alice, good, bad, done = await _runs(client)
    newest_first = [e["id"] for e in reversed(done)]
    with _statements(db) as seen:
        assert await _pages(client, alice) == newest_first
        assert await _pages(client, alice, status="failed") == newest_first[:2]
        assert await _pages(client, alice, workflow_id=good) == newest_first[2:]
        assert await _pages(client, alice, workflow_id=bad, status="completed") == []
        since = (utcnow() - timedelta(hours=1)).isoformat()
        assert await _pages(client, alice, since=since, status="completed") == newest_first[2:]
        assert await _pages(client, alice, until=since) == []
    listed = [s for s, _ in seen if "FROM executions" in s and "ORDER BY executions.id DESC" in s]
    assert listed
    # A page reads only what it returns: never the input items or the options themselves.
    columns = [s.split(" FROM ")[0] for s in listed]
    assert not [c for c in columns if "executions.input_items" in c or ", executions.options," in c]
    first = (await client.get("/api/v1/executions", headers=alice.headers)).json()["items"][0]
    assert first["is_draft"] is False and first["status"] == "failed" and "input_items" not in first


async def test_list_pages_are_index_walks_on_sqlite(client: httpx.AsyncClient, db: Database) -> None:
    if db.dialect != "sqlite":
        return
    alice, good, _, _ = await _runs(client)
    with _statements(db) as seen:
        await _pages(client, alice)
        await _pages(client, alice, status="failed")
        await _pages(client, alice, workflow_id=good)
        await _pages(client, alice, workflow_id=good, status="completed")
        await _pages(client, alice, since=(utcnow() - timedelta(hours=1)).isoformat())
    listed = [(s, p) for s, p in seen if "FROM executions" in s and "ORDER BY executions.id DESC" in s]
    assert len(listed) >= 5
    async with db.engine.connect() as connection:
        for statement, parameters in listed:
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(row[-1] for row in rows)
            # An index whose order is the page's: no scan of the table, no sort of what matched.
            assert "SCAN executions" not in plan and "TEMP B-TREE" not in plan, plan


async def test_delete_one_execution(client: httpx.AsyncClient, db: Database) -> None:
    alice, _, _, done = await _runs(client)
    gone = done[0]["id"]
    response = await client.delete(f"/api/v1/executions/{gone}", headers=alice.headers)
    assert response.status_code == 204
    assert (await client.get(f"/api/v1/executions/{gone}", headers=alice.headers)).status_code == 404
    again = await client.delete(f"/api/v1/executions/{gone}", headers=alice.headers)
    assert again.status_code == 404 and again.headers["content-type"].startswith("application/problem+json")
    assert gone not in await _pages(client, alice)
