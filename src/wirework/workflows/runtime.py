"""What a running execution gets from the platform: its definition, variables, and the
services nodes use (credentials, the HTTP policy, sub-workflows)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Uuid, bindparam, or_, select, update

from wirework.db.engine import Database
from wirework.db.scoping import get_scoped
from wirework.db.types import utcnow
from wirework.engine import executions, expression_limits
from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.models import Execution, ExecutionStatus, TriggerType
from wirework.engine.nodes import NodeRegistry
from wirework.errors import NotFound
from wirework.nodes import load_builtin_nodes
from wirework.queue.waiting import Completions
from wirework.security.sandbox import DEFAULT_POLICY, SandboxPolicy
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault, vault_from
from wirework.settings import Settings
from wirework.triggers import events
from wirework.workflows import service
from wirework.workflows.models import Credential, Variable, WorkflowVersion

log = structlog.get_logger("wirework.runtime")

VERSION_CACHE_SIZE = 1000


@dataclass
class Platform:
    """Everything executions of this process share."""

    db: Database
    registry: NodeRegistry
    vault: Vault
    owner: str
    ssrf_policy: SsrfPolicy = field(default_factory=SsrfPolicy)
    code_sandbox: SandboxPolicy = DEFAULT_POLICY
    versions: dict[uuid.UUID, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    completions: Completions = field(default_factory=Completions)
    lease: timedelta = timedelta(seconds=30)
    limits: executions.ExecutionLimits = field(default_factory=executions.ExecutionLimits)


@dataclass
class NodeServices:
    """`ctx.services` for the nodes of one execution."""

    platform: Platform
    org_id: uuid.UUID
    execution: Execution
    _credentials: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    @property
    def ssrf_policy(self) -> SsrfPolicy:
        return self.platform.ssrf_policy

    @property
    def code_sandbox(self) -> SandboxPolicy:
        return self.platform.code_sandbox

    async def credential_by_id(self, credential_id: str) -> dict[str, Any]:
        """The decrypted fields of a credential of this organization."""
        try:
            key = uuid.UUID(str(credential_id))
        except ValueError as exc:
            raise NodeError(f"credential {credential_id!r} is not a credential id") from exc
        if key not in self._credentials:
            async with self.platform.db.session() as session:
                try:
                    credential = await get_scoped(session, Credential, key, self.org_id)
                except NotFound as exc:
                    raise NodeError(f"credential {credential_id} not found in this organization") from exc
                self._credentials[key] = service.open_credential(self.platform.vault, credential)
        return self._credentials[key]

    async def credential(self, node: Any, slot: str) -> dict[str, Any]:
        """The credential a node's slot points at (`node.credentials[slot]` holds its id)."""
        credential_id = (getattr(node, "credentials", None) or {}).get(slot)
        if not credential_id:
            raise ParameterError(f"no credential chosen for {slot!r}")
        return await self.credential_by_id(str(credential_id))

    async def run_subworkflow(self, workflow_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run another workflow of this organization to its end; its last node's items. The
        run joins this one's chain, whose limits may refuse it (the node then fails with why)."""
        db = self.platform.db
        try:
            target = uuid.UUID(str(workflow_id))
        except ValueError as exc:
            raise ParameterError(f"workflow {workflow_id} not found in this organization") from exc

        def find(connection: Connection) -> tuple[uuid.UUID | None, str | None]:
            version_id = service.current_version_id(connection, self.org_id, target)
            return version_id, service.workflow_name(connection, target) if version_id else None

        version_id, name = await executions.read(db, find)
        if version_id is None:
            raise ParameterError(f"workflow {workflow_id} not found in this organization")
        child = await executions.accept(
            db,
            org_id=self.org_id,
            workflow_id=target,
            version_id=version_id,
            trigger_type=TriggerType.event,
            input_items=items,
            options={},
            cause=executions.Cause(self.execution, self.platform.limits),
            parent_execution_id=self.execution.id,
        )
        outcome = await executions.run_execution(
            db,
            child,
            owner=self.platform.owner,
            registry=self.platform.registry,
            read_context=context_reader(self.platform),
            lease=self.platform.lease,
            limits=self.platform.limits,
        )
        found = await executions.status_of(db, child)
        if found is None or found[0] != ExecutionStatus.completed:
            status, error = found or (ExecutionStatus.pending, None)
            message = f"sub-workflow {name!r} {status.value}: {error or ''}"
            if status == ExecutionStatus.failed and outcome is None:  # refused by its chain's limits
                raise executions.ChainRefused(message)
            raise NodeError(message)
        return await executions.read(db, lambda connection: executions.last_items(connection, child))


def build_platform(settings: Settings, db: Database) -> Platform:
    """The registry (built-in nodes and `wirework.nodes` plugins), vault and HTTP policy."""
    expression_limits.configure(
        expression_limits.ExpressionLimits(settings.expression_max_steps, settings.expression_max_size)
    )
    registry = load_builtin_nodes(NodeRegistry())
    for problem in registry.load_entry_points():
        log.warning("node_plugin_failed", problem=problem)
    return Platform(
        db=db,
        registry=registry,
        vault=vault_from(settings.vault_keys),
        owner=executions.process_id(),
        ssrf_policy=SsrfPolicy.from_entries(settings.http_allow_hosts.split(",")),
        code_sandbox=SandboxPolicy(settings.code_isolation, private_paths=(str(settings.data_dir),)),
        lease=timedelta(seconds=settings.execution_lease_s),
        limits=executions.ExecutionLimits(
            chain_max_depth=settings.chain_max_depth,
            chain_max_runs=settings.chain_max_runs,
            max_claim_failures=settings.execution_max_claim_failures,
        ),
    )


_VERSION = select(WorkflowVersion.definition, WorkflowVersion.version).where(
    WorkflowVersion.id == bindparam("version_id")
)
_VARIABLES = select(Variable.name, Variable.type, Variable.value, Variable.workflow_id).where(
    Variable.org_id == bindparam("org_id", type_=Uuid),
    or_(Variable.workflow_id.is_(None), Variable.workflow_id == bindparam("workflow_id")),
)


def context_reader(platform: Platform) -> executions.ContextReader:
    """What a run needs (definition, workflow info, variables, services), read with plain
    statements inside the claim's transaction: no session of its own, which on SQLite saves
    most of an execution's cost (aiosqlite's thread hops). Versions are cached per process."""

    def read(connection: Connection, execution: Execution) -> executions.RunContext:
        cached = platform.versions.get(execution.version_id)
        if cached is None:  # versions are immutable, so one read per process is enough
            version = connection.execute(_VERSION, {"version_id": execution.version_id}).one()
            name = service.workflow_name(connection, execution.workflow_id)
            cached = (
                version.definition,
                {"id": str(execution.workflow_id), "name": name, "version": version.version},
            )
            if len(platform.versions) >= VERSION_CACHE_SIZE:
                platform.versions.pop(next(iter(platform.versions)))
            platform.versions[execution.version_id] = cached
        definition, workflow_info = cached
        draft = (execution.options or {}).get("definition")
        if draft is not None:  # a test run of the editor's unsaved draft (webhook-test)
            definition = draft
        rows = connection.execute(
            _VARIABLES, {"org_id": execution.org_id, "workflow_id": execution.workflow_id}
        ).all()
        return executions.RunContext(
            definition=definition,
            workflow=dict(workflow_info),
            vars=service.variable_values(rows),  # the workflow's own win
            services=NodeServices(platform, execution.org_id, execution),
        )

    return read


def on_end(connection: Connection, ended: executions.Ended) -> list[uuid.UUID]:
    """What a run's end starts, in the transaction that records it: the workflows listening
    for workflow.completed/failed, and its error workflow when it failed."""
    started = events.emit_finished(connection, ended)
    if ended.status == ExecutionStatus.failed:
        handler = service.start_error_workflow(connection, ended)
        if handler is not None:
            started.append(handler)
    return started


async def run(platform: Platform, execution_id: uuid.UUID) -> executions.RunOutcome | None:
    """Run one execution in this process (the local executor and workers call this), then
    wake whoever waits for it here."""
    outcome: executions.RunOutcome | None = None
    try:
        outcome = await executions.run_execution(
            platform.db,
            execution_id,
            owner=platform.owner,
            registry=platform.registry,
            read_context=context_reader(platform),
            on_end=on_end,
            lease=platform.lease,
            limits=platform.limits,
        )
        return outcome
    except asyncio.CancelledError:  # shutting down: let another process resume it now
        await hand_back(platform.db, execution_id, platform.owner)
        raise
    finally:
        platform.completions.notify(execution_id, outcome.status if outcome else None)


async def hand_back(db: Database, execution_id: uuid.UUID, owner: str) -> None:
    """End our lease on a running execution at once, instead of letting it expire: another
    process claims it and resumes from its last finished node (and, the run being handed
    back rather than abandoned, does not count it as a crash)."""
    try:
        async with db.session() as session:
            await session.execute(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.lease_owner == owner,
                    Execution.status == ExecutionStatus.running,
                )
                .values(lease_owner=None, lease_expires_at=utcnow())
            )
            await session.commit()
    except Exception:  # the lease still expires on its own
        log.warning("hand_back_failed", execution_id=str(execution_id))
