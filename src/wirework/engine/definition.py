"""The workflow definition format (nodes, edges, settings) as pydantic models, and its parser.

This is the JSON stored in `workflow_versions.definition`. The models check shape and
uniqueness only; what needs the node registry (known types, edge ends, cycles,
parameters) is checked by `wirework.engine.graph.validate_definition`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from wirework.engine.errors import DefinitionError, DefinitionInvalid
from wirework.security.json_schema import check_schema

OnError = Literal["stop", "continue", "error_output"]
"""stop: the run fails; continue: failed items go out on the node's first output with an
`error` field; error_output: failed items go out on an extra output named "error"."""

ERROR_OUTPUT = "error"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """How often a failing node is tried, waiting backoff_s, then twice that, and so on, between attempts."""

    max_attempts: int = Field(1, ge=1, le=10)
    backoff_s: float = Field(1.0, ge=0, le=3600)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, …)."""
        return float(self.backoff_s * 2 ** (attempt - 2))


class NodeSpec(_Model):
    """One node of a workflow, as placed by the user."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=128)
    version: int = Field(1, ge=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str] = Field(
        default_factory=dict, description="Credential slot name → credential id."
    )
    position: tuple[float, float] = (0.0, 0.0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    on_error: OnError = "stop"
    at_most_once: bool = Field(
        False,
        description="Record the node's start before it runs; if its process dies before its end is "
        "recorded, the resumed execution fails the node instead of running it again.",
    )
    disabled: bool = False
    timeout_s: float | None = Field(
        None, gt=0, description="Per-attempt time limit; the workflow's limit applies anyway."
    )
    notes: str = Field("", max_length=10_000)

    @model_validator(mode="after")
    def _at_most_once_is_not_retried(self) -> NodeSpec:
        if self.at_most_once and self.retry.max_attempts > 1:
            raise PydanticCustomError(
                "at_most_once_retried",
                "an at_most_once node is never run twice, so it cannot be retried: "
                "set retry.max_attempts to 1 or turn at_most_once off",
            )
        return self


class EdgeSpec(_Model):
    """A connection from one node's output to another node's input (`from`/`to` in JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from", min_length=1)
    output: str = Field("main", min_length=1)
    target: str = Field(alias="to", min_length=1)
    input: str = Field("main", min_length=1)


class RetentionSettings(_Model):
    """How long this workflow's finished runs are kept (engine.retention); unset follows the
    instance's WIREWORK_EXECUTIONS_* settings. The instance's count limit applies anyway."""

    successful_days: int | None = Field(None, ge=1, le=36_500, description="Days a completed run is kept.")
    failed_days: int | None = Field(
        None, ge=1, le=36_500, description="Days a failed or cancelled run is kept."
    )
    keep_successful: bool | None = Field(
        None,
        description="false keeps only failed and cancelled runs: a completed run is deleted about "
        "5 minutes after it was accepted.",
    )


MCP_TOOL_NAME = r"^[A-Za-z0-9_\-]{1,64}$"
MCP_SCHEMA_MAX_BYTES = 32_768


class McpToolSettings(_Model):
    """The workflow offered as a tool of Wirework's MCP server (`wirework.ai.mcp_server`) while it
    is active: a call runs it with the tool's arguments as its one input item."""

    name: str | None = Field(
        None, pattern=MCP_TOOL_NAME, description="Tool name; default: the workflow's name made a tool name."
    )
    description: str = Field(
        min_length=1, max_length=2000, description="What the tool does, for the calling model."
    )
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema (2020-12) of the arguments; its root is an object.",
    )
    timeout_s: float = Field(60, gt=0, le=600, description="How long a call waits for the run to end.")

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value)) > MCP_SCHEMA_MAX_BYTES:
            raise ValueError(f"input_schema is larger than {MCP_SCHEMA_MAX_BYTES} bytes as JSON")
        if value.get("type") != "object":
            raise ValueError('input_schema must describe an object: {"type": "object", ...}')
        problems = check_schema(value, max_bytes=MCP_SCHEMA_MAX_BYTES)
        if problems:
            raise ValueError(f"input_schema: {problems[0]}")
        return value


class WorkflowSettings(_Model):
    timezone: str = "UTC"
    timeout_s: float = Field(3600, gt=0, le=7 * 24 * 3600)
    error_workflow_id: str | None = None
    # Strict: the claim reads it from the stored definition as sent, where "5" made every run
    # crash (int >= str) until it was given up.
    max_concurrency: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = Field(
        None, description="At most this many executions of the workflow run at once."
    )
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    mcp_tool: McpToolSettings | None = Field(
        None, description="Offer the active workflow as a tool of the MCP server at /mcp."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'Europe/Paris')"
            ) from None
        return value


StickyColor = Literal["yellow", "blue", "green", "pink", "grey"]


class StickyNote(_Model):
    """A note on the editor's canvas: saved with the workflow, never run (the engine ignores it)."""

    id: str = Field(min_length=1, max_length=64)
    text: str = Field("", max_length=10_000)
    position: tuple[float, float] = (0.0, 0.0)
    width: float = Field(240, ge=80, le=2000)
    height: float = Field(160, ge=60, le=2000)
    color: StickyColor = "yellow"


PinnedOutputs = dict[str, list[dict[str, Any]]]
"""Output name → items: what a pinned node gives instead of running."""


class WorkflowDefinition(_Model):
    """A whole workflow. Node ids and node names are unique (expressions use names)."""

    nodes: list[NodeSpec] = Field(default_factory=list)
    edges: list[EdgeSpec] = Field(default_factory=list)
    settings: WorkflowSettings = Field(default_factory=WorkflowSettings)
    pinned: dict[str, PinnedOutputs] = Field(
        default_factory=dict,
        description="Node id → the outputs it gives instead of running, in manual runs and test "
        "calls from the editor only; production runs (webhooks, schedules, events, sub-workflows) "
        "never use them.",
    )
    sticky_notes: list[StickyNote] = Field(
        default_factory=list, max_length=200, description="Notes on the canvas; not part of the graph."
    )

    @field_validator("sticky_notes")
    @classmethod
    def _unique_sticky_ids(cls, notes: list[StickyNote]) -> list[StickyNote]:
        ids = [note.id for note in notes]
        if len(set(ids)) != len(ids):
            raise ValueError("sticky note ids must be unique")
        return notes

    @model_validator(mode="after")
    def _unique_ids_and_names(self) -> WorkflowDefinition:
        problems: list[dict[str, str]] = []
        seen_ids: set[str] = set()
        seen_names: dict[str, str] = {}
        for node in self.nodes:
            if node.id in seen_ids:
                problems.append(
                    {
                        "node_id": node.id,
                        "field": "id",
                        "code": "duplicate_id",
                        "message": f"node id {node.id!r} is used by more than one node",
                    }
                )
            seen_ids.add(node.id)
            if node.name in seen_names:
                problems.append(
                    {
                        "node_id": node.id,
                        "field": "name",
                        "code": "duplicate_name",
                        "message": f"node name {node.name!r} is already used by node "
                        f"{seen_names[node.name]!r}; names must be unique",
                    }
                )
            else:
                seen_names[node.name] = node.id
        for node_id in self.pinned:
            if node_id not in seen_ids:
                problems.append(
                    {
                        "node_id": node_id,
                        "field": "pinned",
                        "code": "unknown_node",
                        "message": f"pinned data for node {node_id!r}, which is not in the workflow",
                    }
                )
        if problems:
            raise PydanticCustomError(
                "duplicate_node", "{detail}", {"detail": problems[0]["message"], "problems": problems}
            )
        return self

    def dump(self) -> dict[str, Any]:
        """The JSON form, with `from`/`to` on edges."""
        return self.model_dump(mode="json", by_alias=True)


def parse_definition(data: WorkflowDefinition | Mapping[str, Any]) -> WorkflowDefinition:
    """Validate raw JSON into a WorkflowDefinition; raise DefinitionInvalid pointing at nodes."""
    if isinstance(data, WorkflowDefinition):
        return data
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionInvalid(definition_errors_from(exc, data)) from None


def definition_errors_from(exc: ValidationError, data: Any) -> list[DefinitionError]:
    """Map pydantic errors to DefinitionErrors, finding the node id each one is about."""
    raw_nodes = data.get("nodes") if isinstance(data, Mapping) else None
    errors: list[DefinitionError] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        ctx = err.get("ctx") or {}
        if err["type"] == "duplicate_node" and "problems" in ctx:
            errors.extend(
                DefinitionError(p["message"], p["node_id"], p["field"], p["code"]) for p in ctx["problems"]
            )
            continue
        node_id: str | None = None
        field: str | None = _dotted(loc)
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            field = _dotted(loc[2:]) or None
            if isinstance(raw_nodes, list) and loc[1] < len(raw_nodes):
                raw = raw_nodes[loc[1]]
                if isinstance(raw, Mapping) and isinstance(raw.get("id"), str):
                    node_id = raw["id"]
            if node_id is None:
                field = _dotted(loc)
        errors.append(DefinitionError(err["msg"], node_id, field or None, "invalid"))
    return errors


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
