"""HTTP routes: /api/v1/workflows, /executions, /credentials, /variables, /node-types, /templates."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlalchemy import delete, func, select

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.schemas import Page
from wirework.db.pagination import paginate, parse_cursor
from wirework.db.scoping import get_scoped, scoped
from wirework.deps import Cursor, Limit, SessionDep
from wirework.engine import executions, payloads
from wirework.engine.expressions import expression_reference
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus
from wirework.engine.nodes import NodeRegistry
from wirework.errors import Conflict, NotFound, ValidationFailed
from wirework.problems import problem_responses
from wirework.queue.waiting import Completions
from wirework.security.vault import Vault
from wirework.triggers import service as triggers
from wirework.workflows import service
from wirework.workflows.credential_types import credential_types
from wirework.workflows.models import Credential, Variable, Workflow, WorkflowTemplate, WorkflowVersion
from wirework.workflows.schemas import (
    CredentialCreate,
    CredentialOut,
    CredentialTypeOut,
    CredentialUpdate,
    ExecutionDetail,
    ExecutionOut,
    ExpressionReference,
    LastRun,
    NodeRunOut,
    NodeTypeOut,
    RerunRequest,
    RunRequest,
    TemplateOut,
    TemplateUse,
    VariableCreate,
    VariableOut,
    VariableUpdate,
    VersionCreate,
    VersionDetail,
    VersionOut,
    WorkflowCreate,
    WorkflowDetail,
    WorkflowExport,
    WorkflowOut,
    WorkflowUpdate,
)

COMMON = problem_responses(400, 401, 403, 404, 422)

workflows_router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], responses=COMMON)
executions_router = APIRouter(prefix="/api/v1/executions", tags=["executions"], responses=COMMON)
credentials_router = APIRouter(prefix="/api/v1/credentials", tags=["credentials"], responses=COMMON)
variables_router = APIRouter(prefix="/api/v1/variables", tags=["variables"], responses=COMMON)
node_types_router = APIRouter(prefix="/api/v1/node-types", tags=["node-types"], responses=COMMON)
templates_router = APIRouter(prefix="/api/v1/templates", tags=["templates"], responses=COMMON)
expressions_router = APIRouter(prefix="/api/v1/expressions", tags=["node-types"], responses=COMMON)
routers = [
    workflows_router,
    expressions_router,
    executions_router,
    credentials_router,
    variables_router,
    node_types_router,
    templates_router,
]


def _registry(request: Request) -> NodeRegistry:
    registry: NodeRegistry = request.app.state.registry
    return registry


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


async def _accept(request: Request, session: SessionDep, execution: Execution) -> Execution:
    """Commit the new execution row (accepted work is never lost), then hand it to the executor."""
    await session.commit()
    request.app.state.executor.submit(execution.id)
    return execution


async def _delete(
    principal: Any, session: SessionDep, model: type[Any], object_id: uuid.UUID, org_id: uuid.UUID
) -> Response:
    """Delete an object of the caller's organization (members and up); 404 if it is not there."""
    _writer(principal)
    await session.delete(await get_scoped(session, model, object_id, org_id))
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _writer(principal: Any) -> None:
    require_role(principal, OrgRole.member)


async def _commit_triggers(request: Request, session: SessionDep, workflow: Workflow, principal: Any) -> None:
    """Make the trigger rows follow the workflow (active or not, current version), then commit."""
    await triggers.sync_triggers(session, workflow, user_id=principal.user.id)
    await session.commit()
    request.app.state.scheduler.poke()
    request.app.state.webhook_cache.clear()


# ---------------------------------------------------------------- workflows


async def _detail(session: SessionDep, workflow: Workflow) -> WorkflowDetail:
    definition = (await service.get_version(session, workflow)).definition if workflow.version else None
    last = (await service.last_runs(session, [workflow.id])).get(workflow.id)
    out = WorkflowDetail.model_validate(
        {**WorkflowOut.model_validate(workflow).model_dump(), "definition": definition}
    )
    out.last_run = LastRun(id=last.id, status=last.status, created_at=last.created_at) if last else None
    return out


@workflows_router.get("", response_model=Page[WorkflowOut])
async def list_workflows(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    search: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    active: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Workflows of the current organization, with each one's last run."""
    stmt = service.workflows_query(org_id, search=search, tag=tag, active=active)
    rows, next_cursor = await paginate(
        session, stmt, Workflow.id, limit=limit, cursor=cursor, newest_first=True
    )
    runs = await service.last_runs(session, [w.id for w in rows])
    items = []
    for workflow in rows:
        out = WorkflowOut.model_validate(workflow)
        run = runs.get(workflow.id)
        out.last_run = LastRun(id=run.id, status=run.status, created_at=run.created_at) if run else None
        items.append(out.model_dump(mode="json"))
    return {"items": items, "next_cursor": next_cursor}


@workflows_router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkflowDetail)
async def create_workflow(
    body: WorkflowCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    """Create a workflow; with a definition, it is saved (validated) as version 1."""
    _writer(principal)
    workflow = await service.create_workflow(
        session,
        org_id=org_id,
        user_id=principal.user.id,
        name=body.name,
        description=body.description,
        tags=body.tags,
        definition=body.definition,
        registry=_registry(request),
    )
    await session.commit()
    return await _detail(session, workflow)


@workflows_router.post("/import", status_code=status.HTTP_201_CREATED, response_model=WorkflowDetail)
async def import_workflow(
    body: WorkflowExport,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    """Create a workflow from an export (an export always carries its definition)."""
    return await create_workflow(WorkflowCreate(**body.model_dump()), request, principal, org_id, session)


@workflows_router.get("/{workflow_id}", response_model=WorkflowDetail)
async def get_workflow(
    workflow_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> WorkflowDetail:
    return await _detail(session, await get_scoped(session, Workflow, workflow_id, org_id))


@workflows_router.get("/{workflow_id}/export", response_model=WorkflowExport)
async def export_workflow(
    workflow_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> WorkflowExport:
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    version = await service.get_version(session, workflow)
    return WorkflowExport(
        name=workflow.name,
        description=workflow.description,
        tags=workflow.tags,
        definition=version.definition,
    )


@workflows_router.patch("/{workflow_id}", response_model=WorkflowDetail)
async def update_workflow(
    workflow_id: uuid.UUID,
    body: WorkflowUpdate,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(workflow, field, value)
    await session.commit()
    return await _detail(session, workflow)


@workflows_router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workflow(
    workflow_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Response:
    """Delete a workflow with its versions, executions and triggers."""
    response = await _delete(principal, session, Workflow, workflow_id, org_id)
    request.app.state.webhook_cache.clear()
    return response


@workflows_router.post(
    "/{workflow_id}/duplicate", status_code=status.HTTP_201_CREATED, response_model=WorkflowDetail
)
async def duplicate_workflow(
    workflow_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    _writer(principal)
    original = await get_scoped(session, Workflow, workflow_id, org_id)
    definition = (await service.get_version(session, original)).definition if original.version else None
    copy = await service.create_workflow(
        session,
        org_id=org_id,
        user_id=principal.user.id,
        name=f"{original.name} (copy)",
        description=original.description,
        tags=list(original.tags),
        definition=definition,
        registry=_registry(request),
    )
    await session.commit()
    return await _detail(session, copy)


@workflows_router.post("/{workflow_id}/activate", response_model=WorkflowDetail)
async def activate_workflow(
    workflow_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    """Turn the workflow's triggers on (it needs a saved version)."""
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    await service.get_version(session, workflow)
    workflow.is_active = True
    await _commit_triggers(request, session, workflow, principal)
    return await _detail(session, workflow)


@workflows_router.post("/{workflow_id}/deactivate", response_model=WorkflowDetail)
async def deactivate_workflow(
    workflow_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    workflow.is_active = False
    await _commit_triggers(request, session, workflow, principal)
    return await _detail(session, workflow)


@workflows_router.get("/{workflow_id}/versions", response_model=list[VersionOut])
async def list_versions(
    workflow_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> list[WorkflowVersion]:
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    rows = await session.execute(
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow.id)
        .order_by(WorkflowVersion.version.desc())
    )
    return list(rows.scalars())


@workflows_router.post(
    "/{workflow_id}/versions", status_code=status.HTTP_201_CREATED, response_model=VersionDetail
)
async def save_version(
    workflow_id: uuid.UUID,
    body: VersionCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowVersion:
    """Save the definition as a new version (validated: errors point at the node)."""
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    version = await service.save_version(
        session,
        workflow,
        body.definition,
        user_id=principal.user.id,
        notes=body.notes,
        registry=_registry(request),
    )
    await _commit_triggers(request, session, workflow, principal)
    return version


@workflows_router.get("/{workflow_id}/versions/{number}", response_model=VersionDetail)
async def get_version(
    workflow_id: uuid.UUID, number: int, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> WorkflowVersion:
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    return await service.get_version(session, workflow, number)


@workflows_router.post(
    "/{workflow_id}/versions/{number}/restore",
    status_code=status.HTTP_201_CREATED,
    response_model=VersionDetail,
)
async def restore_version(
    workflow_id: uuid.UUID,
    number: int,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowVersion:
    """Make an old version current again, as a new version."""
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    old = await service.get_version(session, workflow, number)
    version = await service.save_version(
        session,
        workflow,
        old.definition,
        user_id=principal.user.id,
        notes=f"Restored version {number}",
        registry=_registry(request),
    )
    await _commit_triggers(request, session, workflow, principal)
    return version


@workflows_router.post("/{workflow_id}/run", status_code=status.HTTP_201_CREATED, response_model=ExecutionOut)
async def run_workflow(
    workflow_id: uuid.UUID,
    body: RunRequest,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Execution:
    """Start an execution with the given input items; answers at once unless `wait_s` is set.
    With `definition`, the editor's draft runs and nothing is saved. Pinned outputs saved in the
    definition apply (manual runs only; `pinned` adds to them)."""
    _writer(principal)
    workflow = await get_scoped(session, Workflow, workflow_id, org_id)
    registry = _registry(request)
    if body.definition is not None:
        await asyncio.to_thread(service.check_definition, body.definition, registry)
    reuse = None
    if body.reuse_execution is not None:
        if body.start_node is None:  # it would be ignored: say so instead of running it all
            raise ValidationFailed(
                "reuse_execution needs start_node: the node to run again from",
                errors=[
                    {"loc": ["body", "start_node"], "msg": "required with reuse_execution", "type": "missing"}
                ],
            )
        reuse = await get_scoped(session, Execution, body.reuse_execution, org_id)
        if reuse.workflow_id != workflow.id:
            raise ValidationFailed(
                "reuse_execution is an execution of another workflow",
                errors=[
                    {"loc": ["body", "reuse_execution"], "msg": "another workflow's", "type": "value_error"}
                ],
            )
    _check_start(body.start_node, body.definition)
    execution = await service.start_run(
        session,
        workflow,
        version=body.version,
        input_items=body.input,
        pinned=body.pinned,
        start=body.start_node,
        user_id=principal.user.id,
        draft=body.definition,
        reuse=reuse,
        registry=registry,
    )
    completions: Completions = request.app.state.platform.completions
    finished = completions.expect(execution.id) if body.wait_s else None
    await _accept(request, session, execution)
    if body.wait_s:
        runs_here = request.app.state.executor.runs_here
        await completions.wait(request.app.state.db, execution.id, body.wait_s, finished, runs_here=runs_here)
        await session.refresh(execution)
    return execution


def _check_start(start: str | None, definition: dict[str, Any] | None) -> None:
    """422 when a draft run names a start node the draft does not have."""
    if start is None or definition is None:
        return
    nodes = definition.get("nodes") or []
    if not any(start in (n.get("id"), n.get("name")) for n in nodes):
        raise ValidationFailed(
            f"Node {start!r} is not in the definition.",
            errors=[{"loc": ["body", "start_node"], "msg": "unknown node", "type": "not_found"}],
        )


# ---------------------------------------------------------------- executions


_LISTED = [Execution.__table__.c[name] for name in ExecutionOut.model_fields if name != "is_draft"]
"""The columns a list page returns: never the input items or options, which may be megabytes."""
_CLOCK_SLACK = timedelta(minutes=1)
"""An execution's id (UUID v7) and created_at are taken within this of each other."""


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""since/until are clamped to this range: no execution lies outside it, and the ends of
datetime's own range overflow in arithmetic and in the databases' time types."""


def _bound(moment: datetime) -> datetime:
    """A since/until as an instant in UTC: a time without a zone is taken as UTC (the API's
    times are UTC), and one outside the range of executions is clamped to it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # the first or last day of year 1 or 9999 in a zone beyond it
        return _EARLIEST if moment.year < 2000 else _LATEST
    return min(max(moment, _EARLIEST), _LATEST)


def _id_at(moment: datetime) -> uuid.UUID:
    """The smallest UUID v7 of this millisecond: ids compare as the instants they were made."""
    return uuid.UUID(int=max(0, int(moment.timestamp() * 1000)) << 80)


def _is_draft(dialect: str) -> Any:
    """`options` holds a draft's definition (a run of the editor's unsaved canvas), read in SQL."""
    options = Execution.options
    if dialect == "postgresql":
        return options.op("?")("definition")
    if dialect == "mysql":
        return func.json_contains_path(options, "one", "$.definition") == 1
    return func.json_type(options, "$.definition").is_not(None)


@executions_router.get("", response_model=Page[ExecutionOut])
async def list_executions(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
    status_: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    since: Annotated[
        datetime | None, Query(description="Accepted at or after this instant (no zone: UTC).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Accepted before this instant (no zone: UTC).")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Executions of the current organization, newest first. Each filter, and each pair of
    workflow and status, is served by an index ending in id, so a page costs the same however
    long the history is."""
    dialect = session.get_bind().dialect.name
    stmt = select(*_LISTED, _is_draft(dialect).label("is_draft")).where(Execution.org_id == org_id)
    if workflow_id:
        stmt = stmt.where(Execution.workflow_id == workflow_id)
    if status_:
        stmt = stmt.where(Execution.status == status_)
    # Time bounds become id bounds too (ids are made when the run is accepted), so the index
    # walk starts and stops there instead of reading every newer row first.
    if since:
        since = _bound(since)
        stmt = stmt.where(Execution.created_at >= since, Execution.id >= _id_at(since - _CLOCK_SLACK))
    if until:
        until = _bound(until)
        stmt = stmt.where(Execution.created_at < until, Execution.id < _id_at(until + _CLOCK_SLACK))
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Execution.id < after)
    rows = (await session.execute(stmt.order_by(Execution.id.desc()).limit(limit + 1))).all()
    page = [ExecutionOut.model_validate(dict(row._mapping)).model_dump(mode="json") for row in rows[:limit]]
    return {"items": page, "next_cursor": page[-1]["id"] if len(rows) > limit else None}


@executions_router.get("/{execution_id}", response_model=ExecutionDetail)
async def get_execution(
    execution_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> ExecutionDetail:
    """One execution with every node run, its items and errors. Items larger than 16 KB appear as
    references (`{"$wirework_item": digest, "bytes": size}`): GET .../items/{digest} gives one."""
    execution = await get_scoped(session, Execution, execution_id, org_id)
    logs = await session.execute(
        select(ExecutionLog).where(ExecutionLog.execution_id == execution.id).order_by(ExecutionLog.id)
    )
    return ExecutionDetail.model_validate(
        {
            **ExecutionOut.model_validate(execution).model_dump(),
            "input_items": execution.input_items,
            "nodes": [NodeRunOut.model_validate(log) for log in logs.scalars()],
        }
    )


@executions_router.get("/{execution_id}/items/{digest}", response_model=dict[str, Any])
async def get_execution_item(
    execution_id: uuid.UUID,
    digest: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    """One large item of an execution, as its input and node records refer to it."""
    owned = (await session.execute(_owned(execution_id, org_id))).scalar_one_or_none()
    item = None
    if owned is not None:
        item = await session.run_sync(lambda sync: payloads.read_one(sync.connection(), owned, digest))
    if item is None:
        raise NotFound(f"Item {digest} of execution {execution_id} not found")
    return item


def _owned(execution_id: uuid.UUID, org_id: uuid.UUID) -> Any:
    return select(Execution.id).where(Execution.id == execution_id, Execution.org_id == org_id)


@executions_router.post(
    "/{execution_id}/cancel", response_model=ExecutionOut, responses=problem_responses(409)
)
async def cancel_execution(
    execution_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Execution:
    """Cancel: at once if it is not running, else at its next node."""
    _writer(principal)
    execution = await get_scoped(session, Execution, execution_id, org_id)
    if execution.status.finished:
        raise Conflict(f"The execution already ended ({execution.status.value}).")
    await executions.request_cancel(session, execution)
    await session.commit()
    return execution


@executions_router.post(
    "/{execution_id}/retry",
    status_code=status.HTTP_201_CREATED,
    response_model=ExecutionOut,
    responses=problem_responses(409),
)
async def retry_execution(
    execution_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Execution:
    """Run a failed execution again from its failed node, reusing what finished before it."""
    _writer(principal)
    failed = await get_scoped(session, Execution, execution_id, org_id)
    execution = await service.retry_execution(
        session, failed, user_id=principal.user.id, registry=_registry(request)
    )
    return await _accept(request, session, execution)


@executions_router.post(
    "/{execution_id}/rerun",
    status_code=status.HTTP_201_CREATED,
    response_model=ExecutionOut,
    responses=problem_responses(409),
)
async def rerun_execution(
    execution_id: uuid.UUID,
    body: RerunRequest,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Execution:
    """Run again from a chosen node, reusing the outputs the earlier run's nodes before it made."""
    _writer(principal)
    earlier = await get_scoped(session, Execution, execution_id, org_id)
    execution = await service.rerun_execution(
        session, earlier, from_node=body.node, user_id=principal.user.id, registry=_registry(request)
    )
    return await _accept(request, session, execution)


@executions_router.delete("/{execution_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_execution(
    execution_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    """Delete an execution with its node records and stored items (one statement through the
    primary key; runs that referred to it keep going, their reference cleared)."""
    _writer(principal)
    deleted = await session.execute(
        delete(Execution).where(Execution.id == execution_id, Execution.org_id == org_id)
    )
    if deleted.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(f"Execution {execution_id} not found")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- credentials


@credentials_router.get("", response_model=list[CredentialOut])
async def list_credentials(
    principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> list[Any]:
    """Credentials of the organization: names, types and field names, never values."""
    return list((await session.execute(scoped(Credential, org_id).order_by(Credential.name))).scalars())


@credentials_router.get("/types", response_model=list[CredentialTypeOut])
async def list_credential_types(principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """The credential types the built-in nodes use, each with the fields it reads."""
    return credential_types()


@credentials_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CredentialOut, responses=problem_responses(409)
)
async def create_credential(
    body: CredentialCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Credential:
    _writer(principal)
    credential = await service.create_credential(
        session,
        _vault(request),
        org_id=org_id,
        user_id=principal.user.id,
        name=body.name,
        type=body.type,
        data=body.data,
    )
    await session.commit()
    return credential


@credentials_router.get("/{credential_id}", response_model=CredentialOut)
async def get_credential(
    credential_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Credential:
    return await get_scoped(session, Credential, credential_id, org_id)


@credentials_router.patch("/{credential_id}", response_model=CredentialOut, responses=problem_responses(409))
async def update_credential(
    credential_id: uuid.UUID,
    body: CredentialUpdate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Credential:
    _writer(principal)
    credential = await get_scoped(session, Credential, credential_id, org_id)
    await service.update_credential(session, _vault(request), credential, name=body.name, data=body.data)
    await session.commit()
    return credential


@credentials_router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(
    credential_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    return await _delete(principal, session, Credential, credential_id, org_id)


# ---------------------------------------------------------------- variables


@variables_router.get("", response_model=list[VariableOut])
async def list_variables(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
) -> list[Any]:
    stmt = scoped(Variable, org_id)
    if workflow_id:
        stmt = stmt.where(Variable.workflow_id == workflow_id)
    return list((await session.execute(stmt.order_by(Variable.name))).scalars())


@variables_router.get("/values", response_model=dict[str, Any])
async def variable_values(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """`vars` as a run of this workflow sees it (name → typed value; the workflow's own variables
    win over the organization's): what the editor's expression preview uses."""
    if workflow_id:
        await get_scoped(session, Workflow, workflow_id, org_id)
    return await service.variables_for(session, org_id, workflow_id)


@variables_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=VariableOut, responses=problem_responses(409)
)
async def create_variable(
    body: VariableCreate, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Variable:
    _writer(principal)
    variable = await service.save_variable(
        session,
        org_id=org_id,
        user_id=principal.user.id,
        name=body.name,
        value=body.value,
        type_=body.type,
        workflow_id=body.workflow_id,
    )
    await session.commit()
    return variable


@variables_router.patch("/{variable_id}", response_model=VariableOut, responses=problem_responses(409))
async def update_variable(
    variable_id: uuid.UUID,
    body: VariableUpdate,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Variable:
    _writer(principal)
    variable = await get_scoped(session, Variable, variable_id, org_id)
    await service.save_variable(
        session,
        org_id=org_id,
        user_id=principal.user.id,
        name=body.name or variable.name,
        value=body.value if body.value is not None else variable.value,
        type_=body.type or variable.type,
        workflow_id=variable.workflow_id,
        existing=variable,
    )
    await session.commit()
    return variable


@variables_router.delete("/{variable_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_variable(
    variable_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    return await _delete(principal, session, Variable, variable_id, org_id)


# ---------------------------------------------------------------- node types and templates


@node_types_router.get("", response_model=list[NodeTypeOut])
async def list_node_types(
    request: Request, principal: CurrentPrincipal, session: SessionDep
) -> list[dict[str, Any]]:
    """Every node type this instance offers (the `nodes` and `node_categories` tables), with its
    parameter JSON schema, in the editor palette's order (by category, then name)."""
    return await service.node_types(session, _registry(request))


@expressions_router.get("", response_model=ExpressionReference)
async def expression_names(principal: CurrentPrincipal) -> dict[str, Any]:
    """What an expression can use: its names (the same list runs render with), filters, tests and
    functions. The editor's preview and autocomplete read it."""
    return expression_reference()


@templates_router.get("", response_model=list[TemplateOut])
async def list_templates(principal: CurrentPrincipal, session: SessionDep) -> list[Any]:
    rows = await session.execute(
        select(WorkflowTemplate).order_by(WorkflowTemplate.is_featured.desc(), WorkflowTemplate.name)
    )
    return list(rows.scalars())


@templates_router.get("/{template_id}", response_model=TemplateOut)
async def get_template(template_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Any:
    return await service.get_template(session, template_id)


@templates_router.post(
    "/{template_id}/use", status_code=status.HTTP_201_CREATED, response_model=WorkflowDetail
)
async def use_template(
    template_id: uuid.UUID,
    body: TemplateUse,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> WorkflowDetail:
    """Create a workflow in the current organization from a template."""
    _writer(principal)
    template = await service.get_template(session, template_id)
    workflow = await service.create_workflow(
        session,
        org_id=org_id,
        user_id=principal.user.id,
        name=body.name or template.name,
        description=template.description,
        tags=list(template.tags),
        definition=template.definition,
        registry=_registry(request),
    )
    await session.commit()
    return await _detail(session, workflow)
