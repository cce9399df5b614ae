"""Durable executions through the group commit: a lost lease stops all recording, the writes of
concurrent executions share transactions yet fail alone, one claim wins, and on SQLite a
write lock held by another process is waited for off the event loop."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
import uuid
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import make_url

from tests.support.workflows import TRIGGER, chain, node, pending_executions
from wirework.db.engine import Database
from wirework.db.types import uuid7
from wirework.engine import executions
from wirework.engine.errors import ItemsError
from wirework.engine.items import NodeOutputs
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus, TriggerType
from wirework.engine.nodes import Node, NodeContext, NodeRegistry
from wirework.errors import ValidationFailed
from wirework.nodes import load_builtin_nodes
from wirework.security.vault import Vault
from wirework.workflows import runtime
from wirework.workflows.models import Variable, VariableType

LEASE = timedelta(seconds=0.6)


class TakeOver(Node):
    """Plays this process freezing (a blocked event loop: no heartbeat) for longer than its
    lease while this node runs, and another process claiming the execution meanwhile."""

    type = "test.take_over"
    display_name = "Take over"
    category = "Test"
    db: ClassVar[Database | None] = None

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        assert TakeOver.db is not None
        time.sleep(LEASE.total_seconds() * 1.5)  # frozen: the lease runs out
        execution_id = uuid.UUID(str(ctx.execution["id"]))
        assert await executions.claim(TakeOver.db, execution_id, "another-process", timedelta(seconds=60))
        return {"main": ctx.items}


class Charge(Node):
    """A side effect that takes a while (a payment, say); counts how often it started."""

    type = "test.charge"
    display_name = "Charge"
    category = "Test"
    started: ClassVar[int] = 0

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        Charge.started += 1
        await asyncio.sleep(0.5)
        return {"main": ctx.items}


class Nap(Node):
    """Naps, counting the runs inside it at once."""

    type = "test.nap"
    display_name = "Nap"
    category = "Test"
    inside: ClassVar[int] = 0
    most: ClassVar[int] = 0

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        Nap.inside += 1
        Nap.most = max(Nap.most, Nap.inside)
        try:
            await asyncio.sleep(0.3)
        finally:
            Nap.inside -= 1
        return {"main": ctx.items}


def _registry() -> NodeRegistry:
    registry = load_builtin_nodes(NodeRegistry())
    registry.register(TakeOver)
    registry.register(Nap)
    registry.register(Charge)
    return registry


async def _pending(db: Database, definition: dict[str, Any], count: int = 1) -> list[uuid.UUID]:
    return await pending_executions(db, definition, _registry(), count)


def _platform(db: Database) -> runtime.Platform:
    return runtime.Platform(db=db, registry=_registry(), vault=Vault("t" * 40), owner=executions.process_id())


async def _run(
    database: Database, platform: runtime.Platform, execution_id: uuid.UUID, **options: Any
) -> executions.RunOutcome | None:
    """`run_execution` as this process's runtime calls it (`options`: lease, on_end)."""
    return await executions.run_execution(
        database,
        execution_id,
        owner=platform.owner,
        registry=platform.registry,
        read_context=runtime.context_reader(platform),
        **options,
    )


async def test_a_process_that_lost_its_lease_records_nothing_more(db: Database) -> None:
    definition = chain(TRIGGER, node("take", "test.take_over"), node("after", "core.noop"))
    [execution_id] = await _pending(db, definition)
    TakeOver.db = db
    platform = _platform(db)
    outcome = await _run(db, platform, execution_id, lease=LEASE)
    assert outcome is None
    async with db.session() as session:
        query = select(ExecutionLog.node_id).where(ExecutionLog.execution_id == execution_id)
        recorded = (await session.execute(query)).scalars()
        assert list(recorded) == ["trigger"]  # `take` finished after the takeover: not recorded
        row = await session.get(Execution, execution_id)
        assert row is not None and row.status == ExecutionStatus.running
        assert row.lease_owner == "another-process"


async def test_one_claim_wins_even_inside_one_shared_transaction(db: Database) -> None:
    [execution_id] = await _pending(db, chain(TRIGGER))
    lease = executions.timedelta(seconds=30)
    won = await asyncio.gather(*(executions.claim(db, execution_id, f"p{n}", lease) for n in range(4)))
    assert sorted(won) == [False, False, False, True]


async def test_concurrent_writes_share_commits_but_a_failing_one_fails_alone(db: Database) -> None:
    ids = await _pending(db, chain(TRIGGER), count=12)
    lease = executions.timedelta(seconds=30)

    def broken(connection: Connection) -> None:
        connection.execute(update(Execution).values(error="should be rolled back"))
        raise ValueError("this job is broken")

    claims = [executions.claim(db, execution_id, "me", lease) for execution_id in ids]
    results = await asyncio.gather(executions._write(db, broken), *claims, return_exceptions=True)
    assert isinstance(results[0], ValueError)
    assert results[1:] == [True] * len(ids)
    async with db.session() as session:
        rows = (await session.execute(select(Execution.status, Execution.error))).all()
    assert rows == [(ExecutionStatus.running, None)] * len(ids)


async def test_sqlite_waits_for_another_process_write_lock_off_the_event_loop(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's one-writer lock")
    execution_id, next_id = await _pending(db, chain(TRIGGER), count=2)
    other = sqlite3.connect(str(make_url(db.url).database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    loop = asyncio.get_running_loop()
    try:
        claim = asyncio.ensure_future(
            executions.claim(db, execution_id, "me", executions.timedelta(seconds=30))
        )
        started = loop.time()
        for _ in range(20):  # the event loop keeps running while the claim waits
            await asyncio.sleep(0.01)
            assert not claim.done()
        assert loop.time() - started < 5, "the event loop was blocked by the wait for the lock"
        other.execute("COMMIT")
        assert await asyncio.wait_for(claim, 10)
    finally:
        other.close()
    assert await executions.claim(db, next_id, "me", executions.timedelta(seconds=30))  # back on the loop


def test_ids_keep_their_order_within_a_millisecond() -> None:
    ids = [uuid7() for _ in range(20_000)]  # many per millisecond
    assert all(a.int < b.int for a, b in itertools.pairwise(ids))
    assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}


async def test_the_context_can_be_read_inside_the_claim(db: Database) -> None:
    definition = chain(TRIGGER, node("set", "core.set", {"fields": {"x": "{{ vars.x }}"}}))
    [execution_id] = await _pending(db, definition)
    platform = _platform(db)

    def read_context(connection: Connection, execution: Execution) -> executions.RunContext:
        count = connection.execute(select(func.count()).select_from(Execution)).scalar_one()
        return executions.RunContext(definition=definition, workflow={"id": None}, vars={"x": count})

    with pytest.raises(TypeError):
        await executions.run_execution(db, execution_id, owner=platform.owner, registry=platform.registry)
    outcome = await executions.run_execution(
        db, execution_id, owner=platform.owner, registry=platform.registry, read_context=read_context
    )
    assert outcome is not None and outcome.status == ExecutionStatus.completed
    async with db.session() as session:
        finished, _ = await executions.committed_outputs(session, execution_id)
    assert finished["set"]["main"] == [{"n": 0, "x": 1}]
    assert (
        await executions.read(
            db, lambda c: c.execute(select(func.count()).select_from(Execution)).scalar_one()
        )
        == 1
    )


async def test_claims_committing_at_once_in_separate_transactions_keep_max_concurrency(db: Database) -> None:
    definition = chain(TRIGGER, node("nap", "test.nap"))
    definition["settings"] = {"max_concurrency": 1}
    ids = await _pending(db, definition, count=4)
    # A writer each: the claims commit apart, as those of separate processes do.
    writers = [Database(db.url) for _ in ids]
    platform = _platform(db)

    Nap.inside = Nap.most = 0
    try:
        outcomes = await asyncio.gather(*(_run(w, platform, i) for w, i in zip(writers, ids, strict=True)))
    finally:
        for writer in writers:
            await writer.dispose()
    assert Nap.most == 1
    ran = [o for o in outcomes if o is not None and o.status != ExecutionStatus.pending]
    assert 1 <= len(ran) < len(ids)  # the others stay pending
    assert all(o is not None for o in outcomes)  # held back, not taken elsewhere


async def test_a_runs_end_and_what_it_starts_commit_together(db: Database) -> None:
    [execution_id] = await _pending(db, chain(TRIGGER))
    platform = _platform(db)
    dies = True

    def on_end(connection: Connection, ended: executions.Ended) -> list[uuid.UUID]:
        started = executions.insert_pending(
            connection,
            org_id=ended.execution.org_id,
            workflow_id=ended.execution.workflow_id,
            version_id=ended.execution.version_id,
            trigger_type=TriggerType.event,
            input_items=[{"after": str(ended.execution.id)}],
            options={},
        )
        if dies:
            raise RuntimeError("the process dies here")
        return [started]

    with pytest.raises(RuntimeError):
        await _run(db, platform, execution_id, on_end=on_end)
    async with db.session() as session:  # neither the end nor what it started was recorded
        rows = (await session.execute(select(Execution.id, Execution.status))).all()
    assert [(row.id, row.status) for row in rows] == [(execution_id, ExecutionStatus.running)]

    dies = False
    await runtime.hand_back(db, execution_id, platform.owner)  # as when its lease runs out
    outcome = await _run(db, platform, execution_id, on_end=on_end)
    assert outcome is not None and outcome.status == ExecutionStatus.completed
    async with db.session() as session:
        rows = (await session.execute(select(Execution.id, Execution.status))).all()
        records = (await session.execute(select(func.count()).select_from(ExecutionLog))).scalar_one()
    assert sorted(row.id for row in rows) == sorted([execution_id, *outcome.follow_ups])
    assert len(outcome.follow_ups) == 1 and records == 1  # started once; the trigger did not run again


async def test_each_end_of_a_run_gives_its_outcome(db: Database) -> None:
    """A run that waits, or is cancelled, says so to its caller (this process's waiters are
    told from the outcome), like one that completes or fails."""
    definition = chain(TRIGGER, node("nap", "test.nap"), node("wait", "core.wait", {"seconds": 3600}))
    waits, cancelled = await _pending(db, definition, count=2)
    platform = _platform(db)
    lease = timedelta(seconds=0.15)  # the heartbeat reads cancel_requested every 0.05 s

    outcome = await _run(db, platform, waits, lease=lease)
    assert outcome is not None and outcome.status == ExecutionStatus.waiting

    running = asyncio.ensure_future(_run(db, platform, cancelled, lease=lease))
    await asyncio.sleep(0.1)  # inside the nap: what POST /executions/{id}/cancel asks of a running one
    async with db.session() as session:
        await session.execute(
            update(Execution).where(Execution.id == cancelled).values(cancel_requested=True)
        )
        await session.commit()
    outcome = await running
    assert outcome is not None and outcome.status == ExecutionStatus.cancelled


async def _row(db: Database, execution_id: uuid.UUID) -> Execution:
    async with db.session() as session:
        row = await session.get(Execution, execution_id)
        assert row is not None
        return row


async def test_an_execution_whose_start_crashes_is_failed_after_three_attempts(db: Database) -> None:
    [execution_id] = await _pending(db, chain(TRIGGER, node("after", "core.noop")))
    async with db.session() as session:  # input the engine cannot use: numbers, not objects
        await session.execute(
            update(Execution).where(Execution.id == execution_id).values(input_items=[1, 2])
        )
        await session.commit()
    platform = _platform(db)
    lease = timedelta(seconds=0.2)
    for _ in range(3):
        with pytest.raises(ItemsError):
            await _run(db, platform, execution_id, lease=lease)
        await asyncio.sleep(0.3)  # its lease runs out, as when a process dies: the next claim counts it

    outcome = await _run(db, platform, execution_id, lease=lease)
    assert outcome is not None and outcome.status == ExecutionStatus.failed
    row = await _row(db, execution_id)
    assert row.status == ExecutionStatus.failed and row.claim_failures == 3 and row.lease_owner is None
    assert row.error is not None and row.error.startswith("Gave up after 3 attempts to run it")
    assert "Last error: ItemsError: input items[0]: an item must be a JSON object" in row.error
    await asyncio.sleep(0.3)
    assert await _run(db, platform, execution_id, lease=lease) is None  # never claimed again


async def test_a_claim_whose_own_transaction_crashes_is_counted_too(db: Database) -> None:
    [execution_id] = await _pending(db, chain(TRIGGER))
    org_id = (await _row(db, execution_id)).org_id
    async with db.session() as session:  # written around the API's check: the claim cannot parse it
        session.add(Variable(org_id=org_id, name="limit", type=VariableType.number, value="lots"))
        await session.commit()
    platform = _platform(db)
    for failures in (1, 2):
        with pytest.raises(ValidationFailed):
            await _run(db, platform, execution_id)
        row = await _row(db, execution_id)
        assert (row.status, row.claim_failures) == (ExecutionStatus.pending, failures)  # rolled back, counted

    outcome = await _run(db, platform, execution_id)
    assert outcome is not None and outcome.status == ExecutionStatus.failed
    row = await _row(db, execution_id)
    assert row.status == ExecutionStatus.failed and row.finished_at is not None
    assert row.error is not None and row.error.startswith("Gave up after 3 attempts to start it crashed")
    assert "does not fit type number" in row.error
    assert await _run(db, platform, execution_id) is None


async def test_progress_after_crashes_clears_their_count(db: Database) -> None:
    [execution_id] = await _pending(db, chain(TRIGGER, node("after", "core.noop")))
    async with db.session() as session:  # two crashed attempts: abandoned with a lease run out
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(
                status=ExecutionStatus.running,
                lease_owner="a-dead-process",
                lease_expires_at=executions.utcnow() - timedelta(seconds=1),
                claim_failures=1,
                error="RuntimeError: it crashed",
            )
        )
        await session.commit()
    outcome = await _run(db, _platform(db), execution_id)
    assert outcome is not None and outcome.status == ExecutionStatus.completed
    row = await _row(db, execution_id)
    assert (row.claim_failures, row.error) == (0, None)


async def test_a_run_handed_back_at_shutdown_is_not_counted_and_its_at_most_once_node_is_not_repeated(
    db: Database,
) -> None:
    definition = chain(TRIGGER, node("charge", "test.charge", at_most_once=True), node("after", "core.noop"))
    [execution_id] = await _pending(db, definition)
    platform = _platform(db)
    Charge.started = 0
    running = asyncio.ensure_future(_run(db, platform, execution_id))
    while not Charge.started:
        await asyncio.sleep(0.01)
    running.cancel()  # shut down past its grace: the node is interrupted mid-way
    with pytest.raises(asyncio.CancelledError):
        await running
    await runtime.hand_back(db, execution_id, platform.owner)  # what runtime.run does then

    outcome = await _run(db, platform, execution_id)
    assert outcome is not None and outcome.status == ExecutionStatus.failed
    assert Charge.started == 1
    async with db.session() as session:
        query = (
            select(ExecutionLog).where(ExecutionLog.execution_id == execution_id).order_by(ExecutionLog.id)
        )
        records = list((await session.execute(query)).scalars())
    assert [(r.node_id, r.status) for r in records] == [
        ("trigger", NodeRunStatus.completed),
        ("charge", NodeRunStatus.failed),
    ]
    assert records[1].error is not None and records[1].error.startswith("may have run already; at_most_once")
    row = await _row(db, execution_id)
    assert (row.error_node, row.claim_failures) == ("charge", 0)  # handed back, not abandoned


async def test_an_at_most_once_node_that_finishes_runs_once_and_is_recorded_once(db: Database) -> None:
    definition = chain(TRIGGER, node("charge", "test.charge", at_most_once=True), node("after", "core.noop"))
    [execution_id] = await _pending(db, definition)
    Charge.started = 0
    outcome = await _run(db, _platform(db), execution_id)
    assert outcome is not None and outcome.status == ExecutionStatus.completed and Charge.started == 1
    async with db.session() as session:
        query = select(ExecutionLog.node_id, ExecutionLog.status).where(
            ExecutionLog.execution_id == execution_id
        )
        records = sorted((await session.execute(query)).all())
    assert records == [
        ("after", NodeRunStatus.completed),
        ("charge", NodeRunStatus.completed),
        ("trigger", NodeRunStatus.completed),
    ]


async def test_runs_started_by_a_run_join_its_chain_until_a_limit_refuses_them(db: Database) -> None:
    root_id, other_root = await _pending(db, chain(TRIGGER), count=2)
    limits = executions.ExecutionLimits(chain_max_depth=2, chain_max_runs=3)

    async def start(parent: Execution, event_trigger: str | None = None) -> Execution:
        def job(connection: Connection) -> uuid.UUID:
            return executions.insert_pending(
                connection,
                org_id=parent.org_id,
                workflow_id=parent.workflow_id,
                version_id=parent.version_id,
                trigger_type=TriggerType.event,
                input_items=[],
                options={},
                cause=executions.Cause(parent, limits),
                event_trigger=event_trigger,
            )

        return await _row(db, await executions._write(db, job))

    root = await _row(db, root_id)
    child = await start(root)
    grandchild = await start(child)
    assert (child.root_execution_id, child.chain_depth, child.status) == (root_id, 1, ExecutionStatus.pending)
    assert (grandchild.root_execution_id, grandchild.chain_depth) == (root_id, 2)
    too_deep = await start(grandchild)
    assert too_deep.status == ExecutionStatus.failed and too_deep.error is not None
    assert "3 runs deep" in too_deep.error and "WIREWORK_CHAIN_MAX_DEPTH" in too_deep.error
    assert (await start(root)).status == ExecutionStatus.pending  # the third run of the chain
    over = await start(root)
    assert over.status == ExecutionStatus.failed and over.error is not None
    assert "already started 3 runs" in over.error and "WIREWORK_CHAIN_MAX_RUNS" in over.error
    assert (await _row(db, root_id)).spawned_runs == 3

    heard = await start(await _row(db, other_root), event_trigger="on")
    again = await start(heard, event_trigger="on")  # the same trigger of the same workflow, further on
    assert heard.status == ExecutionStatus.pending
    assert again.status == ExecutionStatus.failed and again.error is not None and "cycle" in again.error
