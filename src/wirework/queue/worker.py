"""`wirework worker`: run executions that `serve` processes accepted, taken from the broker.

A worker is the local executor (which also polls the database for pending rows, expired
leases and due waits) fed by broker messages. SIGTERM or SIGINT stops taking messages, lets
running executions finish for `shutdown_grace_s`, then hands back the rest: their leases
expire and another worker resumes them from their last finished node.

A worker outlives the services around it: started while the database or the broker is away
(or before `serve` has migrated the database), it waits for them, saying so once; when either
goes away later it reconnects (`queue.broker.consume`, the group commit's retries). It exits
only on SIGTERM/SIGINT or a configuration error (a bad URL, refused credentials, a database
newer than this code).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import structlog
from prometheus_client import start_http_server

import wirework.models  # noqa: F401 - every table, so foreign keys resolve in this process
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.db.health import Backoff, is_disconnect
from wirework.knowledge.ingest import KnowledgeJobs
from wirework.observability import configure_logging
from wirework.queue.broker import BrokerConfigError, consume, make_broker
from wirework.queue.local import LocalExecutor
from wirework.settings import Settings
from wirework.workflows import runtime

log = structlog.get_logger("wirework.worker")


async def run_worker(settings: Settings, concurrency: int) -> None:
    configure_logging(settings.log_level, json=settings.json_logs)
    if not settings.broker_url:
        raise SystemExit("wirework worker needs WIREWORK_BROKER_URL (redis://… or amqp://…), as serve has.")
    try:
        make_broker(settings.broker_url)
    except BrokerConfigError as exc:
        raise SystemExit(str(exc)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.host)
    db = Database(
        settings.effective_database_url,
        pool_size=max(settings.database_pool_size, concurrency + 2),
        outage_wait_s=settings.database_outage_wait_s,
    )
    try:
        if not await _database_ready(db, stop):
            return  # stopped while waiting
        platform = runtime.build_platform(settings, db)
        executor = LocalExecutor(
            db, lambda execution_id: runtime.run(platform, execution_id), concurrency=concurrency
        )
        await executor.start()
        # Knowledge-base documents are ingested by every process (claimed rows, knowledge.ingest).
        knowledge_jobs = KnowledgeJobs(db, platform.vault, owner=platform.owner, ssrf=platform.ssrf_policy)
        knowledge_jobs.start()
        log.info("worker_started", owner=platform.owner, concurrency=concurrency)
        try:
            await consume(settings.broker_url, executor, concurrency, stop)
        except BrokerConfigError as exc:
            raise SystemExit(str(exc)) from None
        finally:
            log.info("worker_stopping", running=executor.running)
            await knowledge_jobs.stop()
            await executor.stop(settings.shutdown_grace_s)
    finally:
        await db.dispose()


async def _database_ready(db: Database, stop: asyncio.Event) -> bool:
    """Wait until the database answers and is at this code's migration (serve migrates it),
    saying once what is awaited; False if `stop` came first. A database this code cannot use
    (refused credentials, no such database, a newer migration) is a configuration error."""
    backoff = Backoff(first=0.2, cap=2.0)
    said: set[str] = set()
    while not stop.is_set():
        try:
            status: dict[str, Any] = await migrate.migration_status(db)
        except Exception as exc:
            if not is_disconnect(exc):
                raise SystemExit(
                    f"wirework worker cannot use the database: {type(exc).__name__}: {exc}"
                ) from None
            db.health.lost(exc, "start")
            if "database" not in said:
                said.add("database")
                log.warning(
                    "worker_waiting", reason="the database is unreachable", note="starts once it answers"
                )
        else:
            db.health.answered()
            if status["at_head"]:
                return True
            if status["current"] is not None and status["current"] not in {
                script.revision for script in migrate.history()
            }:
                raise SystemExit(
                    f"The database is at migration {status['current']}, newer than this Wirework "
                    f"({status['head']}): upgrade this worker."
                )
            if "migration" not in said:
                said.add("migration")
                log.warning(
                    "worker_waiting",
                    reason=f"the database is at migration {status['current']}, not {status['head']}",
                    note="starts once `wirework serve` (which migrates) or `wirework db upgrade` has run",
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff.next())
    return False
