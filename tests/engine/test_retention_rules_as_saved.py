"""A workflow's retention rules apply as its save took them: the stored definition keeps what
was sent ("30", "false", 7.0), which validation accepted as 30, False and 7; the retention pass
read only exact types and ignored them, so runs the user asked to drop were kept."""

from __future__ import annotations

import httpx

from tests.engine.test_retention import DAY, _history, _left, _workflow
from wirework.db.engine import Database
from wirework.engine.models import ExecutionStatus
from wirework.engine.retention import RetentionPolicy, retention_pass


async def test_rules_saved_as_strings_or_floats_apply(client: httpx.AsyncClient, db: Database) -> None:
    org, quick = await _workflow(client, {"retention": {"successful_days": "1", "failed_days": 2.0}})
    _, failed_only = await _workflow(client, {"retention": {"keep_successful": "false"}})
    quick_runs = await _history(
        db,
        org,
        quick,
        [
            (ExecutionStatus.completed, 3 * DAY),
            (ExecutionStatus.failed, 3 * DAY),
            (ExecutionStatus.failed, DAY / 2),
        ],
    )
    failed_only_runs = await _history(
        db, org, failed_only, [(ExecutionStatus.completed, DAY), (ExecutionStatus.failed, DAY)]
    )
    await retention_pass(db, RetentionPolicy(max_age_days=30, max_count=0))
    assert await _left(db) == {quick_runs[2], failed_only_runs[1]}
