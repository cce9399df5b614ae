"""Webhook callers may send an Idempotency-Key: a repeated call within the window gets the first
call's execution (and answer) instead of a second run, also when the calls race on two servers;
on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.support.accounts import signup
from tests.support.apps import another_server
from tests.support.workflows import node
from tests.triggers.test_webhooks import GREET, active_workflow, webhook
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine import executions
from wirework.engine.models import Execution, TriggerType
from wirework.settings import Settings
from wirework.triggers.webhooks import stored_key
from wirework.workflows.models import Workflow, WorkflowVersion


async def executions_of(db: Database) -> list[Execution]:
    async with db.session() as session:
        return list((await session.execute(select(Execution).order_by(Execution.id))).scalars())


async def test_the_same_key_twice_is_one_execution(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("orders"), GREET)
    first = await client.post("/webhook/orders", json={"name": "Ada"}, headers={"Idempotency-Key": "order-1"})
    again = await client.post("/webhook/orders", json={"name": "Ada"}, headers={"Idempotency-Key": "order-1"})
    other = await client.post("/webhook/orders", json={"name": "Bo"}, headers={"Idempotency-Key": "order-2"})
    plain = [await client.post("/webhook/orders", json={"name": "Cy"}) for _ in range(2)]
    assert [r.status_code for r in (first, again, other, *plain)] == [202] * 5
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert other.json()["execution_id"] != first.json()["execution_id"]
    await app.state.executor.drain()
    stored = await executions_of(db)
    assert len(stored) == 4  # order-1 once, order-2, and the two calls without a key
    keys = ["", "", stored_key("hook", "order-1"), stored_key("hook", "order-2")]
    assert sorted(e.idempotency_key or "" for e in stored) == sorted(keys)
    assert {e.status.value for e in stored} == {"completed"}


async def test_a_repeat_gets_the_first_calls_answer(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("greet", response_mode="last_node"), GREET)
    key = {"Idempotency-Key": "x" * 255}  # the longest accepted
    first = await client.post("/webhook/greet", json={"name": "Ada"}, headers=key)
    again = await client.post("/webhook/greet", json={"name": "Ada"}, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json() == [{"greeting": "Hello Ada"}]  # the first call's run
    assert again.headers["X-Wirework-Execution"] == first.headers["X-Wirework-Execution"]
    assert len(await executions_of(db)) == 1


async def test_a_key_sent_with_another_request_is_refused_and_reveals_nothing(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    """Someone who guesses another caller's key (keys are often order or event ids) neither
    reads the answer to that call nor makes the next call with it look done."""
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("greet", response_mode="last_node"), GREET)
    first = await client.post("/webhook/greet", json={"name": "Ada"}, headers={"Idempotency-Key": "order-7"})
    assert first.status_code == 200
    for other in (
        client.post("/webhook/greet", json={"name": "Eve"}, headers={"Idempotency-Key": "order-7"}),
        client.post("/webhook/greet?x=1", json={"name": "Ada"}, headers={"Idempotency-Key": "order-7"}),
        client.post("/webhook/greet", content=b"name=Ada", headers={"Idempotency-Key": "order-7"}),
    ):
        refused = await other
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "Ada" not in refused.text and first.headers["X-Wirework-Execution"] not in refused.text
        assert "X-Wirework-Execution" not in refused.headers
    # The same request encoded anew (another multipart boundary, other key order) is a repeat.
    upload = [
        await client.post(
            "/webhook/greet", files={"f": ("a.txt", b"hello")}, headers={"Idempotency-Key": "upload-1"}
        )
        for _ in range(2)
    ]
    assert upload[1].headers["Idempotent-Replayed"] == "true", upload[1].text
    reordered = [
        await client.post(
            "/webhook/greet",
            content=body,
            headers={"Idempotency-Key": "order-9", "content-type": "application/json"},
        )
        for body in (b'{"name": "Ada", "n": 1}', b'{"n":1,"name":"Ada"}')
    ]
    assert reordered[1].headers["Idempotent-Replayed"] == "true", reordered[1].text
    # Pre-empted: the owner's call that comes second is refused, not answered with Eve's run.
    pre = await client.post("/webhook/greet", json={"name": "Eve"}, headers={"Idempotency-Key": "order-8"})
    mine = await client.post("/webhook/greet", json={"name": "Bo"}, headers={"Idempotency-Key": "order-8"})
    assert pre.status_code == 200 and mine.status_code == 422
    await app.state.executor.drain()
    assert len(await executions_of(db)) == 4


async def test_a_long_key_on_a_long_node_id_is_stored_on_every_database(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    """'<node id>:<key>' was 320 characters in a 300-character column: a 500 on PostgreSQL and
    MariaDB. MariaDB also compared keys without case and trailing spaces."""
    ann = await signup(client, "ann")
    await active_workflow(client, ann, node("h" * 64, "core.webhook", {"path": "long-node"}), GREET)
    keys = ["K" * 255, "k" * 255, "k" * 254 + " "]
    answers = [
        await client.post("/webhook/long-node", json={}, headers={"Idempotency-Key": key}) for key in keys
    ]
    assert [a.status_code for a in answers] == [202] * 3, answers[-1].text
    assert len({a.json()["execution_id"] for a in answers}) == 3  # three keys, three runs
    again = await client.post("/webhook/long-node", json={}, headers={"Idempotency-Key": keys[1]})
    assert again.json()["execution_id"] == answers[1].json()["execution_id"]
    await app.state.executor.drain()
    assert len(await executions_of(db)) == 3


async def test_racing_calls_on_two_servers_make_one_execution(
    client: httpx.AsyncClient, app: Any, settings: Settings, db: Database
) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("race"), GREET)
    async with another_server(settings, db) as (other_app, other):
        calls = [
            (client if n % 2 else other).post(
                "/webhook/race", json={"name": f"k{n // 10}"}, headers={"Idempotency-Key": f"k{n // 10}"}
            )
            for n in range(40)
        ]
        answers = await asyncio.gather(*calls)
        assert {a.status_code for a in answers} == {202}
        by_key: dict[str, set[str]] = {}
        for n, answer in enumerate(answers):
            by_key.setdefault(f"k{n // 10}", set()).add(answer.json()["execution_id"])
        assert all(len(ids) == 1 for ids in by_key.values()), by_key  # every caller of a key: one id
        await other_app.state.executor.drain()
    await app.state.executor.drain()
    stored = await executions_of(db)
    assert sorted(e.idempotency_key or "" for e in stored) == sorted(
        stored_key("hook", f"k{n}") for n in range(4)
    )
    assert {str(e.id) for e in stored} == set().union(*by_key.values())


async def test_the_loser_of_a_race_gets_the_winners_execution(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    """Another server's call with the same key is inserted but not yet committed when this
    call looks for the key: this call's insert waits on the unique index, fails when the other
    commits, and answers with the other's execution."""
    ann = await signup(client, "ann")
    workflow_id = await active_workflow(client, ann, webhook("race"), GREET)
    async with db.session() as session:
        workflow = await session.get(Workflow, uuid.UUID(workflow_id))
        assert workflow is not None
        version_id = await session.scalar(
            select(WorkflowVersion.id).where(WorkflowVersion.workflow_id == workflow.id)
        )
    async with db.engine.connect() as other:
        transaction = await other.begin()
        winner = await other.run_sync(
            lambda connection: executions.insert_pending(
                connection,
                org_id=workflow.org_id,
                workflow_id=workflow.id,
                version_id=version_id,
                trigger_type=TriggerType.webhook,
                input_items=[{}],
                options={"start": "hook"},
            )
        )
        await other.execute(
            update(Execution).where(Execution.id == winner).values(idempotency_key=stored_key("hook", "r"))
        )
        call = asyncio.create_task(client.post("/webhook/race", json={}, headers={"Idempotency-Key": "r"}))
        await asyncio.sleep(0.3)  # the call's insert now waits for this transaction
        await transaction.commit()
    answer = await call
    assert answer.status_code == 202 and answer.json()["execution_id"] == str(winner)
    assert answer.headers["Idempotent-Replayed"] == "true"
    await app.state.executor.drain()
    assert [e.id for e in await executions_of(db)] == [winner]


async def test_after_the_window_the_key_starts_a_new_execution(
    client: httpx.AsyncClient, app: Any, db: Database
) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("daily"), GREET)
    first = await client.post("/webhook/daily", json={"name": "Ada"}, headers={"Idempotency-Key": "d"})
    async with db.session() as session:  # accepted two days ago: outside the 24 h window
        await session.execute(update(Execution).values(created_at=utcnow() - timedelta(days=2)))
        await session.commit()
    later = await client.post("/webhook/daily", json={"name": "Ada"}, headers={"Idempotency-Key": "d"})
    assert later.status_code == 202 and "Idempotent-Replayed" not in later.headers
    assert later.json()["execution_id"] != first.json()["execution_id"]
    await app.state.executor.drain()
    keys = {str(e.id): e.idempotency_key for e in await executions_of(db)}
    assert keys == {first.json()["execution_id"]: None, later.json()["execution_id"]: stored_key("hook", "d")}


async def test_keys_belong_to_one_webhook(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("one"), GREET, name="one")
    await active_workflow(client, ann, webhook("two"), GREET, name="two")
    a = await client.post("/webhook/one", json={}, headers={"Idempotency-Key": "same"})
    b = await client.post("/webhook/two", json={}, headers={"Idempotency-Key": "same"})
    assert a.json()["execution_id"] != b.json()["execution_id"]
    await app.state.executor.drain()
    assert len(await executions_of(db)) == 2


async def test_a_key_longer_than_255_characters_is_a_400(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("long"), GREET)
    response = await client.post("/webhook/long", json={}, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "1 to 255 characters" in response.json()["detail"]
    assert await executions_of(db) == []
