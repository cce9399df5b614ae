"""What workflows do: CRUD and versions (validated on save), runs, credentials (sealed, and
resealed with a new key), variables, templates, and the node registry's tables. Functions never
commit, except `reseal_all`, which owns one transaction per batch."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.db.engine import Database
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.engine import executions
from wirework.engine.errors import DefinitionInvalid, ItemsError
from wirework.engine.graph import compile_graph, start_nodes, validate_definition
from wirework.engine.models import (
    Execution,
    ExecutionStatus,
    NodeCategoryRecord,
    NodeTypeRecord,
    TriggerType,
)
from wirework.engine.nodes import NodeRegistry
from wirework.engine.runner import pinned_outputs
from wirework.errors import BadRequest, Conflict, NotFound, ValidationFailed
from wirework.security.bodies import parse_json
from wirework.security.vault import Vault, VaultError, sealed_key_id
from wirework.workflows.models import (
    Credential,
    Variable,
    VariableScope,
    VariableType,
    Workflow,
    WorkflowTemplate,
    WorkflowVersion,
)

# ---------------------------------------------------------------- workflows and versions


def check_definition(definition: dict[str, Any], registry: NodeRegistry) -> dict[str, Any]:
    """The definition if it is valid; otherwise 422 with errors that point at the nodes."""
    errors = validate_definition(definition, registry.find)
    if errors:
        raise DefinitionInvalid(errors)
    return definition


async def create_workflow(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    name: str,
    description: str | None = None,
    tags: list[str] | None = None,
    definition: dict[str, Any] | None = None,
    registry: NodeRegistry,
) -> Workflow:
    workflow = Workflow(
        org_id=org_id, created_by=user_id, name=name, description=description, tags=tags or []
    )
    session.add(workflow)
    await session.flush()
    if definition is not None:
        await save_version(session, workflow, definition, user_id=user_id, notes="Created", registry=registry)
    return workflow


async def save_version(
    session: AsyncSession,
    workflow: Workflow,
    definition: dict[str, Any],
    *,
    user_id: uuid.UUID | None,
    notes: str | None,
    registry: NodeRegistry,
) -> WorkflowVersion:
    """Validate and store a new immutable version; it becomes the workflow's current one."""
    await asyncio.to_thread(check_definition, definition, registry)  # large ones take a second
    error_workflow = (definition.get("settings") or {}).get("error_workflow_id")
    if error_workflow:
        try:
            await get_scoped(session, Workflow, uuid.UUID(str(error_workflow)), workflow.org_id)
        except (ValueError, NotFound) as exc:
            raise ValidationFailed(
                f"settings.error_workflow_id {error_workflow} is not a workflow of this organization",
                errors=[
                    {
                        "loc": ["body", "definition", "settings", "error_workflow_id"],
                        "msg": "unknown workflow",
                        "type": "not_found",
                    }
                ],
            ) from exc
        workflow.error_workflow_id = uuid.UUID(str(error_workflow))
    else:
        workflow.error_workflow_id = None
    version = WorkflowVersion(
        org_id=workflow.org_id,
        workflow_id=workflow.id,
        version=workflow.version + 1,
        definition=definition,
        notes=notes,
        created_by=user_id,
        created_at=utcnow(),
    )
    session.add(version)
    workflow.version = version.version
    workflow.updated_at = utcnow()
    await session.flush()
    return version


async def get_version(
    session: AsyncSession, workflow: Workflow, number: int | None = None
) -> WorkflowVersion:
    number = number if number is not None else workflow.version
    version = (
        await session.execute(
            select(WorkflowVersion).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == number
            )
        )
    ).scalar_one_or_none()
    if version is None:
        if number == 0:
            raise ValidationFailed("The workflow has no saved version yet; save a definition first.")
        raise NotFound(f"Version {number} of workflow {workflow.id} not found")
    return version


def workflows_query(org_id: uuid.UUID, *, search: str | None, tag: str | None, active: bool | None) -> Any:
    stmt = scoped(Workflow, org_id)
    if search:
        stmt = stmt.where(func.lower(Workflow.name).contains(search.lower(), autoescape=True))
    if active is not None:
        stmt = stmt.where(Workflow.is_active.is_(active))
    if tag:
        # JSON containment differs per backend; tags are few, so match the serialized list.
        quoted = json.dumps(tag.lower(), ensure_ascii=False)
        stmt = stmt.where(func.lower(cast(Workflow.tags, Text)).contains(quoted, autoescape=True))
    return stmt


async def last_runs(session: AsyncSession, workflow_ids: list[uuid.UUID]) -> dict[uuid.UUID, Execution]:
    if not workflow_ids:
        return {}
    latest = (
        select(Execution.workflow_id, func.max(Execution.created_at).label("at"))
        .where(Execution.workflow_id.in_(workflow_ids))
        .group_by(Execution.workflow_id)
        .subquery()
    )
    rows = await session.execute(
        select(Execution).join(
            latest, (Execution.workflow_id == latest.c.workflow_id) & (Execution.created_at == latest.c.at)
        )
    )
    return {e.workflow_id: e for e in rows.scalars()}


def editor_pins(definition: dict[str, Any], *, start: str | None = None) -> dict[str, Any]:
    """The pinned outputs saved in a definition, for a run started from the editor (a manual run
    or a test call). A test call's own trigger node is never pinned: the call is its input."""
    pins = definition.get("pinned") or {}
    return {node_id: outputs for node_id, outputs in pins.items() if node_id != start}


def check_run_options(
    definition: dict[str, Any],
    registry: NodeRegistry,
    *,
    pinned: dict[str, Any] | None,
    start: str | None,
    reuse: bool,
) -> None:
    """422 for pins or a start node a run of `definition` could not use: accepted, the run
    would crash at its start on every claim instead of saying why."""
    if not pinned and not start:
        return
    graph = compile_graph(definition, registry.find)
    try:
        pinned_outputs(graph, pinned)
    except (KeyError, ValueError, ItemsError) as exc:
        reason = str(exc.args[0] if isinstance(exc, KeyError) else exc)
        raise ValidationFailed(
            f"pinned: {reason}", errors=[{"loc": ["body", "pinned"], "msg": reason, "type": "value_error"}]
        ) from None
    if start:
        try:
            # Reusing an earlier run's outputs, any node may be the first to run again.
            graph.resolve(start) if reuse else start_nodes(graph, start)
        except (KeyError, ValueError) as exc:
            reason = str(exc.args[0])
            raise ValidationFailed(
                f"start_node: {reason}",
                errors=[{"loc": ["body", "start_node"], "msg": reason, "type": "value_error"}],
            ) from None


async def start_run(
    session: AsyncSession,
    workflow: Workflow,
    *,
    version: int | None,
    input_items: list[dict[str, Any]],
    pinned: dict[str, Any] | None,
    start: str | None,
    user_id: uuid.UUID | None,
    trigger_type: TriggerType = TriggerType.manual,
    parent_execution_id: uuid.UUID | None = None,
    draft: dict[str, Any] | None = None,
    reuse: Execution | None = None,
    registry: NodeRegistry | None = None,
) -> Execution:
    """Accept a run of `version` (default: current); `draft` runs an unsaved definition instead
    (the version stays as it is: nothing is published). Pinned outputs saved in the definition
    apply to manual runs and drafts only (the editor's runs), under `pinned` given here; a
    production run (a trigger's, which passes neither) never uses them. `reuse` (with `start`)
    takes the outputs that earlier execution's nodes before `start` made, so only `start` and
    what follows it run again."""
    chosen = await get_version(session, workflow, version)
    definition = draft if draft is not None else chosen.definition
    options: dict[str, Any] = {}
    if draft is not None:
        options["definition"] = draft
    if trigger_type == TriggerType.manual or draft is not None:
        pinned = {**editor_pins(definition, start=start if draft is not None else None), **(pinned or {})}
    if registry is not None:
        await asyncio.to_thread(
            check_run_options, definition, registry, pinned=pinned, start=start, reuse=reuse is not None
        )
    if pinned:
        options["pinned"] = pinned
    if reuse is not None and start:
        if registry is None:
            raise ValueError("reusing an execution's outputs needs the node registry")
        reused = await executions.rerun_options(session, reuse, definition, registry, start)
        known = {n.get("id") for n in definition.get("nodes") or []}
        options["finished"] = {k: v for k, v in reused["finished"].items() if k in known}
    elif start:
        options["start"] = start
    return await executions.create_execution(
        session,
        org_id=workflow.org_id,
        workflow_id=workflow.id,
        version_id=chosen.id,
        trigger_type=trigger_type,
        triggered_by=user_id,
        input_items=input_items,
        options=options,
        parent_execution_id=parent_execution_id,
    )


async def retry_execution(
    session: AsyncSession, failed: Execution, *, user_id: uuid.UUID | None, registry: NodeRegistry
) -> Execution:
    """A new execution of the same version that starts at the failed node, reusing earlier outputs."""
    if failed.status not in (ExecutionStatus.failed, ExecutionStatus.cancelled):
        raise Conflict(
            f"Only a failed or cancelled execution can be retried; this one is {failed.status.value}."
        )
    return await rerun_execution(
        session, failed, from_node=failed.error_node, user_id=user_id, registry=registry, retry=True
    )


async def rerun_execution(
    session: AsyncSession,
    earlier: Execution,
    *,
    from_node: str | None,
    user_id: uuid.UUID | None,
    registry: NodeRegistry,
    retry: bool = False,
) -> Execution:
    """Run the same version again from `from_node`, reusing the outputs of the nodes before it."""
    if not retry and not earlier.status.finished:
        raise Conflict(f"The execution has not ended yet ({earlier.status.value}); wait or cancel it first.")
    version = await session.get(WorkflowVersion, earlier.version_id)
    assert version is not None
    known = {n.get("id") for n in version.definition.get("nodes", [])} | {
        n.get("name") for n in version.definition.get("nodes", [])
    }
    if from_node is not None and from_node not in known:
        raise ValidationFailed(
            f"Node {from_node!r} is not in this execution's workflow version.",
            errors=[{"loc": ["body", "node"], "msg": "unknown node", "type": "not_found"}],
        )
    options = await executions.rerun_options(session, earlier, version.definition, registry, from_node)
    return await executions.create_execution(
        session,
        org_id=earlier.org_id,
        workflow_id=earlier.workflow_id,
        version_id=earlier.version_id,
        trigger_type=earlier.trigger_type,
        triggered_by=user_id,
        input_items=earlier.input_items,
        options=options,
        retry_of=earlier.id if retry else None,
    )


_WORKFLOW_NAME = select(Workflow.name).where(Workflow.id == bindparam("workflow_id"))


def workflow_name(connection: Connection, workflow_id: uuid.UUID) -> str | None:
    """A workflow's name; None if it is gone. Plain statement, for the engine's batches."""
    name: str | None = connection.execute(_WORKFLOW_NAME, {"workflow_id": workflow_id}).scalar_one_or_none()
    return name


_WORKFLOW_OF_RUN = select(Workflow.name, Workflow.error_workflow_id).where(
    Workflow.id == bindparam("workflow_id")
)
_CURRENT_VERSION = (
    select(WorkflowVersion.id)
    .join(
        Workflow, (Workflow.id == WorkflowVersion.workflow_id) & (Workflow.version == WorkflowVersion.version)
    )
    .where(Workflow.id == bindparam("workflow_id"), Workflow.org_id == bindparam("org_id"))
)
_ACTIVE_VERSION = _CURRENT_VERSION.where(Workflow.is_active.is_(True))


def current_version_id(
    connection: Connection, org_id: uuid.UUID, workflow_id: uuid.UUID, *, active: bool = False
) -> uuid.UUID | None:
    """The current version of a workflow of this organization (only if it is active, when
    `active`); None if it has none. Plain statement, for writes inside the engine's batches."""
    statement = _ACTIVE_VERSION if active else _CURRENT_VERSION
    found: uuid.UUID | None = connection.execute(
        statement, {"workflow_id": workflow_id, "org_id": org_id}
    ).scalar_one_or_none()
    return found


def start_error_workflow(connection: Connection, failed: executions.Ended) -> uuid.UUID | None:
    """Accept a run of the failed workflow's error workflow with what went wrong; its id, or
    None if it has none. Plain statements, for the transaction that records the failure."""
    execution = failed.execution
    row = connection.execute(_WORKFLOW_OF_RUN, {"workflow_id": execution.workflow_id}).first()
    if row is None or row.error_workflow_id is None or row.error_workflow_id == execution.workflow_id:
        return None
    version_id = current_version_id(connection, execution.org_id, row.error_workflow_id)
    if version_id is None:
        return None
    item = {
        "execution": {
            "id": str(execution.id),
            "error": failed.error,
            "error_node": failed.error_node,
            "mode": execution.trigger_type.value,
        },
        "workflow": {"id": str(execution.workflow_id), "name": row.name},
    }
    return executions.insert_pending(
        connection,
        org_id=execution.org_id,
        workflow_id=row.error_workflow_id,
        version_id=version_id,
        trigger_type=TriggerType.event,
        input_items=[item],
        options={},
        cause=failed.cause,
    )


# ---------------------------------------------------------------- credentials


def _credential_context(credential: Credential) -> str:
    return f"credential:{credential.id}"


async def create_credential(
    session: AsyncSession,
    vault: Vault,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    name: str,
    type: str,
    data: dict[str, Any],
) -> Credential:
    if (await session.execute(scoped(Credential, org_id).where(Credential.name == name))).first():
        raise Conflict(f"A credential named {name!r} already exists.")
    credential = Credential(
        id=uuid.uuid4(), org_id=org_id, created_by=user_id, name=name, type=type, data="", fields=sorted(data)
    )
    credential.data = vault.seal(json.dumps(data), context=_credential_context(credential))
    session.add(credential)
    await session.flush()
    return credential


async def update_credential(
    session: AsyncSession,
    vault: Vault,
    credential: Credential,
    *,
    name: str | None,
    data: dict[str, Any] | None,
) -> Credential:
    if name is not None and name != credential.name:
        clash = await session.execute(scoped(Credential, credential.org_id).where(Credential.name == name))
        if clash.first():
            raise Conflict(f"A credential named {name!r} already exists.")
        credential.name = name
    if data is not None:
        credential.data = vault.seal(json.dumps(data), context=_credential_context(credential))
        credential.fields = sorted(data)
    credential.updated_at = utcnow()
    await session.flush()
    return credential


def open_credential(vault: Vault, credential: Credential) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(vault.open(credential.data, context=_credential_context(credential)))
    return values


def _sealed_with_another_key(vault: Vault) -> Any:
    return ~Credential.data.startswith(f"v1.{vault.key_id}.", autoescape=True)


async def credentials_by_key(session: AsyncSession) -> dict[str, int]:
    """How many credentials (of every organization) are sealed with each key id."""
    rows = (await session.execute(select(Credential.data))).scalars()
    counts: dict[str, int] = {}
    for data in rows:
        kid = sealed_key_id(data)
        counts[kid] = counts.get(kid, 0) + 1
    return counts


async def count_to_reseal(session: AsyncSession, vault: Vault) -> int:
    """Credentials of every organization not sealed with the vault's current key."""
    stmt = select(func.count()).select_from(Credential).where(_sealed_with_another_key(vault))
    return int((await session.execute(stmt)).scalar_one())


@dataclass
class ResealBatch:
    last_id: uuid.UUID | None = None
    resealed: int = 0
    unreadable: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)
    """(id, name, why) of credentials no configured key opens; they are left as they are."""


async def reseal_all(
    db: Database,
    vault: Vault,
    *,
    batch: int = 100,
    on_progress: Callable[[int, int], None] | None = None,
) -> ResealBatch:
    """Reseal every credential not sealed with the current key, one transaction per `batch`
    (this one owns its transactions, like a backup). `on_progress(done, total)` after each
    batch. Interrupted, it loses at most the batch in flight; running it again continues."""
    async with db.session() as session:
        total = await count_to_reseal(session, vault)
    result = ResealBatch()
    while True:
        async with db.session() as session:
            step = await reseal_credentials(session, vault, after=result.last_id, limit=batch)
            await session.commit()
        if step.last_id is None:
            return result
        result.last_id = step.last_id
        result.resealed += step.resealed
        result.unreadable += step.unreadable
        if on_progress:
            on_progress(result.resealed + len(result.unreadable), max(total, result.resealed))


async def reseal_credentials(
    session: AsyncSession, vault: Vault, *, after: uuid.UUID | None, limit: int
) -> ResealBatch:
    """Seal again with the current key up to `limit` credentials (by id, after `after`) that
    are sealed with another key. Each row is written only if it still holds what was read, so a
    credential changed meanwhile keeps its new value. The caller commits the batch; running
    again from the start picks up whatever an interruption left."""
    stmt = select(Credential).where(_sealed_with_another_key(vault)).order_by(Credential.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Credential.id > after)
    batch = ResealBatch()
    for credential in (await session.execute(stmt)).scalars().all():
        batch.last_id = credential.id
        context = _credential_context(credential)
        try:
            plaintext = vault.open(credential.data, context=context)
        except VaultError as exc:
            batch.unreadable.append((credential.id, credential.name, str(exc)))
            continue
        written = await session.execute(
            update(Credential)
            .where(Credential.id == credential.id, Credential.data == credential.data)
            .values(data=vault.seal(plaintext, context=context))
            .execution_options(synchronize_session=False)
        )
        batch.resealed += int(getattr(written, "rowcount", 0) or 0)
    session.expunge_all()
    return batch


# ---------------------------------------------------------------- variables


def parse_variable(type_: VariableType, value: str) -> Any:
    """The typed value of a variable, or 422 saying why the text does not fit its type."""
    try:
        if type_ == VariableType.number:
            number = float(value)
            return (
                int(number)
                if number.is_integer() and "." not in value and "e" not in value.lower()
                else number
            )
        if type_ == VariableType.boolean:
            lowered = value.strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError("expected true or false")
            return lowered == "true"
        if type_ == VariableType.json:
            return json.loads(value)
    except ValueError as exc:
        raise _unfit(type_, str(exc)) from exc
    return value


def check_variable(type_: VariableType, value: str) -> None:
    """422 unless the value is one every run can use: a finite number (nan, inf and 1e400 are
    no JSON number), JSON by the request bodies' rules (no NaN, nesting the databases store;
    a deep one raised RecursionError, a 500)."""
    if type_ == VariableType.json:
        try:
            parse_json(value.encode())
        except BadRequest as exc:
            raise _unfit(type_, exc.errors[0]["msg"] if exc.errors else exc.detail) from None
        return
    parsed = parse_variable(type_, value)
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise _unfit(type_, f"{value[:20]!r} is not a finite number")


def _unfit(type_: VariableType, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"The value does not fit type {type_.value}: {reason}",
        errors=[{"loc": ["body", "value"], "msg": reason, "type": "value_error"}],
    )


def variable_values(rows: Any) -> dict[str, Any]:
    """`vars` of a run: typed values of the organization's variables and the workflow's own,
    which win. `rows` have name, type, value and workflow_id."""
    ordered = sorted(rows, key=lambda v: v.workflow_id is not None)
    return {v.name: parse_variable(v.type, v.value) for v in ordered}


async def variables_for(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID | None
) -> dict[str, Any]:
    """What `vars` holds in a run of this workflow (the organization's alone, without one)."""
    stmt = scoped(Variable, org_id).where(
        Variable.workflow_id.is_(None) | (Variable.workflow_id == workflow_id)
        if workflow_id
        else Variable.workflow_id.is_(None)
    )
    return variable_values((await session.execute(stmt)).scalars())


async def save_variable(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    name: str,
    value: str,
    type_: VariableType,
    workflow_id: uuid.UUID | None,
    existing: Variable | None = None,
) -> Variable:
    check_variable(type_, value)
    if workflow_id is not None:
        await get_scoped(session, Workflow, workflow_id, org_id)
    clash = scoped(Variable, org_id).where(
        Variable.name == name,
        Variable.workflow_id == workflow_id if workflow_id else Variable.workflow_id.is_(None),
    )
    if existing is not None:
        clash = clash.where(Variable.id != existing.id)
    if (await session.execute(clash)).first():
        raise Conflict(f"A variable named {name!r} already exists in this scope.")
    variable = existing or Variable(org_id=org_id, created_by=user_id)
    variable.name, variable.value, variable.type = name, value, type_
    variable.workflow_id = workflow_id
    variable.scope = VariableScope.workflow if workflow_id else VariableScope.global_
    if existing is None:
        session.add(variable)
    await session.flush()
    return variable


# ---------------------------------------------------------------- node registry and templates


PALETTE_ORDER = ("Triggers", "Core", "Flow", "Transform", "Data", "Chat", "AI")
"""The editor's palette shows these categories first, in this order; others follow by name."""


def _palette_rank(category: str) -> tuple[int, str]:
    rank = PALETTE_ORDER.index(category) if category in PALETTE_ORDER else len(PALETTE_ORDER)
    return rank, category


async def node_types(session: AsyncSession, registry: NodeRegistry) -> list[dict[str, Any]]:
    """The node types this instance offers, read from the `nodes` and `node_categories` tables
    (filled from the registry at start), in palette order: category order, then display name.
    A row's name, description, category, icon, version and parameter schema come from the
    table; its inputs, outputs and credential slots from the class that runs it. A type this
    process has no class for (a plugin installed on another server only) is left out."""
    rows = await session.execute(
        select(NodeTypeRecord, NodeCategoryRecord.display_order)
        .join(NodeCategoryRecord, NodeCategoryRecord.name == NodeTypeRecord.category, isouter=True)
        .order_by(NodeCategoryRecord.display_order, NodeTypeRecord.category, NodeTypeRecord.name)
    )
    out = []
    for record, _ in rows:
        cls = registry.find(record.type, record.version)
        if cls is None:
            continue
        out.append(
            {
                **cls.describe(),
                "display_name": record.name,
                "description": record.description or "",
                "category": record.category,
                "icon": record.icon or "box",
                "version": record.version,
                "parameters_schema": record.schema,
            }
        )
    return out


async def sync_node_tables(session: AsyncSession, registry: NodeRegistry) -> None:
    """Make the `nodes` and `node_categories` tables mirror the registry."""
    types = {cls.type: cls for cls in registry.all()}
    existing = {n.type: n for n in (await session.execute(select(NodeTypeRecord))).scalars()}
    for type_name, cls in types.items():
        record = existing.get(type_name) or NodeTypeRecord(type=type_name)
        record.name = cls.display_name
        record.description = cls.description
        record.category = cls.category
        record.icon = cls.icon
        record.version = cls.version
        record.is_core = type_name.startswith(("core.", "data."))
        record.is_ai = type_name.startswith(("ai.", "kb."))  # kb.*: embeddings
        record.schema = cls.parameters_schema
        if type_name not in existing:
            session.add(record)
    gone = set(existing) - set(types)
    if gone:
        await session.execute(delete(NodeTypeRecord).where(NodeTypeRecord.type.in_(gone)))
    categories = sorted({cls.category for cls in types.values()}, key=_palette_rank)
    known = {c.name: c for c in (await session.execute(select(NodeCategoryRecord))).scalars()}
    for order, name in enumerate(categories):
        category = known.get(name) or NodeCategoryRecord(name=name)
        category.display_order = order
        if name not in known:
            session.add(category)
    await session.flush()


async def sync_templates(session: AsyncSession, templates: list[dict[str, Any]]) -> None:
    existing = {t.name: t for t in (await session.execute(select(WorkflowTemplate))).scalars()}
    for data in templates:
        record = existing.get(data["name"]) or WorkflowTemplate(name=data["name"])
        record.description = data.get("description")
        record.category = data.get("category")
        record.definition = data["definition"]
        record.tags = data.get("tags", [])
        record.is_featured = data.get("is_featured", False)
        if data["name"] not in existing:
            session.add(record)
    await session.flush()


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> WorkflowTemplate:
    template = await session.get(WorkflowTemplate, template_id)
    if template is None:
        raise NotFound(f"Template {template_id} not found")
    return template
