"""AI-built workflows: a sentence → a workflow definition an LLM wrote, validated as a save
validates it (repaired by the model when it is not) → an `ai_workflow_suggestions` row with its
diff against the workflow it changes → applied as a new workflow or a new version.

The model sees the node registry (each type's description, parameters' JSON schema trimmed to
a budget, outputs), the definition format and, for a change, the current definition; it
answers with a JSON definition (a json_schema request). `workflows.service.check_definition`
judges it; its errors go back to the model, at most MAX_ATTEMPTS calls in all. What never
validates is not stored. The diff is computed here, once, for the API and the UI.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.accounts.service import Principal
from wirework.ai import service as ai_service
from wirework.ai.llm import ChatRequest, Message, Usage
from wirework.ai.models import AIWorkflowSuggestion, ModelType
from wirework.db.engine import Database
from wirework.db.scoping import get_scoped
from wirework.db.types import utcnow
from wirework.engine.errors import DefinitionError, DefinitionInvalid
from wirework.engine.nodes import Node, NodeRegistry
from wirework.errors import BadRequest, Conflict, ValidationFailed
from wirework.security.bodies import parse_json
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault
from wirework.triggers import service as triggers
from wirework.workflows import service as workflows
from wirework.workflows.models import Workflow

MAX_ATTEMPTS: Final = 3
"""Model calls for one suggestion: the first answer and up to two repairs."""
PROMPT_MAX_CHARS: Final = 4000
CATALOG_BUDGET: Final = 48_000
"""Characters of node catalog in the system prompt; descriptions are trimmed to fit."""
ANSWER_MAX_CHARS: Final = 400_000
MAX_NODES: Final = 200
COLUMN_GAP: Final = 260.0
ROW_GAP: Final = 140.0

ANSWER_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "type": {"type": "string"},
                    "parameters": {"type": "object"},
                    "position": {"type": "array", "items": {"type": "number"}},
                },
                "required": ["id", "name", "type", "parameters"],
            },
        },
        "edges": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "from": {"type": "string"},
                    "output": {"type": "string"},
                    "to": {"type": "string"},
                    "input": {"type": "string"},
                },
                "required": ["from", "to"],
            },
        },
        "settings": {"type": "object"},
    },
    "required": ["nodes", "edges"],
}

FORMAT: Final = """A workflow definition is JSON:
{"nodes": [{"id": "n1", "name": "Webhook", "type": "core.webhook", "parameters": {...},
            "position": [x, y]}],
 "edges": [{"from": "n1", "output": "main", "to": "n2", "input": "main"}],
 "settings": {}}
Rules: node ids and names are unique; every edge joins an output the source node has to an input
the target has; no cycles except through a loop node; a workflow starts at a trigger node
(core.manual_trigger when nothing else fits). Parameters follow the node's schema; any value may
be a Jinja expression such as "{{ json.email }}" (json is the current item, nodes["Name"] an
earlier node's output). Use only node types from the catalog."""


@dataclass(frozen=True)
class Suggested:
    row: AIWorkflowSuggestion
    diff: dict[str, Any]


# ---------------------------------------------------------------- the prompt


def _trim_schema(schema: Any, depth: int = 0) -> Any:
    """A parameters schema without what costs tokens and tells the model little."""
    if isinstance(schema, dict):
        keep: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("title", "examples", "x-expressions") or (key == "description" and depth > 3):
                continue
            keep[key] = _trim_schema(value, depth + 1)
        return keep
    if isinstance(schema, list):
        return [_trim_schema(v, depth + 1) for v in schema]
    return schema


def _entry(cls: type[Node], level: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": cls.type, "name": cls.display_name}
    if cls.is_trigger:
        entry["trigger"] = True
    if level < 2:
        entry["description"] = cls.description if level == 0 else cls.description.split(". ")[0][:200]
    entry["outputs"] = ["(from parameters)"] if cls.dynamic_outputs else list(cls.outputs)
    if list(cls.inputs) != ["main"]:
        entry["inputs"] = list(cls.inputs)
    if cls.credential_slots:
        entry["credentials"] = [s.name for s in cls.credential_slots]
    if level == 0:
        entry["parameters"] = _trim_schema(cls.parameters_schema)
    else:
        properties = (cls.parameters_schema.get("properties") or {}).keys()
        entry["parameters"] = sorted(properties)
    return entry


def node_catalog(registry: NodeRegistry, budget: int = CATALOG_BUDGET) -> str:
    """One JSON line per node type, as detailed as `budget` characters allow: full trimmed
    schemas, else parameter names with short descriptions, else names only."""
    types = sorted(registry.all(), key=lambda cls: cls.type)
    for level in (0, 1, 2):
        lines = [json.dumps(_entry(cls, level), ensure_ascii=False, separators=(",", ":")) for cls in types]
        text = "\n".join(lines)
        if len(text) <= budget or level == 2:
            return text[:budget]
    raise AssertionError("unreachable")


def system_prompt(registry: NodeRegistry, current: dict[str, Any] | None) -> str:
    parts = [
        "You design Wirework workflows. Answer with one JSON workflow definition and nothing else.",
        FORMAT,
        "Node catalog (one JSON object per node type):\n" + node_catalog(registry),
    ]
    if current is not None:
        shown = {k: current.get(k) for k in ("nodes", "edges", "settings")}
        parts.append(
            "The workflow to change, as it is now. Answer with the whole new definition; keep the "
            "ids of nodes you keep:\n" + json.dumps(shown, ensure_ascii=False)
        )
    return "\n\n".join(parts)


def repair_message(errors: list[DefinitionError] | str) -> str:
    if isinstance(errors, str):
        listed = errors
    else:
        listed = "\n".join(
            f"- {'node ' + repr(e.node_id) + ': ' if e.node_id else ''}"
            f"{e.field + ': ' if e.field else ''}{e.message}"
            for e in errors[:30]
        )
    return (
        "That definition is not valid:\n"
        + listed
        + "\nAnswer with the whole corrected definition as JSON, nothing else."
    )


# ---------------------------------------------------------------- answers


def parse_answer(text: str) -> dict[str, Any]:
    """The definition in a model's answer; ValueError saying what is wrong with it."""
    if len(text) > ANSWER_MAX_CHARS:
        raise ValueError(f"the answer is longer than {ANSWER_MAX_CHARS} characters")
    body = text.strip()
    if body.startswith("```"):  # a fenced block despite the JSON mode
        body = body.strip("`")
        body = body[body.find("{") :] if "{" in body else body
    try:  # strict: no NaN, no NUL or lone surrogates (no database stores them), bounded depth
        value = parse_json(body.encode("utf-8", "surrogatepass"))
    except BadRequest as exc:
        reason = exc.errors[0]["msg"] if exc.errors else exc.detail
        raise ValueError(f"the answer is not JSON a database can store: {reason}") from None
    if isinstance(value, dict) and isinstance(value.get("definition"), dict):
        value = value["definition"]
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        raise ValueError('the answer must be a JSON object with "nodes" and "edges" lists')
    if len(value["nodes"]) > MAX_NODES:
        raise ValueError(f"a suggestion has at most {MAX_NODES} nodes")
    value.setdefault("edges", [])
    value.setdefault("settings", {})
    return value


def lay_out(definition: dict[str, Any]) -> dict[str, Any]:
    """Positions, left to right by distance from the start nodes, when the model gave none
    (every node without a position or all at the same place)."""
    nodes = [n for n in definition.get("nodes", []) if isinstance(n, dict)]
    given = {tuple(n["position"]) for n in nodes if isinstance(n.get("position"), list | tuple)}
    if nodes and len(given) == len(nodes) and len(nodes) > 1:
        return definition
    if len(nodes) == 1 and given:
        return definition
    ids = [str(n.get("id")) for n in nodes]
    edges = [e for e in definition.get("edges", []) if isinstance(e, dict)]
    targets = {str(e.get("to")) for e in edges}
    column: dict[str, int] = {}
    queue = deque(i for i in ids if i not in targets) or deque(ids[:1])
    for start in queue:
        column[start] = 0
    while queue:
        current = queue.popleft()
        for e in edges:
            if str(e.get("from")) == current and str(e.get("to")) not in column:
                column[str(e.get("to"))] = column[current] + 1
                queue.append(str(e.get("to")))
    rows: dict[int, int] = {}
    for node in nodes:
        x = column.get(str(node.get("id")), max(column.values(), default=-1) + 1)
        y = rows.get(x, 0)
        rows[x] = y + 1
        node["position"] = [x * COLUMN_GAP, y * ROW_GAP]
    return definition


def _carry_over(definition: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """Sticky notes and the pins of nodes still there come along from the current definition."""
    if not current:
        return definition
    ids = {n.get("id") for n in definition["nodes"] if isinstance(n, dict)}
    if current.get("sticky_notes") and "sticky_notes" not in definition:
        definition["sticky_notes"] = current["sticky_notes"]
    pins = {k: v for k, v in (current.get("pinned") or {}).items() if k in ids}
    if pins and "pinned" not in definition:
        definition["pinned"] = pins
    return definition


# ---------------------------------------------------------------- the diff


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(edge.get("from")),
        str(edge.get("output") or "main"),
        str(edge.get("to")),
        str(edge.get("input") or "main"),
    )


def _edge_out(key: tuple[str, str, str, str], names: dict[str, str]) -> dict[str, str]:
    source, output, target, input_ = key
    return {
        "from": source,
        "from_name": names.get(source, source),
        "output": output,
        "to": target,
        "to_name": names.get(target, target),
        "input": input_,
    }


def diff_definitions(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What applying `after` changes in `before` (None: a new workflow): nodes added, removed and
    changed (type, name, parameters key by key), edges added and removed. Nodes are matched by id."""
    old = {str(n["id"]): n for n in (before or {}).get("nodes", [])}
    new = {str(n["id"]): n for n in after.get("nodes", [])}
    names = {i: str(n.get("name", i)) for i, n in {**old, **new}.items()}

    def brief(node: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(node["id"]), "name": node.get("name"), "type": node.get("type")}

    changed = []
    for node_id in old.keys() & new.keys():
        a, b = old[node_id], new[node_id]
        parameters = {}
        pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
        for key in sorted(pa.keys() | pb.keys()):
            if pa.get(key) != pb.get(key):
                parameters[key] = {"before": pa.get(key), "after": pb.get(key)}
        fields = {
            f: {"before": a.get(f), "after": b.get(f)}
            for f in ("name", "type", "disabled", "credentials")
            if a.get(f) != b.get(f)
        }
        if parameters or fields:
            changed.append({**brief(b), "fields": fields, "parameters": parameters})
    old_edges = {_edge_key(e) for e in (before or {}).get("edges", [])}
    new_edges = {_edge_key(e) for e in after.get("edges", [])}
    return {
        "nodes_added": [brief(new[i]) for i in new if i not in old],
        "nodes_removed": [brief(old[i]) for i in old if i not in new],
        "nodes_changed": sorted(changed, key=lambda c: c["id"]),
        "edges_added": [_edge_out(k, names) for k in sorted(new_edges - old_edges)],
        "edges_removed": [_edge_out(k, names) for k in sorted(old_edges - new_edges)],
        "settings_changed": (before or {}).get("settings", {}) != after.get("settings", {})
        if before is not None
        else False,
    }


# ---------------------------------------------------------------- suggest and apply


async def current_definition(session: AsyncSession, workflow: Workflow) -> dict[str, Any] | None:
    if not workflow.version:
        return None
    return dict((await workflows.get_version(session, workflow)).definition)


async def suggest(
    db: Database,
    session: AsyncSession,
    vault: Vault,
    registry: NodeRegistry,
    *,
    ssrf: SsrfPolicy,
    principal: Principal,
    org_id: uuid.UUID,
    prompt: str,
    workflow_id: uuid.UUID | None,
    model_ref: str | None,
) -> Suggested:
    """Ask the model, repair until valid (bounded), store the suggestion (the caller commits)."""
    current: dict[str, Any] | None = None
    if workflow_id is not None:
        workflow = await get_scoped(session, Workflow, workflow_id, org_id)
        current = await current_definition(session, workflow)
    model = await ai_service.resolve_model(db, vault, org_id, model_ref, ModelType.llm)
    messages = [Message("system", system_prompt(registry, current)), Message("user", prompt)]
    last_errors: list[dict[str, Any]] = []
    last_detail = ""
    used = Usage()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = await ai_service.chat(
            model, ChatRequest(messages=messages, json_schema=ANSWER_SCHEMA, temperature=0.2), ssrf=ssrf
        )
        used = used + result.usage
        messages.append(Message("assistant", result.text[:ANSWER_MAX_CHARS]))
        try:
            definition = parse_answer(result.text)
        except ValueError as exc:
            last_detail = f"The model's answer is not a workflow definition: {exc}."
            last_errors = [{"loc": [], "msg": str(exc), "type": "not_a_definition"}]
            messages.append(Message("user", repair_message(str(exc))))
            continue
        definition = _carry_over(lay_out(definition), current)
        try:
            await asyncio.to_thread(workflows.check_definition, definition, registry)
        except DefinitionInvalid as exc:
            last_detail = f"The model's workflow is not valid: {exc.detail}."
            last_errors = list(exc.errors or [])
            messages.append(Message("user", repair_message(exc.definition_errors)))
            continue
        await ai_service.record_usage(db, org_id, model, used)
        row = AIWorkflowSuggestion(
            org_id=org_id,
            user_id=principal.user.id,
            prompt=prompt,
            workflow_id=workflow_id,
            suggestion=definition,
            model_id=model.id,
            attempts=attempt,
        )
        session.add(row)
        await session.flush()
        return Suggested(row, diff_definitions(current, definition))
    await ai_service.record_usage(db, org_id, model, used)
    raise ValidationFailed(
        f"{last_detail} It still was after {MAX_ATTEMPTS} attempts; nothing was stored. "
        "Try saying what the workflow should do more precisely.",
        errors=last_errors,
    )


async def diff_of(session: AsyncSession, row: AIWorkflowSuggestion) -> dict[str, Any]:
    """The diff against the workflow as it is now (its current version may have moved on)."""
    current = None
    if row.workflow_id is not None and not row.is_applied:
        workflow = await session.get(Workflow, row.workflow_id)
        if workflow is not None:
            current = await current_definition(session, workflow)
    return diff_definitions(current, row.suggestion)


async def apply(
    session: AsyncSession,
    registry: NodeRegistry,
    row: AIWorkflowSuggestion,
    *,
    principal: Principal,
    name: str | None,
) -> Workflow:
    """A new workflow, or a new version of the suggestion's workflow, saved as any save is
    (validated again: the registry may have changed). Applying twice is a Conflict."""
    claimed = await session.execute(
        update(AIWorkflowSuggestion)
        .where(AIWorkflowSuggestion.id == row.id, AIWorkflowSuggestion.is_applied.is_(False))
        .values(is_applied=True, applied_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:  # applied already, maybe by a request racing this one
        await session.refresh(row)
        raise Conflict(f"This suggestion was applied already (workflow {row.applied_workflow_id}).")
    if row.workflow_id is not None:
        workflow = await get_scoped(session, Workflow, row.workflow_id, row.org_id)
        await workflows.save_version(
            session,
            workflow,
            row.suggestion,
            user_id=principal.user.id,
            notes=f"AI suggestion: {row.prompt[:200]}",
            registry=registry,
        )
        await triggers.sync_triggers(session, workflow, user_id=principal.user.id)
    else:
        workflow = await workflows.create_workflow(
            session,
            org_id=row.org_id,
            user_id=principal.user.id,
            name=(name or row.prompt).strip()[:200] or "AI workflow",
            description=f"Built with AI from: {row.prompt[:1000]}",
            definition=row.suggestion,
            registry=registry,
        )
    await session.refresh(row)
    row.applied_workflow_id = workflow.id
    await session.flush()
    return workflow
