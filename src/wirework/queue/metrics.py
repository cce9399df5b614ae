"""Queue metrics for /metrics, read from the database at scrape time, so they are true for the
whole cluster (every serve and worker process), not for the process that happens to answer."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine.models import Execution, ExecutionStatus

EXECUTIONS = Gauge("wirework_executions", "Executions in the database by status.", ["status"])
QUEUE_DEPTH = Gauge("wirework_queue_depth", "Executions accepted and not yet claimed (pending).")
RUNNING = Gauge("wirework_queue_running", "Executions some process is running now.")
CLAIM_LAG = Gauge("wirework_queue_claim_lag_seconds", "Age of the oldest pending execution (0 when none).")


async def refresh(db: Database) -> None:
    async with db.session() as session:
        by_status = dict(
            (await session.execute(select(Execution.status, func.count()).group_by(Execution.status))).all()
        )
        oldest = (
            await session.execute(
                select(func.min(Execution.created_at)).where(Execution.status == ExecutionStatus.pending)
            )
        ).scalar()
    for status in ExecutionStatus:
        EXECUTIONS.labels(status.value).set(by_status.get(status, 0))
    QUEUE_DEPTH.set(by_status.get(ExecutionStatus.pending, 0))
    RUNNING.set(by_status.get(ExecutionStatus.running, 0))
    CLAIM_LAG.set(max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
