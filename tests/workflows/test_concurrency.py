"""A workflow's `settings.max_concurrency` caps its runs at once; the others wait their turn."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionStatus


async def test_max_concurrency_one_runs_them_one_at_a_time(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    ann = await signup(client, "ann")
    definition = chain(
        TRIGGER, node("nap", "core.code", {"code": "import time\ntime.sleep(0.4)\nreturn items"})
    )
    definition["settings"] = {"max_concurrency": 1}
    workflow_id = await create(client, ann, definition)
    for _ in range(3):
        response = await client.post(
            f"/api/v1/workflows/{workflow_id}/run", json={"input": []}, headers=ann.headers
        )
        assert response.status_code == 201
    most_at_once = 0
    async with asyncio.timeout(30):
        while True:
            async with db.session() as session:
                counts = dict(
                    (
                        await session.execute(
                            select(Execution.status, func.count()).group_by(Execution.status)
                        )
                    ).all()
                )
            most_at_once = max(most_at_once, counts.get(ExecutionStatus.running, 0))
            if counts.get(ExecutionStatus.completed, 0) == 3:
                break
            await asyncio.sleep(0.05)
    assert most_at_once == 1
