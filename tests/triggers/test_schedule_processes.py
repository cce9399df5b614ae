"""Two real `serve` processes share one database and one per-second schedule: each slot fires
exactly once, whoever polls first."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.support.server import running_server
from tests.support.workflows import chain, node
from wirework.db.engine import Database
from wirework.engine.models import Execution, TriggerType


async def test_two_processes_fire_each_second_exactly_once(tmp_path: Path, shared_db: str) -> None:
    env = {"WIREWORK_DATABASE_URL": shared_db, "WIREWORK_SECRET_KEY": "schedule-test-" + "k" * 32}
    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):
            data_dir = tmp_path / name
            data_dir.mkdir()
            url, _ = stack.enter_context(running_server(data_dir, **env))
            urls.append(url)
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
            signup = await client.post(
                "/api/v1/auth/signup",
                json={"email": "clock@example.com", "username": "clock", "password": "correct horse battery"},
            )
            headers = {"authorization": f"Bearer {signup.json()['session']['token']}"}
            definition = chain(
                node("tick", "core.schedule", {"cron": "*/1 * * * * *"}), node("noop", "core.noop")
            )
            created = await client.post(
                "/api/v1/workflows", json={"name": "ticker", "definition": definition}, headers=headers
            )
            workflow_id = created.json()["id"]
            activate = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=headers)
            assert activate.status_code == 200
            await asyncio.sleep(6)
            await client.post(f"/api/v1/workflows/{workflow_id}/deactivate", headers=headers)
    db = Database(shared_db)
    try:
        async with db.session() as session:
            runs = list((await session.execute(select(Execution))).scalars())
    finally:
        await db.dispose()
    assert all(run.trigger_type == TriggerType.scheduled for run in runs)
    slots = Counter(run.input_items[0]["scheduled_at"] for run in runs)
    assert len(slots) >= 4, slots  # about one per second for six seconds
    assert max(slots.values()) == 1, f"a slot fired more than once: {slots}"
