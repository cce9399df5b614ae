"""HTTP routes under /api/v1/ai: the organization's models (list, add, change, delete, test, make
default), the built-in embedding model, and token usage. Every query is scoped to the caller's
organization (another organization's model is 404); members and up change models, as credentials."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.schemas import Page
from wirework.ai import service
from wirework.ai.models import AIModel, ModelType
from wirework.ai.schemas import (
    AIModelCreate,
    AIModelOut,
    AIModelUpdate,
    BuiltinEmbeddingOut,
    ModelTestOut,
    UsageOut,
    UsageTotal,
)
from wirework.db.pagination import paginate
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.deps import Cursor, Limit, SessionDep
from wirework.errors import Conflict, ValidationFailed
from wirework.problems import problem_responses
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault

COMMON = problem_responses(400, 401, 403, 404, 422)

router = APIRouter(prefix="/api/v1/ai", tags=["ai"], responses=COMMON)
routers = [router]


def _writer(principal: Any) -> None:
    require_role(principal, OrgRole.member)


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _ssrf(request: Request) -> SsrfPolicy:
    policy: SsrfPolicy = request.app.state.platform.ssrf_policy
    return policy


def _out(model: AIModel) -> AIModelOut:
    return AIModelOut.model_validate(
        {
            **{c: getattr(model, c) for c in AIModelOut.model_fields if c != "is_default"},
            "is_default": model.default_for is not None,
        }
    )


@router.get("/models", response_model=Page[AIModelOut])
async def list_models(
    org_id: ActiveOrgId,
    session: SessionDep,
    type: ModelType | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AIModelOut]:
    """The organization's models, oldest first (keys are never shown: only the credential's id)."""
    query = scoped(AIModel, org_id)
    if type is not None:
        query = query.where(AIModel.type == type)
    rows, next_cursor = await paginate(session, query, AIModel.id, limit=limit, cursor=cursor)
    return Page(items=[_out(m) for m in rows], next_cursor=next_cursor)


@router.post(
    "/models",
    response_model=AIModelOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_model(
    body: AIModelCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> AIModelOut:
    """A new model. Its key comes from a credential of this organization (openai_api or
    anthropic_api); a server without keys (a local Ollama) takes none."""
    _writer(principal)
    configuration = body.configuration.stored()
    service.check_kind(body.provider, body.type, body.model_id, configuration)
    service.check_base_url(configuration.get("base_url"), _ssrf(request))
    await service.check_credential(session, org_id, body.provider, body.credential_id)
    await service.check_name_free(session, org_id, body.name)
    model = AIModel(
        org_id=org_id,
        name=body.name,
        provider=body.provider,
        model_id=body.model_id,
        type=body.type,
        description=body.description,
        is_active=body.is_active,
        configuration=configuration,
        credential_id=body.credential_id,
    )
    session.add(model)
    await session.flush()
    await session.commit()
    return _out(model)


@router.get("/builtin-embedding", response_model=BuiltinEmbeddingOut)
async def builtin_embedding(org_id: ActiveOrgId, session: SessionDep) -> BuiltinEmbeddingOut:
    """The embedding model that ships with Wirework, used when no embedding model is the default."""
    from wirework.ai import local_embedding

    default = await session.execute(
        scoped(AIModel, org_id).where(AIModel.default_for == ModelType.embedding.value)
    )
    return BuiltinEmbeddingOut(
        name=service.BUILTIN_NAME,
        model_id=local_embedding.MODEL_NAME,
        dimensions=local_embedding.DIMENSIONS,
        key=local_embedding.KEY,
        in_use_as_default=default.first() is None,
    )


@router.get("/models/{model_id}", response_model=AIModelOut)
async def get_model(model_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> AIModelOut:
    return _out(await get_scoped(session, AIModel, model_id, org_id))


@router.patch("/models/{model_id}", response_model=AIModelOut, responses=problem_responses(409))
async def update_model(
    model_id: uuid.UUID,
    body: AIModelUpdate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> AIModelOut:
    """Change a model. `configuration`, when given, replaces the settings as a whole;
    `credential_id: null` takes the credential away."""
    _writer(principal)
    model = await get_scoped(session, AIModel, model_id, org_id)
    given = body.model_fields_set
    if body.name is not None and body.name != model.name:
        await service.check_name_free(session, org_id, body.name, other_than=model.id)
        model.name = body.name
    if body.model_id is not None:
        model.model_id = body.model_id
    if "description" in given:
        model.description = body.description
    if body.configuration is not None:
        configuration = body.configuration.stored()
        service.check_base_url(configuration.get("base_url"), _ssrf(request))
        model.configuration = configuration
    service.check_kind(model.provider, model.type, model.model_id, model.configuration)
    if "credential_id" in given:
        await service.check_credential(session, org_id, model.provider, body.credential_id)
        model.credential_id = body.credential_id
    if body.is_active is False and model.default_for is not None:
        raise Conflict(
            f"model {model.name!r} is the default {model.type.value} model; make another model the "
            "default (or unset it) before deactivating it"
        )
    if body.is_active is not None:
        model.is_active = body.is_active
    model.updated_at = utcnow()
    await session.flush()
    await session.commit()
    return _out(model)


@router.delete("/models/{model_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(409))
async def delete_model(
    model_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    """Delete a model; refused (409) while a knowledge base's vectors were made with it."""
    _writer(principal)
    await service.delete_model(session, await get_scoped(session, AIModel, model_id, org_id))
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/models/{model_id}/test", response_model=ModelTestOut)
async def test_model(
    model_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    """Call the model once: an LLM answers a one-word prompt, an embedding model embeds a sentence.
    The answer (or the error), the latency and the tokens used; a failure is `ok: false`, not an
    error of this API."""
    _writer(principal)
    model = await get_scoped(session, AIModel, model_id, org_id)
    try:
        resolved = await service.resolved(session, _vault(request), model)
    except service.AIError as exc:
        return {"ok": False, "error": exc.detail, "latency_ms": 0.0}
    await session.rollback()  # no transaction held open while the model answers
    return await service.test_model(resolved, ssrf=_ssrf(request))


@router.post("/models/{model_id}/default", response_model=AIModelOut, responses=problem_responses(409))
async def make_default(
    model_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> AIModelOut:
    """Make this model the organization's default for its type (the previous default stops being one)."""
    _writer(principal)
    model = await get_scoped(session, AIModel, model_id, org_id)
    await service.set_default(session, model)
    await session.commit()
    return _out(model)


@router.delete("/models/{model_id}/default", response_model=AIModelOut)
async def unset_default(
    model_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> AIModelOut:
    """Stop this model being the default (embeddings then use the built-in model)."""
    _writer(principal)
    model = await get_scoped(session, AIModel, model_id, org_id)
    model.default_for = None
    await session.flush()
    await session.commit()
    return _out(model)


@router.get("/usage", response_model=UsageOut)
async def usage(
    org_id: ActiveOrgId,
    session: SessionDep,
    execution_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    since: datetime | None = Query(None, description="Only calls at or after this time (ISO 8601)."),
) -> UsageOut:
    """Calls and tokens per model, optionally for one execution, one conversation, or since a time."""
    if since is not None:
        try:  # a time without zone is UTC, as everything here
            since = since.astimezone(UTC) if since.tzinfo is not None else since.replace(tzinfo=UTC)
        except OverflowError:  # 9999-12-31T23:59:59-23:59 is past the calendar's end in UTC
            message = "since is outside the dates that can be expressed in UTC"
            raise ValidationFailed(
                message, errors=[{"loc": ["query", "since"], "msg": message, "type": "value_error"}]
            ) from None
    totals = await service.usage_totals(
        session, org_id, execution_id=execution_id, session_id=session_id, since=since
    )
    items = [UsageTotal.model_validate(t) for t in totals]
    return UsageOut(
        items=items,
        prompt_tokens=sum(t.prompt_tokens for t in items),
        completion_tokens=sum(t.completion_tokens for t in items),
        total_tokens=sum(t.total_tokens for t in items),
        calls=sum(t.calls for t in items),
    )
