"""HTTP routes: the public `/webhook/{path}` and `/webhook-test/{token}`, and /api/v1/webhooks,
/api/v1/schedules and the editor's test listener (/api/v1/workflows/{id}/webhook-test)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Annotated, Any, Literal, TypeVar

import structlog
from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wirework.accounts import service as accounts
from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.schemas import Page
from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.db.pagination import MAX_LIMIT, paginate
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.deps import SessionDep
from wirework.edge import url_problem
from wirework.engine import executions
from wirework.engine.models import ExecutionStatus, TriggerType
from wirework.errors import (
    BadGateway,
    GatewayTimeout,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
    WireworkError,
)
from wirework.observability import CLIENT_LEFT
from wirework.problems import error_response, problem_responses
from wirework.queue.waiting import Completions
from wirework.security.headers import WEBHOOK_HEADERS, answer_headers
from wirework.security.ratelimit import Counter
from wirework.triggers import schedules, webhooks
from wirework.triggers.models import ResponseMode, Schedule, Webhook
from wirework.workflows import service as workflows
from wirework.workflows.models import Workflow

log = structlog.get_logger("wirework.webhooks")

COMMON = problem_responses(400, 401, 403, 404, 422)
RETRY_AFTER_S = 2  # what a 503 for an unreachable database asks the caller to wait
REPLAYED = "Idempotent-Replayed"  # on the answer to a call that repeated an earlier call's key
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page.")]

webhooks_router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=COMMON)
schedules_router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], responses=COMMON)
listen_router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], responses=COMMON)
routers = [webhooks_router, schedules_router, listen_router]


# ---------------------------------------------------------------- public entry points (ASGI)


_PUBLIC = SimpleNamespace(path="/webhook/{path}")  # the route the request log and metrics name
_TEST = SimpleNamespace(path="/webhook-test/{token}")


class WebhookGateway:
    """`/webhook/{path}` and `/webhook-test/{token}` as a plain ASGI layer in front of the API
    router: webhooks take the most calls, and FastAPI's routing and dependency layer cost
    more than the rest of a call (bench/webhook.py). Errors answer problem+json as elsewhere;
    anything unexpected goes on to the app's own 500 handler. Every answer, the workflow's or
    an error, is served inert (`security.headers`: CSP sandbox, nosniff)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith("/webhook/"):
            handle, rest, scope["route"] = call_webhook, path[len("/webhook/") :], _PUBLIC
        elif path.startswith("/webhook-test/"):
            handle, rest, scope["route"] = call_test_webhook, path[len("/webhook-test/") :], _TEST
        else:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            problem = url_problem(scope)
            if problem is not None:
                raise problem
            response = await handle(request, rest.strip("/"))
        except WireworkError as exc:
            response = error_response(request, exc)
        except (ClientDisconnect, CallerLeft):  # the caller left: nobody to answer
            scope[CLIENT_LEFT] = True  # the request log says 499, not 500
            return
        except Exception as exc:
            if not is_disconnect(exc):
                raise
            request.app.state.db.health.lost(exc, "webhook")
            response = error_response(request, _unavailable(request))

        async def send_inert(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *WEBHOOK_HEADERS]
            await send(message)

        await response(scope, receive, send_inert)


class CallerLeft(Exception):
    """The caller of a webhook that answers with the result hung up while it ran."""


T = TypeVar("T")


def _unavailable(request: Request) -> ServiceUnavailable:
    wait = request.app.state.settings.webhook_database_wait_s
    return ServiceUnavailable(
        f"The database did not answer within {wait:g} s, so the call was not accepted; try again "
        "in a moment (send an Idempotency-Key header, the same on every try, and a call that was "
        "accepted after all is not run twice).",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _database(request: Request, work: Awaitable[T]) -> T:
    """`work` (which needs the database) within WIREWORK_WEBHOOK_DATABASE_WAIT_S: an unreachable
    database is a 503 with Retry-After in bounded time, not a hang and not a 500."""
    try:
        async with asyncio.timeout(request.app.state.settings.webhook_database_wait_s):
            return await work
    except TimeoutError:
        raise _unavailable(request) from None
    except Exception as exc:
        if not is_disconnect(exc):
            raise
        request.app.state.db.health.lost(exc, "webhook")
        raise _unavailable(request) from None


async def call_webhook(request: Request, path: str) -> Response:
    """Run the active workflow listening on this path and method."""
    state = request.app.state
    method = webhooks.method_of(request)
    target = await _database(request, webhooks.find(state.db, method, path, state.webhook_cache))
    return await _run_webhook(request, target, path)


async def call_test_webhook(request: Request, path: str) -> Response:
    """Run the editor's draft awaiting one test call at this token's URL (on any server)."""
    token = path
    method = webhooks.method_of(request)
    target = await _database(request, webhooks.find_test(request.app.state.db, method, token))
    return await _run_webhook(request, target, token)


async def _run_webhook(request: Request, target: webhooks.Target, path: str) -> Response:
    state = request.app.state
    counter: Counter | None = state.webhook_counter
    if counter is not None:
        key = f"webhook:{request.client.host if request.client else '?'}|{path}"
        wait = await _database(request, counter.hit(key, state.settings.webhook_rate_limit, 60))
        if wait:
            raise TooManyRequests(f"Too many calls to this webhook; try again in {wait} s.", retry_after=wait)
    idempotency_key = webhooks.idempotency_key(request)
    limit = state.settings.webhook_max_body_bytes
    body = await webhooks.read_body(request, limit)
    db = state.db
    await _database(request, webhooks.check_auth(db, state.vault, target, request, body))
    item = await webhooks.request_item(request, path, body, limit, target)
    first = True
    if target.version_id is not None:  # a registered webhook: its version is known
        window = timedelta(seconds=state.settings.webhook_idempotency_window_s)
        digest = webhooks.request_digest(item) if idempotency_key is not None else None
        execution_id, first = await _database(
            request, webhooks.accept(db, target, item, idempotency_key, window, digest)
        )
    else:
        execution_id = await _database(request, _start_test_run(db, target, item))
    replay = {} if first else {REPLAYED: "true"}
    completions: Completions = state.platform.completions
    immediately = target.response_mode == ResponseMode.immediately
    finished = None if immediately or not first else completions.expect(execution_id)
    if first:  # a repeated call's execution was handed to an executor by the first call
        state.executor.submit(execution_id)
    if immediately:
        return JSONResponse(
            {"execution_id": str(execution_id)}, status_code=status.HTTP_202_ACCEPTED, headers=replay
        )
    runs_here = state.executor.runs_here and first
    try:
        outcome = await _unless_caller_leaves(
            request, completions.wait(db, execution_id, target.timeout_s, finished, runs_here=runs_here)
        )
    except CallerLeft:
        log.info("webhook_caller_left", execution_id=str(execution_id), note="the execution goes on")
        raise
    if outcome is None or outcome == ExecutionStatus.waiting:
        raise GatewayTimeout(
            f"The workflow did not finish within {target.timeout_s} s; execution {execution_id} goes on.",
        )
    if outcome != ExecutionStatus.completed:
        found = await executions.status_of(db, execution_id)
        error = found[1] if found else None
        raise BadGateway(
            f"The workflow {outcome.value} (execution {execution_id}): {error or 'no error given'}"
        )
    mode = target.response_mode
    answer = await executions.read(db, lambda connection: webhooks.answer_of(connection, execution_id, mode))
    if answer is None:
        raise BadGateway(
            f"The workflow finished without reaching a 'Respond to webhook' node (execution {execution_id})."
        )
    response = _response(answer, execution_id, allow_cookies=state.settings.webhook_allow_cookies)
    response.headers.update(replay)
    return response


async def _unless_caller_leaves(request: Request, work: Awaitable[T]) -> T:
    """`work`, unless the caller hangs up first (CallerLeft; `work` is cancelled, the
    execution it waits for is not). The body has been read, so the next message is the
    disconnect."""
    waiting = asyncio.ensure_future(work)
    leaving = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({waiting, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, leaving):
            if not task.done():
                task.cancel()
    if waiting.done() and not waiting.cancelled():
        return waiting.result()
    raise CallerLeft


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _start_test_run(db: Database, target: webhooks.Target, item: dict[str, Any]) -> uuid.UUID:
    """A test call: the draft, on top of the current version; the listener's one call."""
    assert target.listener_id is not None
    async with db.session() as session:
        await webhooks.take_test(session, target.listener_id)
        workflow = await get_scoped(session, Workflow, target.workflow_id, target.org_id)
        execution = await workflows.start_run(
            session,
            workflow,
            version=None,
            input_items=[item],
            pinned=None,
            start=target.node_id,
            user_id=None,
            trigger_type=TriggerType.webhook,
            draft=target.draft,
        )
        await webhooks.test_started(session, target.listener_id, execution.id)
        await session.commit()
    return execution.id


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _response(answer: dict[str, Any], execution_id: uuid.UUID, *, allow_cookies: bool) -> Response:
    given = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    for name, value in given.items():
        if not _HEADER_NAME.match(name) or _BAD_VALUE.search(value) or not _latin1(value):
            raise BadGateway(
                f"The workflow answered with an invalid header {name[:60]!r} (execution {execution_id})."
            )
    headers = answer_headers(given, allow_cookies=allow_cookies)
    headers["X-Wirework-Execution"] = str(execution_id)
    body = answer.get("body")
    code = int(answer.get("status") or 200)
    if not 200 <= code <= 599:  # a 1xx would switch protocols or confuse a proxy about the answer
        raise BadGateway(
            f"The workflow answered with status {code}, outside 200-599 (execution {execution_id})."
        )
    if code in (204, 304):  # no body, whatever the workflow gave
        return Response(status_code=code, headers=headers)
    if isinstance(body, str | bytes) and any(k.lower() == "content-type" for k in headers):
        return Response(body, status_code=code, headers=headers)
    return Response(
        json.dumps(body, default=str), status_code=code, headers=headers, media_type="application/json"
    )


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------- /api/v1/webhooks


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    workflow_id: uuid.UUID
    node_id: str
    path: str
    method: str
    auth_mode: str
    response_mode: str
    url: str = ""
    created_at: datetime


@webhooks_router.get("", response_model=Page[WebhookOut])
async def list_webhooks(
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The organization's active webhooks with their production URLs."""
    stmt = scoped(Webhook, org_id)
    if workflow_id:
        stmt = stmt.where(Webhook.workflow_id == workflow_id)
    rows, next_cursor = await paginate(session, stmt, Webhook.id, limit=limit, cursor=cursor)
    base = request.app.state.settings.effective_public_url
    items = []
    for row in rows:
        out = WebhookOut.model_validate(row)
        out.url = f"{base}/webhook/{row.path}"
        items.append(out.model_dump(mode="json"))
    return {"items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------- /api/v1/schedules


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    workflow_id: uuid.UUID
    node_id: str
    cron: str | None = Field(validation_alias=AliasChoices("cron_expression", "cron"))
    interval_s: int | None
    timezone: str
    catch_up: str
    last_execution: datetime | None
    next_execution: datetime
    next_fire_times: list[datetime] = Field(default_factory=list, description="In the user's time zone.")


class PreviewRequest(BaseModel):
    cron: str | None = Field(None, max_length=120)
    interval_s: int | None = Field(None, ge=1, le=366 * 86400)
    timezone: str = Field("UTC", max_length=64)
    count: int = Field(5, ge=1, le=50)


class PreviewOut(BaseModel):
    next: list[datetime]


async def _user_zone(session: SessionDep, principal: Any) -> str:
    preferred = (await accounts.get_preferences(session, principal.user.id)).get("timezone")
    try:
        return schedules.zone(str(preferred)).key if preferred else "UTC"
    except schedules.ScheduleError:
        return "UTC"


@schedules_router.get("", response_model=Page[ScheduleOut])
async def list_schedules(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
    count: Annotated[int, Query(ge=0, le=20, description="How many next fire times to show.")] = 5,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Active schedules with their next fire times, shown in the user's time zone (preference
    `timezone`, default UTC)."""
    stmt = scoped(Schedule, org_id)
    if workflow_id:
        stmt = stmt.where(Schedule.workflow_id == workflow_id)
    rows, next_cursor = await paginate(session, stmt, Schedule.id, limit=limit, cursor=cursor)
    user_zone = schedules.zone(await _user_zone(session, principal))
    items = []
    for row in rows:
        out = ScheduleOut.model_validate(row)
        fires = [row.next_execution]
        if count > 1:
            fires += schedules.next_fires(
                after=row.next_execution,
                count=count - 1,
                cron=row.cron_expression,
                interval_s=row.interval_s,
                timezone=row.timezone,
            )
        out.next_fire_times = [f.astimezone(user_zone) for f in fires[:count]]
        out.next_execution = row.next_execution.astimezone(user_zone)
        if row.last_execution:
            out.last_execution = row.last_execution.astimezone(user_zone)
        items.append(out.model_dump(mode="json"))
    return {"items": items, "next_cursor": next_cursor}


@schedules_router.post("/preview", response_model=PreviewOut)
async def preview_schedule(body: PreviewRequest, principal: CurrentPrincipal) -> PreviewOut:
    """The next fire times of a cron expression or interval (for the editor), in its time zone."""
    try:
        tz = schedules.zone(body.timezone)
        fires = schedules.next_fires(
            after=utcnow(),
            count=body.count,
            cron=body.cron,
            interval_s=body.interval_s,
            timezone=body.timezone,
        )
    except schedules.ScheduleError as exc:
        raise ValidationFailed(
            str(exc), errors=[{"loc": ["body"], "msg": str(exc), "type": "schedule"}]
        ) from None
    return PreviewOut(next=[f.astimezone(tz) for f in fires])


# ---------------------------------------------------------------- editor test listener


class ListenRequest(BaseModel):
    definition: dict[str, Any] = Field(description="The editor's current (maybe unsaved) definition.")


class ListenOut(BaseModel):
    url: str = Field(description="Where to send the test call: /webhook-test/{token}, this listener's own.")
    method: str
    expires_at: datetime


class ListenStatus(BaseModel):
    status: Literal["listening", "received", "expired", "idle"]
    execution_id: uuid.UUID | None = None


@listen_router.post("/{workflow_id}/webhook-test", response_model=ListenOut)
async def listen_for_test_call(
    workflow_id: uuid.UUID,
    body: ListenRequest,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> ListenOut:
    """Listen for one call to a new, unguessable /webhook-test/{token} URL for two minutes; it
    runs this draft. Listening again replaces the workflow's earlier listener."""
    require_role(principal, OrgRole.member)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    workflows.check_definition(body.definition, request.app.state.registry)
    await workflows.get_version(session, workflow)  # executions point at a saved version
    listener = await webhooks.listen(session, org_id, workflow.id, body.definition)
    await session.commit()
    return ListenOut(
        url=f"/webhook-test/{listener.token}", method=listener.method.value, expires_at=listener.expires_at
    )


@listen_router.get("/{workflow_id}/webhook-test", response_model=ListenStatus)
async def test_call_status(
    workflow_id: uuid.UUID,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> ListenStatus:
    """Whether the test call came, and the execution it started."""
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    listener = await webhooks.listener_of(session, org_id, workflow.id)
    if listener is None:
        return ListenStatus(status="idle")
    if listener.received_at is not None:
        return ListenStatus(status="received", execution_id=listener.execution_id)
    if listener.expires_at <= utcnow():
        return ListenStatus(status="expired")
    return ListenStatus(status="listening")
