"""causal chains, claim failures, test listeners, rate limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:39:16.902004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wirework.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_OLD_EVENT_TRIGGERS_COMMENT = (
    "Subscriptions of active workflows to internal events (`core.event` nodes): "
    "`workflow.completed`, `workflow.failed`, `message.received`, … with an optional filter."
)
_EVENT_TRIGGERS_COMMENT = (
    "Subscriptions of active workflows to internal events (`core.event` nodes): one of "
    "the names Wirework emits (`triggers.event_names`) or a wildcard, with an optional filter."
)


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column(
            "key", sa.String(length=255), nullable=False, comment="What is counted, e.g. login-ip:1.2.3.4."
        ),
        sa.Column(
            "window_start",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="Start of the current window (UTC).",
        ),
        sa.Column("hits", sa.Integer(), nullable=False, comment="Events counted in this window."),
        sa.Column(
            "blocked_until",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="Back-off: refused until then (UTC).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limits")),
        sa.UniqueConstraint("key", name=op.f("uq_rate_limits_key")),
        comment="Fixed-window counters shared by every server process: failed logins per address and per account, webhook calls per client.",
        info={"category": "Accounts and tenancy", "seeds": "F rate_limits"},
    )
    op.create_table(
        "webhook_test_listeners",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("org_id", sa.Uuid(), nullable=False, comment="Owning organization (tenant)."),
        sa.Column("workflow_id", sa.Uuid(), nullable=False, comment="Workflow whose draft runs."),
        sa.Column("token", sa.String(length=64), nullable=False, comment="Path of the test URL (random)."),
        sa.Column(
            "method",
            sa.Enum(
                "GET",
                "POST",
                "PUT",
                "PATCH",
                "DELETE",
                name="webhook_method",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
            comment="HTTP method it accepts.",
        ),
        sa.Column("node_id", sa.String(length=64), nullable=False, comment="The webhook node of the draft."),
        sa.Column(
            "definition", wirework.db.types.JSONType, nullable=False, comment="The draft the call runs."
        ),
        sa.Column(
            "expires_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="After this the URL answers 404.",
        ),
        sa.Column(
            "received_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When its one call arrived.",
        ),
        sa.Column("execution_id", sa.Uuid(), nullable=True, comment="The run the call started."),
        sa.Column(
            "created_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row was created (UTC).",
        ),
        sa.Column(
            "updated_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="When the row last changed (UTC).",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_test_listeners_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_webhook_test_listeners_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_test_listeners")),
        sa.UniqueConstraint("token", name=op.f("uq_webhook_test_listeners_token")),
        comment="An editor waiting for one test call: `/webhook-test/{token}` runs the stored draft once. The token is unguessable and unique, so only the owner's draft runs, on any server.",
        info={"category": "Workflows", "seeds": "W webhooks"},
    )
    with op.batch_alter_table("webhook_test_listeners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_test_listeners_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_test_listeners_workflow_id"), ["workflow_id"], unique=False
        )

    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "root_execution_id",
                sa.Uuid(),
                nullable=True,
                comment="First run of the causal chain (sub-workflows, events) that led here; empty = this one.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "chain_depth",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="Links between the root run and this one (0 for a root).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "spawned_runs",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="On a root run: how many runs its chain has started so far.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "claim_failures",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="Times a process crashed while claiming or starting it.",
            )
        )

    # The comment named events nothing emits (SQLite keeps no comments).
    if op.get_bind().dialect.name != "sqlite":
        op.create_table_comment(
            "event_triggers", _EVENT_TRIGGERS_COMMENT, existing_comment=_OLD_EVENT_TRIGGERS_COMMENT
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.create_table_comment(
            "event_triggers", _OLD_EVENT_TRIGGERS_COMMENT, existing_comment=_EVENT_TRIGGERS_COMMENT
        )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("claim_failures")
        batch_op.drop_column("spawned_runs")
        batch_op.drop_column("chain_depth")
        batch_op.drop_column("root_execution_id")

    # Dropping the table drops its indexes (MySQL refuses to drop one a foreign key needs).
    op.drop_table("webhook_test_listeners")
    op.drop_table("rate_limits")
