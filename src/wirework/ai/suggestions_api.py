"""HTTP routes under /api/v1/ai/suggestions: ask a model for a workflow (or a change to one),
list and read your suggestions with their diff, apply one (a new workflow or a new version, as a
save), and give feedback. A user sees only their own suggestions, in their organization.

A suggestion for an existing workflow reads it (its definition goes to the model, and the diff
shows its parameters), so an API key needs what reading the workflow needs, `workflows:read`,
to make one or to see one (a key without it lists only suggestions for new workflows); applying
saves a workflow and needs `workflows:write`. The `ai` scopes alone never reveal a workflow."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.schemas import Page
from wirework.accounts.service import Principal
from wirework.ai import suggest
from wirework.ai.models import AIWorkflowSuggestion, Feedback
from wirework.db.pagination import paginate
from wirework.db.scoping import scoped
from wirework.deps import Cursor, Limit, SessionDep
from wirework.engine.nodes import NodeRegistry
from wirework.errors import Forbidden, NotFound
from wirework.problems import problem_responses
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

COMMON = problem_responses(400, 401, 403, 404, 422)

router = APIRouter(prefix="/api/v1/ai/suggestions", tags=["ai"], responses=COMMON)
routers = [router]


class SuggestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=suggest.PROMPT_MAX_CHARS)
    ] = Field(description="What the workflow should do, or how to change it.")
    workflow_id: uuid.UUID | None = Field(None, description="The workflow to change; none: a new workflow.")
    model: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        None, description="An LLM's id or name; default: the organization's default LLM."
    )


class SuggestionApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        Field(None, description="Name of the new workflow (a suggestion for a new one); default: the prompt.")
    )


class SuggestionFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: Feedback


class SuggestionOut(BaseModel):
    id: uuid.UUID
    prompt: str
    workflow_id: uuid.UUID | None
    model_id: uuid.UUID | None
    attempts: int
    suggestion: dict[str, Any] = Field(description="The suggested definition, valid when it was made.")
    diff: dict[str, Any] = Field(
        description="Against the workflow's current definition: nodes_added, nodes_removed, "
        "nodes_changed (fields and parameters before/after), edges_added, edges_removed, "
        "settings_changed."
    )
    is_applied: bool
    applied_at: datetime | None
    applied_workflow_id: uuid.UUID | None
    feedback: Feedback | None
    created_at: datetime


def _registry(request: Request) -> NodeRegistry:
    registry: NodeRegistry = request.app.state.registry
    return registry


def _out(row: AIWorkflowSuggestion, diff: dict[str, Any]) -> SuggestionOut:
    return SuggestionOut.model_validate(
        {**{c: getattr(row, c) for c in SuggestionOut.model_fields if c != "diff"}, "diff": diff}
    )


def _require_scope(principal: Principal, scope: str, why: str) -> None:
    """403 for an API key without `scope` (sessions are not limited by scopes)."""
    if principal.scopes is not None and scope not in principal.scopes:
        raise Forbidden(f"{why}: this API key needs the {scope} scope (POST /api/v1/api-keys with scopes).")


def _reads_workflows(principal: Principal) -> bool:
    return principal.scopes is None or "workflows:read" in principal.scopes


async def _own(session: SessionDep, suggestion_id: uuid.UUID, org_id: uuid.UUID, principal: Principal) -> Any:
    row = (
        await session.execute(
            scoped(AIWorkflowSuggestion, org_id).where(
                AIWorkflowSuggestion.id == suggestion_id, AIWorkflowSuggestion.user_id == principal.user.id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Suggestion {suggestion_id} not found")
    if row.workflow_id is not None:
        _require_scope(principal, "workflows:read", "This suggestion changes a workflow and shows it")
    return row


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SuggestionOut,
    responses=problem_responses(409, 502),
)
async def create_suggestion(
    body: SuggestionCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> SuggestionOut:
    """Ask the model for a workflow definition; it is validated as a save is and sent back to the
    model with its errors (at most 3 calls). 422 with the last errors if it never validates
    (nothing is stored); 409 if the organization has no LLM; 502 if the model cannot be reached
    or answers nonsense."""
    require_role(principal, OrgRole.member)
    if body.workflow_id is not None:
        _require_scope(principal, "workflows:read", "A change to a workflow sends it to the model")
    # Nothing uncommitted (e.g. an API key's last use) is held while the model answers: on
    # SQLite the usage row written meanwhile would wait for this session's write lock.
    await session.commit()
    vault: Vault = request.app.state.vault
    ssrf: SsrfPolicy = request.app.state.platform.ssrf_policy
    made = await suggest.suggest(
        request.app.state.db,
        session,
        vault,
        _registry(request),
        ssrf=ssrf,
        principal=principal,
        org_id=org_id,
        prompt=body.prompt,
        workflow_id=body.workflow_id,
        model_ref=body.model,
    )
    await session.commit()
    return _out(made.row, made.diff)


@router.get("", response_model=Page[SuggestionOut])
async def list_suggestions(
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    workflow_id: uuid.UUID | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Your suggestions, newest first (optionally those for one workflow). An API key without
    `workflows:read` sees only those for new workflows."""
    stmt = scoped(AIWorkflowSuggestion, org_id).where(AIWorkflowSuggestion.user_id == principal.user.id)
    if workflow_id is not None:
        _require_scope(principal, "workflows:read", "Suggestions for a workflow show it")
        stmt = stmt.where(AIWorkflowSuggestion.workflow_id == workflow_id)
    elif not _reads_workflows(principal):
        stmt = stmt.where(AIWorkflowSuggestion.workflow_id.is_(None))
    rows, next_cursor = await paginate(
        session, stmt, AIWorkflowSuggestion.id, limit=limit, cursor=cursor, newest_first=True
    )
    items = [_out(row, await suggest.diff_of(session, row)).model_dump(mode="json") for row in rows]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{suggestion_id}", response_model=SuggestionOut)
async def get_suggestion(
    suggestion_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> SuggestionOut:
    row = await _own(session, suggestion_id, org_id, principal)
    return _out(row, await suggest.diff_of(session, row))


@router.post("/{suggestion_id}/apply", response_model=SuggestionOut, responses=problem_responses(409))
async def apply_suggestion(
    suggestion_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    body: SuggestionApply | None = None,
) -> SuggestionOut:
    """Save the suggestion: a new workflow, or a new version of the workflow it changes (validated
    as any save). A second apply is a 409."""
    require_role(principal, OrgRole.member)
    _require_scope(principal, "workflows:write", "Applying a suggestion saves a workflow")
    row = await _own(session, suggestion_id, org_id, principal)
    diff = await suggest.diff_of(session, row)
    await suggest.apply(
        session, _registry(request), row, principal=principal, name=body.name if body else None
    )
    await session.commit()
    request.app.state.scheduler.poke()
    request.app.state.webhook_cache.clear()
    return _out(row, diff)


@router.post("/{suggestion_id}/feedback", response_model=SuggestionOut)
async def give_feedback(
    suggestion_id: uuid.UUID,
    body: SuggestionFeedback,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> SuggestionOut:
    row = await _own(session, suggestion_id, org_id, principal)
    row.feedback = body.feedback
    await session.commit()
    return _out(row, await suggest.diff_of(session, row))
