"""Each large item is stored once per execution: its input and node records refer to it, the
API gives it when asked, and a resumed run reads it back."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, pending_executions, run
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine import executions
from wirework.engine.models import Execution, ExecutionLog, ExecutionPayload, ExecutionStatus
from wirework.engine.nodes import NodeRegistry
from wirework.engine.payloads import REF
from wirework.nodes import load_builtin_nodes
from wirework.security.vault import Vault
from wirework.workflows import runtime

MB = 1024 * 1024


def _blob() -> str:
    return os.urandom(MB // 2).hex()  # 1 MB of text that does not compress


async def _stored_bytes(db: Database, execution_id: uuid.UUID) -> int:
    """What the execution's rows hold: its input, its node records' data and its stored items."""
    async with db.session() as session:
        execution = await session.get(Execution, execution_id)
        assert execution is not None
        records = (
            await session.execute(
                select(ExecutionLog.input_data, ExecutionLog.output_data).where(
                    ExecutionLog.execution_id == execution_id
                )
            )
        ).all()
        items = (
            await session.execute(
                select(func.coalesce(func.sum(ExecutionPayload.size), 0)).where(
                    ExecutionPayload.execution_id == execution_id
                )
            )
        ).scalar_one()
    inline = len(json.dumps(execution.input_items)) + sum(len(json.dumps(list(r))) for r in records)
    return inline + int(items)


async def test_a_large_item_is_stored_once(client: httpx.AsyncClient, db: Database) -> None:
    alice = await signup(client, "alice")
    definition = chain(TRIGGER, node("a", "core.noop"), node("b", "core.noop"), node("c", "core.noop"))
    workflow_id = await create(client, alice, definition)
    done = await run(client, alice, workflow_id, [{"body": _blob(), "small": 1}])
    assert done["status"] == "completed", done
    stored = await _stored_bytes(db, uuid.UUID(done["id"]))
    # Before: the input, and each node's input and output: 7 copies of the megabyte.
    assert stored <= 1.2 * MB, stored
    ref = done["nodes"][-1]["output_data"]["main"][0]
    assert ref[REF] and ref["bytes"] > MB and done["input_items"] == [ref]
    item = await client.get(f"/api/v1/executions/{done['id']}/items/{ref[REF]}", headers=alice.headers)
    assert item.status_code == 200 and item.json()["small"] == 1 and len(item.json()["body"]) == MB


async def test_small_items_stay_inline_and_items_of_another_org_are_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    alice = await signup(client, "alice")
    workflow_id = await create(client, alice, chain(TRIGGER, node("a", "core.noop")))
    done = await run(client, alice, workflow_id, [{"n": 1}, {"body": "x" * 20_000}])
    assert done["nodes"][-1]["output_data"]["main"][0] == {"n": 1}
    digest = done["nodes"][-1]["output_data"]["main"][1][REF]
    missing = await client.get(f"/api/v1/executions/{uuid.uuid4()}/items/{digest}", headers=alice.headers)
    assert missing.status_code == 404
    wrong = await client.get(f"/api/v1/executions/{done['id']}/items/{'0' * 64}", headers=alice.headers)
    assert wrong.status_code == 404
    # Another organization's execution and item exist, and are not found for alice.
    (theirs,) = await pending_executions(db, chain(TRIGGER), _registry())
    async with db.session() as session:
        session.add(ExecutionPayload(execution_id=theirs, digest=digest, size=2, data="{}"))
        await session.commit()
    hidden = await client.get(f"/api/v1/executions/{theirs}/items/{digest}", headers=alice.headers)
    assert hidden.status_code == 404


def _registry() -> NodeRegistry:
    return load_builtin_nodes(NodeRegistry())


async def test_a_resumed_run_reads_its_items_back(db: Database) -> None:
    registry = _registry()
    definition = chain(
        TRIGGER,
        node("wait", "core.wait", {"seconds": 3600}),
        node("measure", "core.set", {"fields": {"size": "{{ json.body | length }}"}}),
    )
    (execution_id,) = await pending_executions(db, definition, registry)
    blob = _blob()
    async with db.session() as session:  # the run's input: one large item (stored as a payload)
        execution = await session.get(Execution, execution_id)
        assert execution is not None
        await session.delete(execution)
        await session.flush()
        fresh = await executions.create_execution(
            session,
            org_id=execution.org_id,
            workflow_id=execution.workflow_id,
            version_id=execution.version_id,
            input_items=[{"body": blob}],
        )
        await session.commit()
    platform = runtime.Platform(
        db=db, registry=registry, vault=Vault("t" * 40), owner=executions.process_id()
    )

    async def go() -> Any:
        return await executions.run_execution(
            db,
            fresh.id,
            owner=platform.owner,
            registry=registry,
            read_context=runtime.context_reader(platform),
        )

    assert (await go()).status == ExecutionStatus.waiting
    async with db.session() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == fresh.id)
            .values(resume_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert (await go()).status == ExecutionStatus.completed
    async with db.session() as session:
        count = (
            await session.execute(select(func.count()).where(ExecutionPayload.execution_id == fresh.id))
        ).scalar_one()
    last = await executions.read(db, lambda connection: executions.last_items(connection, fresh.id))
    # The resumed run got the item itself (not its reference), and stored nothing twice.
    assert last[0]["size"] == len(blob) and last[0]["body"] == blob
    assert count == 2  # the input item, and the same item with `size` added
