"""Schedules in the database: activation computes the next firing, each firing is claimed once,
missed firings run once or are skipped, and the API shows fire times in the user's zone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.support.accounts import signup
from tests.support.workflows import chain, create, node
from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine.models import Execution, TriggerType
from wirework.triggers.models import Schedule
from wirework.triggers.schedules import fire_due

STAMP = node("stamp", "core.set", {"fields": {"ran": True}})


def every(**parameters: Any) -> dict[str, Any]:
    return node("clock", "core.schedule", parameters)


async def schedule_row(db: Database) -> Schedule:
    async with db.session() as session:
        row = (await session.execute(select(Schedule))).scalar_one()
        session.expunge(row)
        return row


async def executions(db: Database) -> list[Execution]:
    async with db.session() as session:
        return list((await session.execute(select(Execution).order_by(Execution.created_at))).scalars())


async def activated(client: httpx.AsyncClient, who: Any, clock: dict[str, Any]) -> str:
    workflow_id = await create(client, who, chain(clock, STAMP))
    response = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=who.headers)
    assert response.status_code == 200, response.text
    return workflow_id


async def test_activation_schedules_and_deactivation_unschedules(
    client: httpx.AsyncClient, db: Database
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await activated(client, ann, every(cron="0 9 * * 1-5", timezone="Europe/Berlin"))
    row = await schedule_row(db)
    assert row.cron_expression == "0 9 * * 1-5" and row.timezone == "Europe/Berlin"
    assert row.next_execution > utcnow()
    await client.put(
        "/api/v1/users/me/preferences",
        json={"preferences": {"timezone": "America/New_York"}},
        headers=ann.headers,
    )
    listed = (await client.get("/api/v1/schedules", headers=ann.headers)).json()["items"]
    assert len(listed) == 1 and len(listed[0]["next_fire_times"]) == 5
    # 09:00 in Berlin shown in New York's zone: 03:00 (or 04:00 in the weeks the DST dates differ).
    assert all(
        t[11:13] in ("03", "04") and t[-6:] in ("-05:00", "-04:00") for t in listed[0]["next_fire_times"]
    )
    await client.post(f"/api/v1/workflows/{workflow_id}/deactivate", headers=ann.headers)
    assert (await client.get("/api/v1/schedules", headers=ann.headers)).json()["items"] == []


async def test_a_due_firing_runs_once_however_many_pollers_race(
    client: httpx.AsyncClient, db: Database
) -> None:
    ann = await signup(client, "ann")
    await activated(client, ann, every(interval_s=3600))
    row = await schedule_row(db)
    now = row.next_execution + timedelta(seconds=1)
    created = await asyncio.gather(*(fire_due(db, now) for _ in range(5)))
    assert sum(len(ids) for ids in created) == 1
    runs = await executions(db)
    assert len(runs) == 1 and runs[0].trigger_type == TriggerType.scheduled
    assert runs[0].input_items[0]["scheduled_at"] == row.next_execution.isoformat()
    after = await schedule_row(db)
    assert after.next_execution == row.next_execution + timedelta(hours=1)
    assert after.last_execution == now
    assert await fire_due(db, now) == []  # not due again until the next slot


async def test_after_downtime_a_missed_firing_runs_once(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    await activated(client, ann, every(cron="* * * * *"))  # every minute
    now = utcnow()
    async with db.session() as session:  # the platform was down for an hour: 60 slots missed
        await session.execute(update(Schedule).values(next_execution=now - timedelta(hours=1)))
        await session.commit()
    assert len(await fire_due(db, now)) == 1
    # The app's own scheduler may have fired the regular slot if a minute turned during the
    # test's set-up; the missed hour is what must run once.
    missed = [run for run in await executions(db) if run.input_items[0].get("missed")]
    assert len(missed) == 1
    assert (await schedule_row(db)).next_execution > now
    assert await fire_due(db, now) == []


async def test_after_downtime_skip_drops_the_missed_firing(client: httpx.AsyncClient, db: Database) -> None:
    ann = await signup(client, "ann")
    await activated(client, ann, every(cron="* * * * *", catch_up="skip"))
    now = utcnow()
    async with db.session() as session:
        await session.execute(update(Schedule).values(next_execution=now - timedelta(hours=1)))
        await session.commit()
    assert await fire_due(db, now) == []
    assert await executions(db) == []
    assert (await schedule_row(db)).next_execution > now


async def test_bad_schedules_are_refused_on_save_and_preview_explains(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    for parameters in (
        {"cron": "every monday"},
        {},
        {"cron": "* * * * *", "interval_s": 5},
        {"interval_s": 5, "timezone": "Nowhere/City"},
    ):
        response = await client.post(
            "/api/v1/workflows",
            json={"name": "bad", "definition": chain(every(**parameters))},
            headers=ann.headers,
        )
        assert response.status_code == 422, parameters
    preview = await client.post(
        "/api/v1/schedules/preview",
        json={"cron": "0 12 * * *", "timezone": "Asia/Tokyo", "count": 3},
        headers=ann.headers,
    )
    assert preview.status_code == 200
    assert [t[11:] for t in preview.json()["next"]] == ["12:00:00+09:00"] * 3
    wrong = await client.post("/api/v1/schedules/preview", json={"cron": "nope"}, headers=ann.headers)
    assert wrong.status_code == 422 and "not a cron expression" in wrong.json()["detail"]


async def test_the_scheduler_fires_seconds_schedules_in_the_running_app(
    client: httpx.AsyncClient, db: Database
) -> None:
    ann = await signup(client, "ann")
    await activated(client, ann, every(cron="*/1 * * * * *"))
    async with asyncio.timeout(10):
        while True:
            async with db.session() as session:
                done = (await session.execute(select(func.count()).select_from(Execution))).scalar_one()
            if done >= 2:
                break
            await asyncio.sleep(0.2)
