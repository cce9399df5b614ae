"""executions: keyset list indexes, indexed self-references, webhook idempotency keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "idempotency_key",
                sa.String(length=300),
                nullable=True,
                comment="A webhook caller's Idempotency-Key as '<webhook node id>:<SHA-256 of the key>': "
                "a repeated call with it gets this run instead of a new one.",
            )
        )
        batch_op.create_index("ix_executions_org_id_id", ["org_id", "id"], unique=False)
        batch_op.create_index("ix_executions_org_status_id", ["org_id", "status", "id"], unique=False)
        batch_op.create_index("ix_executions_org_workflow_id", ["org_id", "workflow_id", "id"], unique=False)
        batch_op.create_index("ix_executions_parent_execution_id", ["parent_execution_id"], unique=False)
        batch_op.create_index("ix_executions_retry_of", ["retry_of"], unique=False)
        batch_op.create_index(
            "uq_executions_workflow_idempotency_key", ["workflow_id", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    # MySQL refuses to drop the only index a foreign key can use; before 0005 it had made its
    # own, named after the constraint, so put those back first.
    if op.get_bind().dialect.name == "mysql":
        for name, column in (
            ("fk_executions_parent_execution_id_executions", "parent_execution_id"),
            ("fk_executions_retry_of_executions", "retry_of"),
        ):
            op.execute(f"ALTER TABLE executions ADD INDEX {name} ({column})")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("uq_executions_workflow_idempotency_key")
        batch_op.drop_index("ix_executions_retry_of")
        batch_op.drop_index("ix_executions_parent_execution_id")
        batch_op.drop_index("ix_executions_org_workflow_id")
        batch_op.drop_index("ix_executions_org_status_id")
        batch_op.drop_index("ix_executions_org_id_id")
        batch_op.drop_column("idempotency_key")
