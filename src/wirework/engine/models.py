"""Tables the engine owns: executions (the queue lives here), node runs, the node registry.

Seeds: W executions/execution_logs/nodes/node_categories, F jobs/steps/flow_jobs/
flow_queue_jobs/executions. State changes go through `engine.executions` only.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType, utcnow

CATEGORY = "Workflows"


class ExecutionStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    waiting = "waiting"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (ExecutionStatus.completed, ExecutionStatus.failed, ExecutionStatus.cancelled)


class TriggerType(enum.StrEnum):
    manual = "manual"
    scheduled = "scheduled"
    webhook = "webhook"
    event = "event"


class NodeRunStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    skipped = "skipped"
    waiting = "waiting"


class Execution(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "executions"
    __label__ = "Execution"
    __table_args__ = (
        Index("ix_executions_status_lease", "status", "lease_expires_at"),
        Index("ix_executions_workflow_created", "workflow_id", "created_at"),
        # Keyset pages of the executions list, newest first, per filter the API offers.
        Index("ix_executions_org_id_id", "org_id", "id"),
        Index("ix_executions_org_status_id", "org_id", "status", "id"),
        Index("ix_executions_org_workflow_id", "org_id", "workflow_id", "id"),
        # A workflow's runs of one status, newest first (the list filtered by both; retention).
        Index("ix_executions_workflow_status_id", "workflow_id", "status", "id"),
        # Retention by age: finished runs of a status accepted before a cutoff.
        Index("ix_executions_status_created", "status", "created_at"),
        # Deleting a run clears these references on other rows: without an index, a full scan each.
        Index("ix_executions_parent_execution_id", "parent_execution_id"),
        Index("ix_executions_retry_of", "retry_of"),
        Index("uq_executions_workflow_idempotency_key", "workflow_id", "idempotency_key", unique=True),
        {
            "comment": "One run of a workflow version. Accepting work is inserting a row here; a "
            "process claims it with a lease it renews, so a dead worker's run is picked up again.",
            "info": {
                "category": CATEGORY,
                "seeds": "W executions, F jobs, F flow_jobs, F flow_queue_jobs, F executions",
            },
        },
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), comment="The workflow run."
    )
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_versions.id", ondelete="CASCADE"), comment="The exact definition run."
    )
    status: Mapped[ExecutionStatus] = mapped_column(
        StrEnumType(ExecutionStatus, "execution_status"), default=ExecutionStatus.pending, comment="State."
    )
    trigger_type: Mapped[TriggerType] = mapped_column(
        StrEnumType(TriggerType, "trigger_type"), default=TriggerType.manual, comment="What started it."
    )
    triggered_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who started it, for manual runs."
    )
    input_items: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONType, default=list, comment="Items the trigger node emits."
    )
    options: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="Run options: pinned data, start node, wait state."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was accepted.")
    started_at: Mapped[datetime | None] = mapped_column(comment="When a process first ran it.")
    finished_at: Mapped[datetime | None] = mapped_column(comment="When it ended.")
    error: Mapped[str | None] = mapped_column(Text, comment="Why it failed.")
    error_node: Mapped[str | None] = mapped_column(String(100), comment="Node id it failed on.")
    resume_at: Mapped[datetime | None] = mapped_column(comment="When a waiting execution goes on.")
    lease_owner: Mapped[str | None] = mapped_column(String(100), comment="Process running it.")
    lease_expires_at: Mapped[datetime | None] = mapped_column(comment="Lease end; renewed by heartbeat.")
    cancel_requested: Mapped[bool] = mapped_column(default=False, comment="Stop at the next node.")
    parent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), comment="The run that called it as a sub-workflow."
    )
    retry_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), comment="The failed run this one retries."
    )
    root_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        comment="First run of the causal chain (sub-workflows, events) that led here; empty = this one.",
    )
    chain_depth: Mapped[int] = mapped_column(
        Integer, default=0, comment="Links between the root run and this one (0 for a root)."
    )
    spawned_runs: Mapped[int] = mapped_column(
        Integer, default=0, comment="On a root run: how many runs its chain has started so far."
    )
    claim_failures: Mapped[int] = mapped_column(
        Integer, default=0, comment="Times a process crashed while claiming or starting it."
    )
    idempotency_key: Mapped[str | None] = mapped_column(
        String(300),
        comment="A webhook caller's Idempotency-Key as '<webhook node id>:<SHA-256 of the key>': "
        "a repeated call with it gets this run instead of a new one.",
    )


class ExecutionLog(IdMixin, Base):
    __tablename__ = "execution_logs"
    __label__ = "Node run"
    __table_args__ = (
        Index("ix_execution_logs_execution_node", "execution_id", "node_id"),
        {
            "comment": "One node run (one attempt) of an execution: status, timing, input and "
            "output items, error. Committed before the node's successors start.",
            "info": {"category": CATEGORY, "seeds": "W execution_logs, F steps"},
        },
    )

    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), comment="The execution."
    )
    node_id: Mapped[str] = mapped_column(String(100), comment="Node id in the definition.")
    node_name: Mapped[str] = mapped_column(String(200), comment="Node name at the time.")
    attempt: Mapped[int] = mapped_column(Integer, default=1, comment="1 for the first try; 0 = pinned.")
    status: Mapped[NodeRunStatus] = mapped_column(
        StrEnumType(NodeRunStatus, "node_run_status"), comment="How the attempt ended."
    )
    started_at: Mapped[datetime] = mapped_column(comment="Start (UTC).")
    finished_at: Mapped[datetime | None] = mapped_column(comment="End (UTC).")
    input_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, comment="Input items, trimmed.")
    output_data: Mapped[dict[str, Any] | None] = mapped_column(
        JSONType, comment="Output items by output name; what a resumed run starts from."
    )
    item_count: Mapped[int] = mapped_column(Integer, default=0, comment="Items on all outputs.")
    error: Mapped[str | None] = mapped_column(Text, comment="What went wrong.")
    superseded: Mapped[bool] = mapped_column(default=False, comment="Voided by a later loop pass.")


LongText = Text().with_variant(mysql.LONGTEXT(), "mysql")
"""Text without MySQL's 64 KB limit of TEXT."""


class ExecutionPayload(IdMixin, Base):
    __tablename__ = "execution_payloads"
    __label__ = "Stored item"
    __table_args__ = (
        Index("uq_execution_payloads_execution_digest", "execution_id", "digest", unique=True),
        {
            "comment": "Large items of an execution, each stored once: its input, node inputs and "
            "node outputs refer to them by digest instead of holding a copy each.",
            "info": {"category": CATEGORY, "seeds": "W execution_logs (input/output data)"},
        },
    )

    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("executions.id", ondelete="CASCADE"), comment="The execution whose item it is."
    )
    digest: Mapped[str] = mapped_column(String(64), comment="SHA-256 (hex) of the item's JSON text.")
    size: Mapped[int] = mapped_column(Integer, comment="Bytes of the JSON text.")
    data: Mapped[str] = mapped_column(LongText, comment="The item as JSON text.")


class BackgroundJob(IdMixin, Base):
    __tablename__ = "background_jobs"
    __label__ = "Background job"
    __table_args__ = {
        "comment": "Cluster-wide background jobs (execution retention): the process holding one "
        "(a lease, like a schedule's firing), when it runs next, and what it keeps between runs.",
        "info": {"category": CATEGORY, "seeds": "-"},
    }

    name: Mapped[str] = mapped_column(String(100), unique=True, comment="Which job, e.g. retention.")
    lease_owner: Mapped[str | None] = mapped_column(String(100), comment="Process running it now.")
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        comment="Its lease ends; renewed while it runs."
    )
    next_run_at: Mapped[datetime | None] = mapped_column(comment="When a process should run it next.")
    last_finished_at: Mapped[datetime | None] = mapped_column(comment="When its last run ended.")
    state: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="What its last run found and did (counts, errors)."
    )


class NodeTypeRecord(IdMixin, TimestampMixin, Base):
    __tablename__ = "nodes"
    __table_args__ = {
        "comment": "The node types this instance offers, filled from the node registry at start.",
        "info": {"category": CATEGORY, "seeds": "W nodes"},
    }

    type: Mapped[str] = mapped_column(String(100), unique=True, comment="Type name, e.g. core.if.")
    name: Mapped[str] = mapped_column(String(200), comment="Display name.")
    description: Mapped[str | None] = mapped_column(Text, comment="What it does.")
    category: Mapped[str] = mapped_column(String(100), comment="Palette group.")
    icon: Mapped[str | None] = mapped_column(String(100), comment="Icon name.")
    version: Mapped[int] = mapped_column(Integer, default=1, comment="Type version.")
    is_core: Mapped[bool] = mapped_column(default=False, comment="Ships with Wirework.")
    is_ai: Mapped[bool] = mapped_column(default=False, comment="Uses an AI model.")
    schema: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, comment="Parameter JSON schema.")


class NodeCategoryRecord(IdMixin, Base):
    __tablename__ = "node_categories"
    __table_args__ = {
        "comment": "Groups of node types in the editor's palette.",
        "info": {"category": CATEGORY, "seeds": "W node_categories"},
    }

    name: Mapped[str] = mapped_column(String(100), unique=True, comment="Category name.")
    description: Mapped[str | None] = mapped_column(Text, comment="What is in it.")
    icon: Mapped[str | None] = mapped_column(String(100), comment="Icon name.")
    color: Mapped[str | None] = mapped_column(String(7), comment="#rrggbb.")
    display_order: Mapped[int] = mapped_column(Integer, default=0, comment="Palette order.")
