"""Retention: finished runs go by age, by count and per workflow, in small batches each committed
on its own, found through indexes, by one process at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, event, insert, select

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create
from wirework.db.engine import Database
from wirework.db.types import utcnow, uuid7
from wirework.engine import jobs, retention
from wirework.engine.models import Execution, ExecutionLog, ExecutionPayload, ExecutionStatus
from wirework.engine.retention import RetentionJob, RetentionPolicy, retention_pass
from wirework.workflows.models import WorkflowVersion

DAY = timedelta(days=1)


_accounts: dict[int, Account] = {}


async def _workflow(client: httpx.AsyncClient, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    """A workflow (with `settings`) of the test's organization: (org id, workflow id)."""
    who = _accounts.get(id(client))
    if who is None:
        _accounts.clear()
        who = _accounts[id(client)] = await signup(client, "alice")
    definition = {**chain(TRIGGER), "settings": settings or {}}
    workflow_id = await create(client, who, definition, name=uuid.uuid4().hex[:8])
    return who.org_id, workflow_id


async def _history(
    db: Database, org_id: str, workflow_id: str, runs: list[tuple[ExecutionStatus, timedelta]]
) -> list[uuid.UUID]:
    """Finished runs accepted `age` ago, each with a node record and a stored item."""
    async with db.session() as session:
        version_id = (
            await session.execute(
                select(WorkflowVersion.id).where(WorkflowVersion.workflow_id == uuid.UUID(workflow_id))
            )
        ).scalar_one()
    now, ids, executions, logs, payloads = utcnow(), [], [], [], []
    for status, age in runs:
        execution_id = uuid7()
        ids.append(execution_id)
        executions.append(
            {
                "id": execution_id,
                "org_id": uuid.UUID(org_id),
                "workflow_id": uuid.UUID(workflow_id),
                "version_id": version_id,
                "status": status,
                "trigger_type": "manual",
                "input_items": [],
                "options": {},
                "created_at": now - age,
                "finished_at": now - age,
                "cancel_requested": False,
                "chain_depth": 0,
                "spawned_runs": 0,
                "claim_failures": 0,
                "retry_of": ids[-2] if len(ids) > 1 else None,  # each one retries the one before
            }
        )
        logs.append(
            {
                "id": uuid7(),
                "execution_id": execution_id,
                "node_id": "trigger",
                "node_name": "trigger",
                "attempt": 1,
                "status": "completed",
                "started_at": now - age,
                "output_data": {"main": [{}]},
                "item_count": 1,
                "superseded": False,
            }
        )
        payloads.append({"id": uuid7(), "execution_id": execution_id, "digest": "d", "size": 2, "data": "{}"})
    async with db.engine.begin() as connection:
        await connection.execute(insert(Execution), executions)
        await connection.execute(insert(ExecutionLog), logs)
        await connection.execute(insert(ExecutionPayload), payloads)
    return ids


async def _left(db: Database) -> set[uuid.UUID]:
    async with db.session() as session:
        return set((await session.execute(select(Execution.id))).scalars())


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    # Every engine: on SQLite the executions' writer (which runs the batches) has its own.
    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def test_count_rule_deletes_the_surplus_in_batches_each_committed_alone(
    client: httpx.AsyncClient, db: Database
) -> None:
    org_id, workflow_id = await _workflow(client)
    ids = await _history(db, org_id, workflow_id, [(ExecutionStatus.completed, timedelta(0))] * 300)
    commits = 0

    def committed(_: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(Engine, "commit", committed)
    try:
        with _statements(db) as seen:
            report = await retention_pass(db, RetentionPolicy(max_age_days=0, max_count=40), batch=25)
    finally:
        event.remove(Engine, "commit", committed)
    assert report.deleted == 260
    assert await _left(db) == set(ids[-40:])
    deletes = [s for s in seen if s.lstrip().upper().startswith("DELETE")]
    # Never one statement for the whole surplus: batches of 25 growing to at most 5,000 rows,
    # each its own transaction; and no SELECT of the surplus's ids into memory.
    assert len(deletes) >= 4 and commits >= len(deletes)
    assert all("LIMIT" in s.upper() for s in deletes)
    async with db.session() as session:
        kept = (await session.execute(select(Execution.retry_of).where(Execution.id == ids[-40]))).scalar()
        records = (await session.execute(select(ExecutionLog.execution_id))).scalars().all()
        stored = (await session.execute(select(ExecutionPayload.execution_id))).scalars().all()
    assert kept is None  # the run it retried is gone: the reference was cleared, not left dangling
    assert set(records) == set(stored) == set(ids[-40:])


async def test_failed_runs_kept_longer_than_successful_ones(client: httpx.AsyncClient, db: Database) -> None:
    org_id, workflow_id = await _workflow(client)
    _, completed_new, failed_mid, _, cancelled_mid, running_old = await _history(
        db,
        org_id,
        workflow_id,
        [
            (ExecutionStatus.completed, 8 * DAY),
            (ExecutionStatus.completed, 6 * DAY),
            (ExecutionStatus.failed, 20 * DAY),
            (ExecutionStatus.failed, 31 * DAY),
            (ExecutionStatus.cancelled, 20 * DAY),
            (ExecutionStatus.running, 90 * DAY),
        ],
    )
    policy = RetentionPolicy(max_age_days=7, failed_max_age_days=30, max_count=0)
    assert (await retention_pass(db, policy)).deleted == 2
    assert await _left(db) == {completed_new, failed_mid, cancelled_mid, running_old}


async def test_keep_only_failed_runs(client: httpx.AsyncClient, db: Database) -> None:
    org_id, workflow_id = await _workflow(client)
    done_recent, _, failed = await _history(
        db,
        org_id,
        workflow_id,
        [
            (ExecutionStatus.completed, timedelta(minutes=1)),  # its caller may still read it
            (ExecutionStatus.completed, timedelta(minutes=10)),
            (ExecutionStatus.failed, timedelta(minutes=10)),
        ],
    )
    await retention_pass(db, RetentionPolicy(max_age_days=30, max_count=0, keep_successful=False))
    assert await _left(db) == {done_recent, failed}


async def test_a_workflows_own_rules_win_over_the_instances(client: httpx.AsyncClient, db: Database) -> None:
    org_a, strict = await _workflow(client, {"retention": {"successful_days": 1, "keep_successful": True}})
    org_b, lenient = await _workflow(client, {"retention": {"failed_days": 365}})
    org_c, default = await _workflow(client)
    strict_runs = await _history(
        db, org_a, strict, [(ExecutionStatus.completed, 2 * DAY), (ExecutionStatus.failed, 2 * DAY)]
    )
    lenient_runs = await _history(
        db, org_b, lenient, [(ExecutionStatus.failed, 60 * DAY), (ExecutionStatus.completed, 60 * DAY)]
    )
    default_runs = await _history(
        db, org_c, default, [(ExecutionStatus.failed, 60 * DAY), (ExecutionStatus.completed, 2 * DAY)]
    )
    await retention_pass(db, RetentionPolicy(max_age_days=30, max_count=0))
    assert await _left(db) == {strict_runs[1], lenient_runs[0], default_runs[1]}


async def test_a_workflows_rules_are_validated(client: httpx.AsyncClient) -> None:
    await _workflow(client)
    alice = _accounts[id(client)]
    definition = {**chain(TRIGGER), "settings": {"retention": {"failed_days": 0}}}
    response = await client.post(
        "/api/v1/workflows", json={"name": "w", "definition": definition}, headers=alice.headers
    )
    assert response.status_code == 422, response.text


async def test_one_process_at_a_time(client: httpx.AsyncClient, db: Database) -> None:
    org_id, workflow_id = await _workflow(client)
    await _history(db, org_id, workflow_id, [(ExecutionStatus.completed, 40 * DAY)] * 3)
    policy = RetentionPolicy()
    first = RetentionJob(db, policy, owner="one", interval_s=3600)
    second = RetentionJob(db, policy, owner="two", interval_s=3600)
    now = utcnow() + timedelta(hours=2)  # past the pass the app's own job ran when it started
    assert await jobs.claim(db, retention.JOB_NAME, "one", first.lease, now) is not None
    assert await jobs.claim(db, retention.JOB_NAME, "two", second.lease, now) is None  # held
    later = now + first.lease + timedelta(seconds=1)
    report = await second.run_once(later)  # the lease ran out (its process died): taken over
    assert report is not None and report.deleted == 3
    assert await first.run_once(later) is None  # done, and not due for an hour
    state = await retention.job_state(db)
    assert state["deleted"] == 3 and state["finished_counts"]["completed"] == 0


async def test_retention_statements_use_indexes_on_sqlite(db: Database) -> None:
    if db.dialect != "sqlite":
        return
    columns = Execution.__table__.c
    cutoff: datetime = utcnow()
    statements = [
        retention._oldest(
            (columns.status == "completed", columns.created_at < cutoff), columns.created_at, 9
        ),
        retention._oldest(
            (columns.workflow_id == uuid.uuid4(), columns.created_at < cutoff, columns.status.in_(["x"])),
            columns.created_at,
            10,
        ),
        retention._oldest((columns.id <= uuid.uuid4(), columns.status.in_(["completed"])), columns.id, 10),
    ]
    async with db.engine.connect() as connection:
        for statement in statements:
            compiled = statement.compile(
                dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
            )
            blanks = (None,) * len(compiled.positiontup or ())  # the plan does not depend on values
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", blanks)
            plan = " | ".join(row[-1] for row in rows)
            # Every read of executions is a search through an index, never a scan of the table.
            assert "SCAN executions" not in plan, plan
            assert "USING" in plan, plan


async def test_metrics_count_live_runs_and_read_finished_ones_from_the_last_pass(
    client: httpx.AsyncClient, db: Database
) -> None:
    org_id, workflow_id = await _workflow(client)
    await _history(
        db,
        org_id,
        workflow_id,
        [(ExecutionStatus.completed, DAY)] * 3
        + [(ExecutionStatus.failed, DAY), (ExecutionStatus.waiting, DAY)],
    )
    alice = _accounts[id(client)]
    with _statements(db) as seen:
        before = (await client.get("/metrics", headers=alice.headers)).text
    assert 'wirework_executions{status="waiting"} 1.0' in before
    assert 'wirework_executions{status="completed"} 0.0' in before  # no pass has counted them yet
    counts = [s for s in seen if "count(" in s.lower() and "FROM executions" in s]
    # The scrape counts only live statuses (an index range each), never the whole table.
    assert counts and all("executions.status IN" in s for s in counts)
    await RetentionJob(db, RetentionPolicy(), owner="p").run_once()
    after = (await client.get("/metrics", headers=alice.headers)).text
    assert 'wirework_executions{status="completed"} 3.0' in after
    assert 'wirework_executions{status="failed"} 1.0' in after
