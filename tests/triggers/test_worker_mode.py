"""Worker mode for real: one `serve` and three `wirework worker` processes share PostgreSQL
(SQLite when no server is configured) and a real broker; a worker is SIGKILLed half way through
500 webhook calls, and still every execution completes and no finished node ran twice."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.accounts import Account, _account
from tests.support.server import running_server, running_workers
from tests.support.workflows import chain, node
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus

BROKERS = {"redis": "WIREWORK_TEST_REDIS_URL", "amqp": "WIREWORK_TEST_AMQP_URL"}
CALLS = 500


@pytest.fixture(params=list(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get(BROKERS[request.param])
    if not url:
        pytest.skip(f"{BROKERS[request.param]} is not set (CI sets it)")
    return url


async def clear_broker(url: str) -> None:
    """Old messages of earlier runs name executions of other databases: harmless, but slow."""
    if url.startswith("redis"):
        from redis.asyncio import Redis

        async with Redis.from_url(url) as redis:
            await redis.delete("wirework.executions")


async def counts(db: Database) -> dict[ExecutionStatus, int]:
    async with db.session() as session:
        rows = await session.execute(select(Execution.status, func.count()).group_by(Execution.status))
        return {status: number for status, number in rows.all()}


async def test_killed_worker_loses_nothing_and_repeats_nothing(
    tmp_path: Path, shared_db: str, broker_url: str
) -> None:
    await clear_broker(broker_url)
    env = {
        "WIREWORK_DATABASE_URL": shared_db,
        "WIREWORK_BROKER_URL": broker_url,
        "WIREWORK_SECRET_KEY": "worker-test-" + "k" * 32,
        "WIREWORK_EXECUTION_LEASE_S": "3",
        "WIREWORK_WEBHOOK_RATE_LIMIT": "0",
        "WIREWORK_LOG_LEVEL": "WARNING",
    }
    with running_server(tmp_path, **env) as (url, _), running_workers(tmp_path, 3, **env) as processes:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            signup = await client.post(
                "/api/v1/auth/signup",
                json={"email": "ops@example.com", "username": "ops", "password": "correct horse battery"},
            )
            ann: Account = _account(signup.json())
            definition = chain(
                node("hook", "core.webhook", {"path": "jobs"}),
                node("one", "core.set", {"fields": {"n": "{{ json.body.n }}"}, "keep_only_set": True}),
                node("two", "core.set", {"fields": {"double": "{{ json.n * 2 }}"}}),
            )
            created = await client.post(
                "/api/v1/workflows", json={"name": "jobs", "definition": definition}, headers=ann.headers
            )
            workflow_id = created.json()["id"]
            assert (
                await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=ann.headers)
            ).status_code == 200

            gate = asyncio.Semaphore(16)
            answered = 0

            async def call(n: int) -> None:
                nonlocal answered
                async with gate:
                    response = await client.post("/webhook/jobs", json={"n": n})
                    assert response.status_code == 202, response.text
                    answered += 1
                    if answered == CALLS // 2:
                        processes[0].kill()  # SIGKILL half way: no cleanup, leases stay behind

            db = Database(shared_db)
            owners: set[str] = set()

            async def watch_owners() -> None:  # which processes hold leases while the calls go on
                while True:
                    async with db.session() as session:
                        rows = await session.execute(
                            select(Execution.lease_owner).where(Execution.lease_owner.is_not(None)).distinct()
                        )
                        owners.update(owner.split(":")[1] for owner in rows.scalars())
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch_owners())
            await asyncio.gather(*(call(n) for n in range(CALLS)))
        assert processes[0].wait(timeout=5) == -signal.SIGKILL

        try:
            async with asyncio.timeout(90):
                while (await counts(db)).get(ExecutionStatus.completed, 0) < CALLS:
                    await asyncio.sleep(0.5)
            assert await counts(db) == {ExecutionStatus.completed: CALLS}
            async with db.session() as session:
                repeated = (
                    await session.execute(
                        select(ExecutionLog.execution_id, ExecutionLog.node_id, func.count())
                        .where(ExecutionLog.status == NodeRunStatus.completed)
                        .group_by(ExecutionLog.execution_id, ExecutionLog.node_id)
                        .having(func.count() > 1)
                    )
                ).all()
                finished_nodes = (
                    await session.execute(
                        select(func.count())
                        .select_from(ExecutionLog)
                        .where(ExecutionLog.status == NodeRunStatus.completed)
                    )
                ).scalar_one()
                results = (
                    (
                        await session.execute(
                            select(ExecutionLog.output_data).where(ExecutionLog.node_id == "two")
                        )
                    )
                    .scalars()
                    .all()
                )
        finally:
            watcher.cancel()
            await db.dispose()
        assert repeated == []
        assert finished_nodes == CALLS * 3
        pids = {str(process.pid) for process in processes}
        assert len(owners & pids) >= 2  # the work was really shared between worker processes
        doubles = sorted(output["main"][0]["double"] for output in results)
        assert doubles == [2 * n for n in range(CALLS)]


async def test_sigterm_hands_running_work_back_at_once(tmp_path: Path, shared_db: str) -> None:
    broker = os.environ.get("WIREWORK_TEST_REDIS_URL") or os.environ.get("WIREWORK_TEST_AMQP_URL")
    if not broker:
        pytest.skip("no broker URL set (CI sets them)")
    await clear_broker(broker)
    env = {
        "WIREWORK_DATABASE_URL": shared_db,
        "WIREWORK_BROKER_URL": broker,
        "WIREWORK_SECRET_KEY": "worker-test-" + "k" * 32,
        "WIREWORK_EXECUTION_LEASE_S": "60",  # far longer than the test: only a hand-back frees it
        "WIREWORK_SHUTDOWN_GRACE_S": "0.5",
    }
    db = Database(shared_db)
    with running_server(tmp_path, **env) as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            signup = await client.post(
                "/api/v1/auth/signup",
                json={"email": "ops@example.com", "username": "ops", "password": "correct horse battery"},
            )
            headers = {"authorization": f"Bearer {signup.json()['session']['token']}"}
            definition = chain(
                node("hook", "core.webhook", {"path": "slow"}),
                node("nap", "core.code", {"code": "import time\ntime.sleep(3)\nreturn items"}),
            )
            created = await client.post(
                "/api/v1/workflows", json={"name": "slow", "definition": definition}, headers=headers
            )
            await client.post(f"/api/v1/workflows/{created.json()['id']}/activate", headers=headers)
            with running_workers(tmp_path, 1, **env) as first:
                await client.post("/webhook/slow", json={})
                async with asyncio.timeout(20):
                    while (await counts(db)).get(ExecutionStatus.running, 0) != 1:
                        await asyncio.sleep(0.1)
                first[0].send_signal(signal.SIGTERM)
                assert first[0].wait(timeout=15) == 0
            async with db.session() as session:
                execution = (await session.execute(select(Execution))).scalar_one()
            assert execution.status == ExecutionStatus.running  # not cancelled: handed back
            with running_workers(tmp_path, 1, **env):
                async with asyncio.timeout(30):  # well before the 60 s lease would expire
                    while (await counts(db)).get(ExecutionStatus.completed, 0) != 1:
                        await asyncio.sleep(0.2)
    await db.dispose()
