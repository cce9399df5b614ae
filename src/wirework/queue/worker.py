"""`wirework worker`: run executions that `serve` processes accepted, taken from the broker.

A worker is the local executor (which also polls the database for pending rows, expired
leases and due waits) fed by broker messages. SIGTERM or SIGINT stops taking messages, lets
running executions finish for `shutdown_grace_s`, then hands back the rest: their leases
expire and another worker resumes them from their last finished node.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

import wirework.models  # noqa: F401 - every table, so foreign keys resolve in this process
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.queue.broker import consume, make_broker
from wirework.queue.local import LocalExecutor
from wirework.settings import Settings
from wirework.workflows import runtime

log = structlog.get_logger("wirework.worker")


async def run_worker(settings: Settings, concurrency: int) -> None:
    if not settings.broker_url:
        raise SystemExit("wirework worker needs WIREWORK_BROKER_URL (redis://… or amqp://…), as serve has.")
    db = Database(
        settings.effective_database_url, pool_size=max(settings.database_pool_size, concurrency + 2)
    )
    try:
        status = await migrate.migration_status(db)
        if not status["at_head"]:
            raise SystemExit(
                f"The database is at migration {status['current'] or 'nothing'}, not {status['head']}: "
                "start `wirework serve` (it migrates) or run `wirework db upgrade` first."
            )
        platform = runtime.build_platform(settings, db)
        executor = LocalExecutor(
            db, lambda execution_id: runtime.run(platform, execution_id), concurrency=concurrency
        )
        broker = make_broker(settings.broker_url, prefetch=concurrency)
        broker.is_worker_process = True
        await broker.startup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await executor.start()
        log.info("worker_started", owner=platform.owner, concurrency=concurrency)
        try:
            await consume(broker, executor, concurrency, stop)
        finally:
            log.info("worker_stopping", running=executor.running)
            await executor.stop(settings.shutdown_grace_s)
            await broker.shutdown()
    finally:
        await db.dispose()
