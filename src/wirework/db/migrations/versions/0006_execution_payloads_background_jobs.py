"""execution payloads stored once, background jobs (retention), indexes per workflow and status, per status and age

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import wirework.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "background_jobs",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("name", sa.String(length=100), nullable=False, comment="Which job, e.g. retention."),
        sa.Column("lease_owner", sa.String(length=100), nullable=True, comment="Process running it now."),
        sa.Column(
            "lease_expires_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="Its lease ends; renewed while it runs.",
        ),
        sa.Column(
            "next_run_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When a process should run it next.",
        ),
        sa.Column(
            "last_finished_at",
            wirework.db.types.UTCDateTime(timezone=True),
            nullable=True,
            comment="When its last run ended.",
        ),
        sa.Column(
            "state",
            wirework.db.types.JSONType,
            nullable=False,
            comment="What its last run found and did (counts, errors).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_jobs")),
        sa.UniqueConstraint("name", name=op.f("uq_background_jobs_name")),
        comment="Cluster-wide background jobs (execution retention): the process holding one "
        "(a lease, like a schedule's firing), when it runs next, and what it keeps between runs.",
        info={"category": "Workflows", "seeds": "-"},
    )
    op.create_table(
        "execution_payloads",
        sa.Column("id", sa.Uuid(), nullable=False, comment="Primary key (UUID v7, time-ordered)."),
        sa.Column("execution_id", sa.Uuid(), nullable=False, comment="The execution whose item it is."),
        sa.Column(
            "digest", sa.String(length=64), nullable=False, comment="SHA-256 (hex) of the item's JSON text."
        ),
        sa.Column("size", sa.Integer(), nullable=False, comment="Bytes of the JSON text."),
        sa.Column(
            "data",
            sa.Text().with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
            comment="The item as JSON text.",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_execution_payloads_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_payloads")),
        comment="Large items of an execution, each stored once: its input, node inputs and node "
        "outputs refer to them by digest instead of holding a copy each.",
        info={"category": "Workflows", "seeds": "W execution_logs (input/output data)"},
    )
    with op.batch_alter_table("execution_payloads", schema=None) as batch_op:
        batch_op.create_index(
            "uq_execution_payloads_execution_digest", ["execution_id", "digest"], unique=True
        )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_executions_workflow_status_id", ["workflow_id", "status", "id"], unique=False
        )
        batch_op.create_index("ix_executions_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_status_created")
        batch_op.drop_index("ix_executions_workflow_status_id")
    # Dropping a table drops its indexes (MySQL refuses to drop an FK's index first).
    op.drop_table("execution_payloads")
    op.drop_table("background_jobs")
