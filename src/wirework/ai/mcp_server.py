"""Wirework as an MCP server: an organization's opted-in active workflows as tools, over
streamable HTTP at `/mcp`, authenticated by API key.

The official `mcp` SDK (2.x) speaks the protocol: its low-level `Server` with two handlers
(tools/list, tools/call) behind a `StreamableHTTPSessionManager` in stateless JSON mode, so
any `wirework serve` process answers any request and nothing lives only in one process's
memory (docs/decisions/0014-mcp.md). In front of it, `McpEndpoint` checks the bearer token
as every API route does (`accounts.service.resolve_token`; a key's organization, role and
scopes apply): any request needs one of the two MCP scopes, tools/list `workflows:read`,
tools/call `executions:write` and the member role. Cookies are not read, so a web page cannot
call it on a logged-in user's behalf. Only POST is served: the server is stateless and answers
with JSON, so it has no stream to offer on GET and no session to end on DELETE — both are 405
(as the streamable HTTP transport says of a server without an SSE stream), and no request can
hold a connection open past its own answer.

A tool is a workflow whose current definition has `settings.mcp_tool` (description, input
schema, optional name and timeout) while the workflow is active. A call checks the arguments
against the schema, runs the workflow with them as its one input item — a normal execution,
listed with the others — waits for it at most the tool's `timeout_s`, and answers with the
items of the last node that ran, as JSON text.

BASIC scripts as tools come with the BASIC interpreter (a later issue): `_tools` is the one
place that says what the tools are, so another kind of tool joins there; none is offered now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

import mcp_types as types
import structlog
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from wirework import __version__
from wirework.accounts.models import OrgRole
from wirework.accounts.service import Principal, resolve_token
from wirework.db.engine import Database
from wirework.engine import executions
from wirework.engine.definition import McpToolSettings
from wirework.engine.models import ExecutionStatus, TriggerType
from wirework.errors import Forbidden, MethodNotAllowed, Unauthorized, WireworkError
from wirework.problems import error_response
from wirework.security.json_schema import first_error
from wirework.workflows.models import Workflow, WorkflowVersion

log = structlog.get_logger("wirework.mcp")

PATH: Final = "/mcp"
MAX_REQUEST_BYTES: Final = 1_000_000
"""A tools/call body (the arguments) at most this big."""
MAX_RESULT_BYTES: Final = 1_000_000
"""The JSON text of a call's result at most this big; a larger one is an error result."""
MAX_TOOLS: Final = 1_000
"""Active workflows read for one tools/list (the newest first)."""
LIST_SCOPE: Final = "workflows:read"
CALL_SCOPE: Final = "executions:write"
INSUFFICIENT: Final = -32003  # JSON-RPC server error: the key may not do this


@dataclass(frozen=True)
class _Caller:
    principal: Principal
    state: Any  # the app's state: db, executor, completions


_caller: ContextVar[_Caller] = ContextVar("wirework_mcp_caller")


@dataclass(frozen=True)
class WorkflowTool:
    """An active workflow offered as a tool."""

    name: str
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    settings: McpToolSettings


def tool_name(workflow_name: str) -> str:
    """A workflow's name as an MCP tool name (letters, digits, '_' and '-'; 1-64)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", workflow_name).strip("_")[:64] or "workflow"


async def _tools(db: Database, org_id: uuid.UUID) -> dict[str, WorkflowTool]:
    """The organization's tools by name: its active workflows that opt in (settings.mcp_tool).
    Two with the same name: the later ones get their workflow id's first 8 hex digits added."""
    statement = (
        select(Workflow.id, Workflow.name, WorkflowVersion.id, WorkflowVersion.definition)
        .join(
            WorkflowVersion,
            (WorkflowVersion.workflow_id == Workflow.id) & (WorkflowVersion.version == Workflow.version),
        )
        .where(Workflow.org_id == org_id, Workflow.is_active.is_(True))
        .order_by(Workflow.id)
        .limit(MAX_TOOLS)
    )
    async with db.session() as session:
        rows = (await session.execute(statement)).all()
    found: dict[str, WorkflowTool] = {}
    for workflow_id, workflow_name, version_id, definition in rows:
        raw = ((definition or {}).get("settings") or {}).get("mcp_tool")
        if not raw:
            continue
        try:
            settings = McpToolSettings.model_validate(raw)
        except ValidationError:  # saved before a rule tightened: not offered rather than broken
            continue
        name = settings.name or tool_name(workflow_name)
        if name in found:
            name = f"{name[:55]}_{workflow_id.hex[:8]}"
        found[name] = WorkflowTool(name, workflow_id, version_id, settings)
    return found


def _require(caller: _Caller, scope: str) -> None:
    scopes = caller.principal.scopes
    if scopes is not None and scope not in scopes:
        raise MCPError(
            INSUFFICIENT,
            f"This API key does not have the {scope} scope this needs; make a key with it "
            "(POST /api/v1/api-keys with scopes).",
        )


def _org(caller: _Caller) -> uuid.UUID:
    assert caller.principal.org_id is not None  # McpEndpoint refused callers without one
    return caller.principal.org_id


async def _list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    caller = _caller.get()
    _require(caller, LIST_SCOPE)
    tools = await _tools(caller.state.db, _org(caller))
    return types.ListToolsResult(
        tools=[
            types.Tool(name=t.name, description=t.settings.description, input_schema=t.settings.input_schema)
            for t in tools.values()
        ]
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


async def _call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    caller = _caller.get()
    _require(caller, CALL_SCOPE)
    role = caller.principal.org_role
    if role is None or not role.at_least(OrgRole.member):
        raise MCPError(INSUFFICIENT, "Running a workflow needs the member role in the organization.")
    tool = (await _tools(caller.state.db, _org(caller))).get(params.name)
    if tool is None:
        raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name!r}; tools/list names the tools.")
    arguments = params.arguments or {}
    problem = first_error(tool.settings.input_schema, arguments)
    if problem is not None:
        where, why = problem
        return _error(f"Invalid arguments: {where or 'arguments'}: {why}")
    return await _run(caller, tool, arguments)


async def _run(caller: _Caller, tool: WorkflowTool, arguments: dict[str, Any]) -> types.CallToolResult:
    """Run the tool's workflow with `arguments` as its input item; wait for its end (bounded)."""
    state = caller.state
    db: Database = state.db
    async with db.session() as session:
        execution = await executions.create_execution(
            session,
            org_id=_org(caller),
            workflow_id=tool.workflow_id,
            version_id=tool.version_id,
            trigger_type=TriggerType.manual,
            triggered_by=caller.principal.user.id,
            input_items=[arguments],
        )
        execution_id = execution.id
        completions = state.platform.completions
        finished = completions.expect(execution_id)
        await session.commit()
    state.executor.submit(execution_id)
    log.info(
        "mcp_tool_called", tool=tool.name, workflow_id=str(tool.workflow_id), execution_id=str(execution_id)
    )
    outcome = await completions.wait(
        db, execution_id, tool.settings.timeout_s, finished, runs_here=state.executor.runs_here
    )
    if outcome is None or outcome == ExecutionStatus.waiting:
        return _error(
            f"The workflow did not finish within {tool.settings.timeout_s:g} s; "
            f"execution {execution_id} goes on."
        )
    if outcome != ExecutionStatus.completed:
        found = await executions.status_of(db, execution_id)
        reason = (found[1] if found else None) or "no error given"
        return _error(f"The workflow {outcome.value} (execution {execution_id}): {reason}")
    items = await executions.read(db, lambda connection: executions.last_items(connection, execution_id))
    text = json.dumps(items, ensure_ascii=False)
    if len(text.encode()) > MAX_RESULT_BYTES:
        return _error(
            f"The workflow's result is larger than {MAX_RESULT_BYTES} bytes as JSON "
            f"(execution {execution_id}); make its last node return less."
        )
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content={"items": items, "execution_id": str(execution_id)},
    )


def build_server() -> Server[Any]:
    return Server(
        "wirework",
        version=__version__,
        instructions="Each tool runs one of this organization's workflows and answers with its last "
        "node's items as JSON.",
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )


class McpEndpoint:
    """The ASGI app at /mcp: the bearer check, then the SDK's streamable HTTP transport."""

    def __init__(self) -> None:
        self.manager = StreamableHTTPSessionManager(
            build_server(),
            stateless=True,
            json_response=True,
            # Bearer auth only (no cookies), so a rebinding page gains nothing; Host checks
            # would have to know every name the instance is reached by.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=MAX_REQUEST_BYTES,
        )

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Held for the app's lifetime (its lifespan). The SDK's task group lives in a task of
        its own: a lifespan may be entered and left by different tasks (test fixtures are)."""
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold(), name="mcp-session-manager")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():  # it failed to start: say why
            waiting.cancel()
            task.result()
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            principal = await self._principal(request)
            if request.method != "POST":
                raise MethodNotAllowed(
                    "This MCP server is stateless and answers POSTs with JSON: it offers no event "
                    "stream (GET) and no session to end (DELETE).",
                    headers={"Allow": "POST"},
                )
            if principal.scopes is not None and not principal.scopes & {LIST_SCOPE, CALL_SCOPE}:
                raise Forbidden(
                    f"This API key has neither MCP scope: {LIST_SCOPE} lists the tools, {CALL_SCOPE} "
                    "calls them (POST /api/v1/api-keys with scopes)."
                )
        except WireworkError as exc:
            await error_response(request, exc)(scope, receive, send)
            return
        token = _caller.set(_Caller(principal, scope["app"].state))
        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            _caller.reset(token)

    async def _principal(self, request: Request) -> Principal:
        challenge = {"WWW-Authenticate": 'Bearer realm="wirework"'}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send 'Authorization: Bearer <API key>'.", headers=challenge)
        db: Database = request.app.state.db
        async with db.session() as session:
            principal = await resolve_token(session, token.strip(), via_cookie=False)
            if session.dirty:
                await session.commit()
        if principal is None:
            raise Unauthorized("The API key is unknown or expired.", headers=challenge)
        if principal.org_id is None:
            raise Forbidden("No organization selected: switch to one with POST /api/v1/auth/switch-org.")
        return principal
