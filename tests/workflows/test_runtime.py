"""Chains of runs (sub-workflows, error workflows) stay within their limits, and what a limit
refuses is an error the user reads: on the calling node, and as a failed execution."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create, node, run
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus
from wirework.settings import Settings

RUN_BUDGET = 20


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32, chain_max_runs=RUN_BUDGET
    )


async def _save(
    client: httpx.AsyncClient, who: Account, workflow_id: str, definition: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/versions", json={"definition": definition}, headers=who.headers
    )
    assert response.status_code == 201, response.text


async def _executions(db: Database, workflow_ids: list[str]) -> list[Execution]:
    async with db.session() as session:
        query = select(Execution).where(Execution.workflow_id.in_([uuid.UUID(w) for w in workflow_ids]))
        return list((await session.execute(query)).scalars())


async def test_a_workflow_calling_itself_twice_per_level_stops_at_the_run_budget(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER), name="fan")
    calls = {"on_error": "continue"}
    await _save(
        client,
        ann,
        workflow_id,
        chain(
            TRIGGER,
            node("left", "core.execute_workflow", {"workflow_id": workflow_id}, **calls),
            node("right", "core.execute_workflow", {"workflow_id": workflow_id}, **calls),
        ),
    )
    root = await run(client, ann, workflow_id, [{}])  # 2 + 4 + … + 2^10 runs without a budget
    assert root["status"] == "completed"

    runs = await _executions(db, [workflow_id])
    ran = [r for r in runs if r.started_at is not None]
    refused = [r for r in runs if r.started_at is None]
    assert len(ran) == RUN_BUDGET + 1  # the root and the runs its chain may start
    [first] = [r for r in ran if r.root_execution_id is None]
    assert first.spawned_runs == RUN_BUDGET
    assert all(r.root_execution_id == first.id for r in runs if r is not first)
    assert max(r.chain_depth for r in ran) <= 10
    assert refused and {r.status for r in refused} == {ExecutionStatus.failed}
    assert any("WIREWORK_CHAIN_MAX_RUNS" in (r.error or "") for r in refused)
    async with db.session() as session:  # the calling node says why the call was refused
        query = select(func.count()).where(
            ExecutionLog.node_id.in_(["left", "right"]), ExecutionLog.error.like("%WIREWORK_CHAIN_MAX_RUNS%")
        )
        assert (await session.execute(query)).scalar_one() >= 1


async def test_a_workflow_calling_itself_fails_at_the_depth_limit_saying_why(
    client: httpx.AsyncClient, db: Database
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(TRIGGER), name="deep")
    await _save(
        client,
        ann,
        workflow_id,
        chain(TRIGGER, node("call", "core.execute_workflow", {"workflow_id": workflow_id})),
    )
    root = await run(client, ann, workflow_id, [{}])
    assert root["status"] == "failed" and root["error_node"] == "call"
    assert "sub-workflow 'deep' failed" in root["error"]
    assert "11 runs deep" in root["error"] and "WIREWORK_CHAIN_MAX_DEPTH" in root["error"]
    runs = await _executions(db, [workflow_id])
    assert len([r for r in runs if r.started_at is not None]) == 11  # depths 0 to 10


async def test_error_workflows_that_handle_each_other_stop_at_the_depth_limit(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    ann = await signup(client, "ann")
    failing = chain(TRIGGER, node("boom", "core.stop_error", {"message": "it broke"}))
    first = await create(client, ann, failing, name="first")
    second = await create(client, ann, {**failing, "settings": {"error_workflow_id": first}}, name="second")
    await _save(client, ann, first, {**failing, "settings": {"error_workflow_id": second}})

    await run(client, ann, first)
    async with asyncio.timeout(30):
        await app.state.executor.drain()
    runs = await _executions(db, [first, second])
    assert len([r for r in runs if r.started_at is not None]) == 11  # each failure starts the other
    [refused] = [r for r in runs if r.started_at is None]
    assert refused.status == ExecutionStatus.failed and refused.chain_depth == 11
    assert refused.error is not None and "WIREWORK_CHAIN_MAX_DEPTH" in refused.error
