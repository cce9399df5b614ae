"""Tables of workflows (seeds: W workflows/workflow_versions/credentials/variables/
workflow_templates, F workflow/workflow_script/flows/connections/authentications)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType, utcnow

CATEGORY = "Workflows"


class VariableType(enum.StrEnum):
    string = "string"
    number = "number"
    boolean = "boolean"
    json = "json"


class VariableScope(enum.StrEnum):
    global_ = "global"
    workflow = "workflow"


class Workflow(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "workflows"
    __label__ = "Workflow"
    __table_args__ = {
        "comment": "A workflow's home: name, tags, active flag and its current version. "
        "Serves Flowbot's workflow and flows.",
        "info": {"category": CATEGORY, "seeds": "W workflows, F workflow, F flows"},
    }

    name: Mapped[str] = mapped_column(String(200), comment="Display name.")
    description: Mapped[str | None] = mapped_column(Text, comment="What it does.")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Author."
    )
    is_active: Mapped[bool] = mapped_column(default=False, comment="Triggers fire only when active.")
    is_public: Mapped[bool] = mapped_column(default=False, comment="Shared as a template to others.")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list, comment="Labels for finding it.")
    version: Mapped[int] = mapped_column(Integer, default=0, comment="Current version number; 0 = none.")
    error_workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"),
        comment="Workflow run with the failure when an execution of this one fails.",
    )


class WorkflowVersion(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "workflow_versions"
    __label__ = "Workflow version"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version"),
        {
            "comment": "Immutable definitions: nodes, edges and settings as JSON, numbered per "
            "workflow. Serves Flowbot's workflow_script, dag, flow_nodes and flow_edges.",
            "info": {
                "category": CATEGORY,
                "seeds": "W workflow_versions, F workflow_script, F dag, F flow_nodes, F flow_edges",
            },
        },
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="Whose version."
    )
    version: Mapped[int] = mapped_column(Integer, comment="1, 2, 3… per workflow.")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, comment="Nodes, edges, settings.")
    notes: Mapped[str | None] = mapped_column(Text, comment="What changed.")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who saved it."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When it was saved (UTC).")


class Credential(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "credentials"
    __label__ = "Credential"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        {
            "comment": "Secrets nodes use (API keys, passwords, OAuth clients), sealed with "
            "AES-256-GCM; never returned by the API. Serves Flowbot's connections and "
            "authentications.",
            "info": {"category": CATEGORY, "seeds": "W credentials, F connections, F authentications"},
        },
    )

    name: Mapped[str] = mapped_column(String(200), comment="Name, unique in the organization.")
    type: Mapped[str] = mapped_column(String(100), index=True, comment="e.g. http_bearer, http_basic.")
    data: Mapped[str] = mapped_column(Text, comment="Sealed JSON of the secret fields.")
    fields: Mapped[list[str]] = mapped_column(JSONType, default=list, comment="Field names (not values).")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who made it."
    )


class Variable(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "variables"
    __label__ = "Variable"
    __table_args__ = {
        "comment": "Values workflows read as `vars.name`: global to the organization or for one workflow.",
        "info": {"category": CATEGORY, "seeds": "W variables"},
    }

    name: Mapped[str] = mapped_column(String(100), index=True, comment="Name used in expressions.")
    value: Mapped[str] = mapped_column(Text, comment="The value, as text.")
    type: Mapped[VariableType] = mapped_column(
        StrEnumType(VariableType, "variable_type"), default=VariableType.string, comment="How to read it."
    )
    scope: Mapped[VariableScope] = mapped_column(
        StrEnumType(VariableScope, "variable_scope"),
        default=VariableScope.global_,
        comment="Where it applies.",
    )
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True, comment="For scope workflow."
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), comment="Who made it."
    )


class WorkflowTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "workflow_templates"
    __label__ = "Template"
    __table_args__ = {
        "comment": "Ready-made workflows to start from; the built-in ones are loaded at start.",
        "info": {"category": CATEGORY, "seeds": "W workflow_templates"},
    }

    name: Mapped[str] = mapped_column(String(200), unique=True, comment="Template name.")
    description: Mapped[str | None] = mapped_column(Text, comment="What it does.")
    category: Mapped[str | None] = mapped_column(String(100), index=True, comment="Gallery group.")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, comment="The workflow definition.")
    is_featured: Mapped[bool] = mapped_column(default=False, comment="Shown first.")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list, comment="Labels.")
