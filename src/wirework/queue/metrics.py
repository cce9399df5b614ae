"""Queue metrics for /metrics, read from the database at scrape time, so they are true for the
whole cluster (every serve and worker process), not for the process that happens to answer.

A scrape costs what the live work costs, not the history: pending, running and waiting runs are
counted through the (status, lease) index, which holds only those ranges; the finished runs are
counted by the retention job (engine.retention), which records the counts with each pass every
few minutes, and read here from its row.
"""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from wirework.db.engine import Database
from wirework.db.types import utcnow
from wirework.engine.models import Execution, ExecutionStatus
from wirework.engine.retention import job_state

EXECUTIONS = Gauge(
    "wirework_executions",
    "Executions in the database by status (finished ones as of the last retention pass).",
    ["status"],
)
QUEUE_DEPTH = Gauge("wirework_queue_depth", "Executions accepted and not yet claimed (pending).")
RUNNING = Gauge("wirework_queue_running", "Executions some process is running now.")
CLAIM_LAG = Gauge("wirework_queue_claim_lag_seconds", "Age of the oldest pending execution (0 when none).")

LIVE = (ExecutionStatus.pending, ExecutionStatus.running, ExecutionStatus.waiting)


async def refresh(db: Database) -> None:
    async with db.session() as session:
        by_status = dict(
            (
                await session.execute(
                    select(Execution.status, func.count())
                    .where(Execution.status.in_(LIVE))
                    .group_by(Execution.status)
                )
            ).all()
        )
        oldest = (
            await session.execute(
                select(func.min(Execution.created_at)).where(Execution.status == ExecutionStatus.pending)
            )
        ).scalar()
    finished = (await job_state(db)).get("finished_counts") or {}
    for status in ExecutionStatus:
        count = by_status.get(status, 0) if status in LIVE else finished.get(status.value, 0)
        EXECUTIONS.labels(status.value).set(count)
    QUEUE_DEPTH.set(by_status.get(ExecutionStatus.pending, 0))
    RUNNING.set(by_status.get(ExecutionStatus.running, 0))
    CLAIM_LAG.set(max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0)
