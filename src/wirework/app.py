"""The FastAPI application: routers, error handlers, middleware, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from wirework import __version__
from wirework.accounts.api import routers as accounts_routers
from wirework.accounts.deps import InstanceAdmin
from wirework.ai.api import routers as ai_routers
from wirework.ai.mcp_server import PATH as MCP_PATH
from wirework.ai.mcp_server import McpEndpoint
from wirework.ai.suggestions_api import routers as suggestion_routers
from wirework.bots import webchat
from wirework.bots.api import routers as bot_routers
from wirework.bots.service import BotJobs
from wirework.channels import service as channel_service
from wirework.channels.api import routers as channel_routers
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.edge import EdgeMiddleware, trusted_proxies
from wirework.engine.executions import process_id
from wirework.engine.retention import RetentionJob, RetentionPolicy
from wirework.errors import ServiceUnavailable
from wirework.knowledge.api import routers as knowledge_routers
from wirework.knowledge.ingest import KnowledgeJobs
from wirework.observability import RequestLogMiddleware, configure_logging
from wirework.problems import install_problem_handlers, problem_response, problem_responses
from wirework.queue import metrics as queue_metrics
from wirework.queue.broker import BrokerExecutor
from wirework.queue.local import LocalExecutor
from wirework.security.ratelimit import Counter, DatabaseLimits, MemoryCounter
from wirework.settings import Settings, get_settings
from wirework.triggers.api import WebhookGateway
from wirework.triggers.api import routers as trigger_routers
from wirework.triggers.schedules import Scheduler
from wirework.triggers.webhooks import TargetCache
from wirework.web import mount_web
from wirework.workflows import runtime
from wirework.workflows import service as workflow_service
from wirework.workflows.api import routers as workflow_routers
from wirework.workflows.templates import TEMPLATES

log = structlog.get_logger("wirework.app")

# Routes that answer without authentication; every other route must require it.
PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/auth/status"),  # only whether any account exists, so a new instance opens on Sign up
    ("POST", "/api/v1/invitations/preview"),  # the invitee may have no account yet; the token is the key
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # The web UI (wirework.web): the page and its bundle; the API behind it checks auth.
    ("GET", "/"),
    ("GET", "/assets/{path:path}"),
    # Public web chat (wirework.bots.webchat): widget files, hosted page, its socket; bounded per bot.
    ("GET", "/chat/widget.js"),
    ("GET", "/chat/widget.css"),
    ("GET", "/chat/{public_id}"),
    ("WEBSOCKET", "/chat/{public_id}/socket"),
    # Chat platforms deliver here; each delivery's signature is checked against the connection's secrets.
    ("GET", "/channels/{platform}/{inbound_token}"),
    ("POST", "/channels/{platform}/{inbound_token}"),
}


READY_TIMEOUT_S = 2.0  # a database slower than this to answer SELECT 1 counts as unreachable


class Health(BaseModel):
    status: str
    version: str


class Readiness(Health):
    database: str
    revision: str


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, migrate_on_start: bool = False
) -> FastAPI:
    """Build the app. `db` is owned by the caller when given; otherwise the app makes and closes one."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.json_logs)
    proxies = trusted_proxies(settings.trusted_proxies)
    owns_db = db is None
    database = db or Database(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        outage_wait_s=settings.database_outage_wait_s,
    )

    platform = runtime.build_platform(settings, database)
    registry = platform.registry

    executor: LocalExecutor | BrokerExecutor
    if settings.broker_url:  # worker mode: this process accepts work, `wirework worker`s run it
        executor = BrokerExecutor(settings.broker_url)
    else:
        executor = LocalExecutor(
            database,
            lambda execution_id: runtime.run(platform, execution_id),
            concurrency=settings.executor_concurrency,
        )
    scheduler = Scheduler(database, executor.submit)
    # Retention is a job of its own (not the executor's poll loop), one process of the cluster at a time.
    retention = RetentionJob(
        database,
        RetentionPolicy(
            max_age_days=settings.executions_max_age_days,
            failed_max_age_days=settings.executions_failed_max_age_days,
            max_count=settings.executions_max_count,
            keep_successful=settings.executions_keep_successful,
        ),
        owner=process_id(),
        interval_s=settings.retention_interval_s,
    )

    # Bots: replies pending on a platform are retried, old conversations pruned (rows, not tasks).
    bot_jobs = BotJobs(database, platform.vault, owner=process_id(), submit=executor.submit)
    # Knowledge bases: documents waiting for ingestion are claimed rows (knowledge.ingest).
    knowledge_jobs = KnowledgeJobs(database, platform.vault, owner=process_id(), ssrf=platform.ssrf_policy)
    mcp = McpEndpoint()  # /mcp: workflows as MCP tools (ai.mcp_server)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await migrate.upgrade(database)
        if (await migrate.migration_status(database))["at_head"]:
            async with database.session() as session:
                await workflow_service.sync_node_tables(session, registry)
                await workflow_service.sync_templates(session, TEMPLATES)
                await channel_service.sync_platforms(session)
                await session.commit()
            await executor.start()
            scheduler.start()
            retention.start()
            bot_jobs.start()
            knowledge_jobs.start()
        else:
            log.warning("database_not_migrated", hint="run 'wirework db upgrade'; executions are not run")
        async with mcp.run():
            yield
        await knowledge_jobs.stop()
        await bot_jobs.stop()
        await retention.stop()
        await scheduler.stop()
        await executor.stop(settings.shutdown_grace_s)
        if owns_db:
            await database.dispose()

    docs = settings.docs_are_public  # off in production unless WIREWORK_PUBLIC_DOCS
    app = FastAPI(
        title="Wirework",
        version=__version__,
        description="Workflow automation: workflows, executions, triggers, credentials. Errors are "
        "RFC 9457 problem+json.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.registry = registry
    app.state.vault = platform.vault
    app.state.platform = platform
    app.state.executor = executor
    app.state.scheduler = scheduler
    app.state.retention = retention
    app.state.bot_jobs = bot_jobs
    app.state.knowledge_jobs = knowledge_jobs
    app.state.webhook_cache = TargetCache()
    # Rate limits hold across processes: in the database; webhooks on SQLite (one process) in memory.
    limits = DatabaseLimits(database, keep_s=max(86_400, settings.login_window_seconds))
    app.state.limits = limits
    webhook_counter: Counter = MemoryCounter() if database.dialect == "sqlite" else limits
    app.state.webhook_counter = webhook_counter if settings.webhook_rate_limit else None
    install_problem_handlers(app)

    async def database_error(request: Request, exc: Exception) -> Response:
        """A request that needed the unreachable database: 503 with Retry-After, not a 500."""
        if not is_disconnect(exc):
            log.exception("unhandled_error", path=request.url.path)
            return problem_response(request, 500, "Something went wrong on our side; it has been logged.")
        database.health.lost(exc, "api")
        return problem_response(
            request, 503, "The database is unreachable; try again in a moment.", headers={"Retry-After": "2"}
        )

    for kind in (DBAPIError, ConnectionError, TimeoutError):  # drivers raise the last two when connecting
        app.add_exception_handler(kind, database_error)
    # Outermost last: forwarded headers, request log, webhook calls, then the API/UI edge.
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.api_max_body_bytes)
    app.add_middleware(WebhookGateway)  # inside the request log: webhook calls are logged too
    app.add_middleware(RequestLogMiddleware)
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    channel_service.register_senders(settings)
    for router in [*trigger_routers, *accounts_routers, *workflow_routers, *channel_routers]:
        app.include_router(router)
    for router in [*bot_routers, webchat.router]:  # bots: /api/v1/bots, sessions, messages; /chat
        app.include_router(router)
    for router in knowledge_routers:  # /api/v1/kb
        app.include_router(router)
    for router in ai_routers:  # /api/v1/ai: models, usage
        app.include_router(router)

    @app.get("/healthz", tags=["health"], response_model=Health)
    async def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok", version=__version__)

    @app.get("/readyz", tags=["health"], response_model=Readiness, responses=problem_responses(503))
    async def readyz(request: Request) -> Readiness:
        """The database answers (within READY_TIMEOUT_S) and its schema is at the newest migration."""
        db: Database = request.app.state.db
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                async with db.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                status = await migrate.migration_status(db)
        except Exception as exc:
            if is_disconnect(exc):
                db.health.lost(exc, "readyz")
            raise ServiceUnavailable(
                f"database unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}.",
                headers={"Retry-After": "1"},
            ) from exc
        db.health.answered()
        if not status["at_head"]:
            raise ServiceUnavailable(
                f"The database schema is at {status['current'] or 'nothing'}, not {status['head']}: "
                "run 'wirework db upgrade'."
            )
        return Readiness(status="ready", version=__version__, database=db.dialect, revision=status["head"])

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **problem_responses(401, 403)},
    )
    async def metrics(_: InstanceAdmin) -> Response:
        """Prometheus metrics (instance admins; scrape with an API key as bearer token)."""
        try:
            await queue_metrics.refresh(database)
        except Exception as exc:  # the cluster's queue is unknown now; this process's own metrics are not
            if not is_disconnect(exc):
                raise
            database.health.lost(exc, "metrics")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in suggestion_routers:  # /api/v1/ai/suggestions: AI-built workflows
        app.include_router(router)
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    mount_web(app)
    return app


def app_factory() -> Any:
    """For `uvicorn --factory wirework.app:app_factory`."""
    from wirework.security.datadir import private_umask, secure_data_dir

    private_umask()  # as `wirework serve` does: data files 0600, the data dir 0700
    for change in secure_data_dir(get_settings().data_dir):
        log.warning("data_dir_permissions_tightened", change=change)
    return create_app(migrate_on_start=True)
