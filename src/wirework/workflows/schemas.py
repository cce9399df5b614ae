"""Request and response bodies of the workflows, executions, credentials, variables, node-types
and templates APIs."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from wirework.engine.models import ExecutionStatus, NodeRunStatus, TriggerType
from wirework.workflows.models import VariableScope, VariableType

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Definition = Annotated[
    dict[str, Any],
    Field(description="Nodes, edges and settings; see the workflow engine section of the docs."),
]
Items = list[dict[str, Any]]


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WorkflowCreate(BaseModel):
    name: Name
    description: Annotated[str, Field(max_length=5000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    definition: Definition | None = None


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # e.g. is_public, which does nothing yet, is refused

    name: Name | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None


class LastRun(BaseModel):
    id: uuid.UUID
    status: ExecutionStatus
    created_at: datetime


class WorkflowOut(ORM):
    id: uuid.UUID
    name: str
    description: str | None
    tags: list[str]
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime
    last_run: LastRun | None = None


class WorkflowDetail(WorkflowOut):
    definition: dict[str, Any] | None = Field(description="The current version's definition.")


class VersionCreate(BaseModel):
    definition: Definition
    notes: Annotated[str, Field(max_length=2000)] | None = None


class VersionOut(ORM):
    id: uuid.UUID
    version: int
    notes: str | None
    created_by: uuid.UUID | None
    created_at: datetime


class VersionDetail(VersionOut):
    definition: dict[str, Any]


class WorkflowExport(BaseModel):
    name: Name
    description: str | None = None
    tags: list[Tag] = []
    definition: Definition


class RunRequest(BaseModel):
    input: Annotated[Items, Field(max_length=10_000)] = Field(
        default_factory=list, description="Items the trigger node emits."
    )
    pinned: dict[str, Any] | None = Field(
        None, description="Node id or name → items to use instead of running it."
    )
    start_node: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="Run from this node instead of the trigger."
    )
    version: Annotated[int, Field(ge=1)] | None = Field(None, description="Default: the current version.")
    definition: Definition | None = Field(
        None,
        description="Run this (unsaved) definition instead of a version, as the editor does: nothing "
        "is saved or published, and the active workflow's triggers keep the current version. The "
        "workflow needs a saved version all the same (executions point at one).",
    )
    reuse_execution: uuid.UUID | None = Field(
        None,
        description="With start_node: reuse the outputs this earlier execution's nodes before "
        "start_node made, and run start_node and what follows it.",
    )
    wait_s: Annotated[float, Field(ge=0, le=60)] = Field(
        0, description="Wait up to this many seconds for the execution to end before answering."
    )


class RerunRequest(BaseModel):
    node: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Node id or name to run from; the nodes before it keep their earlier outputs."
    )


class ExecutionOut(ORM):
    id: uuid.UUID
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    status: ExecutionStatus
    trigger_type: TriggerType
    triggered_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    error_node: str | None
    resume_at: datetime | None
    parent_execution_id: uuid.UUID | None
    retry_of: uuid.UUID | None
    root_execution_id: uuid.UUID | None = Field(
        description="First run of the chain (sub-workflows, events, error workflows) that started "
        "this one; null when this run is the first."
    )
    chain_depth: int = Field(description="Links between the chain's first run and this one (0: the first).")
    is_draft: bool = Field(
        False,
        validation_alias=AliasChoices("is_draft", "options"),
        description="The run used an unsaved definition from the editor (a manual run of a draft "
        "or a test call), not a saved version.",
    )

    @field_validator("is_draft", mode="before")
    @classmethod
    def _draft_from_options(cls, value: Any) -> Any:
        # Read from the execution row's options, where a draft run keeps its definition.
        if value is None or isinstance(value, dict):
            return bool(value and "definition" in value)
        return value


class NodeRunOut(ORM):
    id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    node_name: str
    attempt: int
    status: NodeRunStatus
    started_at: datetime
    finished_at: datetime | None
    input_data: dict[str, Any] | None = Field(
        description="Its first input items (50 at most, 64 KB inline); larger items as references "
        '{"$wirework_item": digest, "bytes": n}: GET /executions/{id}/items/{digest} gives one.'
    )
    output_data: dict[str, Any] | None = Field(
        description="Its output items by output name; items over 16 KB as references (see input_data)."
    )
    item_count: int
    error: str | None
    superseded: bool


class ExecutionDetail(ExecutionOut):
    input_items: Items
    nodes: list[NodeRunOut]


class CredentialCreate(BaseModel):
    name: Name
    type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    data: dict[str, Any] = Field(description="Secret fields. Write-only: never returned.")


class CredentialFieldOut(BaseModel):
    name: str
    label: str
    secret: bool = Field(description="Typed as a password in the form.")
    required: bool
    description: str
    options: list[str] = Field(description="The values it may take, when they are few.")


class CredentialTypeOut(BaseModel):
    type: str
    display_name: str
    description: str
    fields: list[CredentialFieldOut]


class CredentialUpdate(BaseModel):
    name: Name | None = None
    data: dict[str, Any] | None = Field(None, description="Replaces all secret fields.")


class CredentialOut(ORM):
    id: uuid.UUID
    name: str
    type: str
    fields: list[str] = Field(description="Names of the stored fields; their values are never returned.")
    created_at: datetime
    updated_at: datetime


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _variable_name(value: str) -> str:
    # Said in words: the regex in pydantic's own message meant nothing to users.
    if not _VARIABLE_NAME.fullmatch(value):
        raise PydanticCustomError(
            "variable_name",
            "a variable name is 1-100 letters, digits or '_', not starting with a digit "
            "(it is written vars.NAME in expressions)",
        )
    return value


VariableName = Annotated[
    str,
    AfterValidator(_variable_name),
    Field(json_schema_extra={"pattern": f"^{_VARIABLE_NAME.pattern}$"}),
]


class VariableCreate(BaseModel):
    name: VariableName
    value: Annotated[str, Field(max_length=100_000)]
    type: VariableType = VariableType.string
    workflow_id: uuid.UUID | None = Field(None, description="Set for a variable of one workflow.")


class VariableUpdate(BaseModel):
    name: VariableName | None = None
    value: Annotated[str, Field(max_length=100_000)] | None = None
    type: VariableType | None = None


class VariableOut(ORM):
    id: uuid.UUID
    name: str
    value: str
    type: VariableType
    scope: VariableScope
    workflow_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class NodeTypeOut(BaseModel):
    type: str
    version: int
    display_name: str
    description: str
    category: str
    icon: str
    inputs: list[str]
    outputs: list[str]
    dynamic_outputs: bool
    loop_output: str | None
    is_trigger: bool
    parameters_schema: dict[str, Any]
    credential_slots: list[dict[str, Any]]


class ExpressionName(BaseModel):
    name: str
    description: str


class ExpressionReference(BaseModel):
    names: list[ExpressionName] = Field(description="The names an expression sees, in every run.")
    filters: list[str] = Field(description="Filters: {{ json.name | upper }}.")
    tests: list[str] = Field(description="Tests: {{ json.x is defined }}.")
    functions: list[str] = Field(description="Functions: {{ range(3) }}.")


class TemplateOut(ORM):
    id: uuid.UUID
    name: str
    description: str | None
    category: str | None
    tags: list[str]
    is_featured: bool
    definition: dict[str, Any]


class TemplateUse(BaseModel):
    name: Name | None = Field(None, description="Name of the new workflow; default: the template's.")
