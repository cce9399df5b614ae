"""What the AI room does for the others: find the model a call should use (by id or name, the
bot's, the organization's default, the built-in embedding model), call it (chat, stream, embed),
record the tokens it used, and keep the registry (create, change, delete, default, test).

Data functions that take an `AsyncSession` never commit: the caller owns the transaction.
Functions that take a `Database` open their own short session.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.ai import providers
from wirework.ai.llm import (
    AIError,
    ChatDone,
    ChatRequest,
    ChatResult,
    Message,
    ResolvedModel,
    StreamEvent,
    Usage,
)
from wirework.ai.models import AIModel, AIUsage, ModelProvider, ModelType
from wirework.ai.schemas import url_problem
from wirework.db.engine import Database
from wirework.db.health import is_conflict
from wirework.db.scoping import get_scoped, scoped
from wirework.errors import Conflict, NotFound, ValidationFailed
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, check_url
from wirework.security.vault import Vault, VaultError
from wirework.workflows import service as workflow_service
from wirework.workflows.models import Credential

__all__ = [
    "AIError",
    "Embedder",
    "ResolvedModel",
    "chat",
    "embedder_for",
    "record_usage",
    "resolve_model",
    "stream_chat",
]

CREDENTIAL_TYPES: Final = {ModelProvider.openai: "openai_api", ModelProvider.anthropic: "anthropic_api"}
"""The credential type holding each provider's key."""
LOCAL_MODEL_NAME: Final = "all-MiniLM-L6-v2"
"""The built-in embedding model (`ai.local_embedding.MODEL_NAME`), run in-process."""
BUILTIN_NAME: Final = f"Built-in ({LOCAL_MODEL_NAME})"
TEST_PROMPT: Final = "Reply with the single word OK."


class NoModel(AIError):
    """Nothing to call: no model chosen and no default. A 409: the organization must add one."""

    status, title = 409, "Conflict"


# ---------------------------------------------------------------- resolving


def _ref_id(ref: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(ref, uuid.UUID):
        return ref
    try:
        return uuid.UUID(ref.strip())
    except ValueError:
        return None


async def find_model(session: AsyncSession, org_id: uuid.UUID, ref: str | uuid.UUID) -> AIModel:
    """A model of the organization by id or name; 404 otherwise."""
    model_id = _ref_id(ref)
    query = scoped(AIModel, org_id)
    query = query.where(AIModel.id == model_id) if model_id else query.where(AIModel.name == str(ref))
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"AI model {str(ref)!r} not found in this organization")
    return row


def local_model(org_id: uuid.UUID) -> ResolvedModel:
    """The built-in embedding model, used when no embedding model is chosen or set as default."""
    return ResolvedModel(
        id=None,
        org_id=org_id,
        name=BUILTIN_NAME,
        provider=ModelProvider.local,
        model_id=LOCAL_MODEL_NAME,
        type=ModelType.embedding,
        configuration={},
        base_url=None,
        api_key=None,
    )


async def resolved(session: AsyncSession, vault: Vault, model: AIModel) -> ResolvedModel:
    """The row with its key opened from the vault."""
    if not model.is_active:
        raise AIError(f"model {model.name!r} is inactive; activate it on the AI models page to use it")
    api_key = organization = None
    if model.credential_id is not None:
        credential = (
            await session.execute(
                scoped(Credential, model.org_id).where(Credential.id == model.credential_id)
            )
        ).scalar_one_or_none()
        if credential is None:
            raise AIError(
                f"model {model.name!r}: its credential is gone; choose another on the AI models page"
            )
        try:
            values = workflow_service.open_credential(vault, credential)
        except VaultError as exc:
            raise AIError(
                f"model {model.name!r}: its credential {credential.name!r} cannot be opened ({exc}); "
                "enter the key again"
            ) from None
        api_key = str(values.get("api_key") or "") or None
        organization = str(values.get("organization") or "") or None
    if model.provider == ModelProvider.local:
        return local_model(model.org_id)
    base_url = model.configuration.get("base_url") or providers.default_base_url(model.provider)
    return ResolvedModel(
        id=model.id,
        org_id=model.org_id,
        name=model.name,
        provider=model.provider,
        model_id=model.model_id,
        type=model.type,
        configuration=dict(model.configuration or {}),
        base_url=str(base_url) if base_url else None,
        api_key=api_key,
        organization=organization,
    )


async def resolve_model(
    db: Database,
    vault: Vault,
    org_id: uuid.UUID,
    ref: str | uuid.UUID | None,
    type: ModelType,
    *,
    bot_id: uuid.UUID | None = None,
) -> ResolvedModel:
    """The model to call: `ref` (id or name in the org); else the bot's model (LLMs); else the
    organization's default for `type`; else, for embeddings, the built-in model; else NoModel."""
    async with db.session() as session:
        model: AIModel | None = None
        if ref is not None and str(ref).strip():
            model = await find_model(session, org_id, ref)
        elif type == ModelType.llm and bot_id is not None:
            from wirework.bots.models import Bot  # the bots room, read for its one column

            row = (await session.execute(scoped(Bot, org_id).where(Bot.id == bot_id))).scalar_one_or_none()
            if row is not None and row.ai_model_id is not None:
                model = (
                    await session.execute(scoped(AIModel, org_id).where(AIModel.id == row.ai_model_id))
                ).scalar_one_or_none()
        if model is None and (ref is None or not str(ref).strip()):
            model = (
                await session.execute(scoped(AIModel, org_id).where(AIModel.default_for == type.value))
            ).scalar_one_or_none()
        if model is None:
            if type == ModelType.embedding:
                return local_model(org_id)
            raise NoModel(
                "no LLM configured: add one on the AI models page and set it as the default, "
                "or choose one in the node (or the bot's settings)"
            )
        if model.type != type:
            raise ValidationFailed(
                f"model {model.name!r} is an {model.type.value} model; this needs an "
                f"{'LLM' if type == ModelType.llm else 'embedding model'}"
            )
        return await resolved(session, vault, model)


# ---------------------------------------------------------------- calling


def _callable(model: ResolvedModel) -> None:
    if model.type != ModelType.llm or model.provider not in providers.CHAT:
        raise AIError(f"{model.where} is not an LLM; choose an LLM for chat")


def _redacted(model: ResolvedModel, exc: AIError) -> AIError:
    """The error without the model's key, should a server have echoed it."""
    if model.api_key and len(model.api_key) >= 4 and model.api_key in exc.detail:
        return AIError(exc.detail.replace(model.api_key, "[the API key]"))
    return exc


async def chat(model: ResolvedModel, request: ChatRequest, *, ssrf: SsrfPolicy) -> ChatResult:
    _callable(model)
    try:
        result: ChatResult = await providers.CHAT[model.provider](model, request, ssrf)
    except AIError as exc:
        raise _redacted(model, exc) from None
    return result


async def stream_chat(
    model: ResolvedModel, request: ChatRequest, *, ssrf: SsrfPolicy
) -> AsyncIterator[StreamEvent]:
    """TextDelta events as the answer comes, then one ChatDone with the whole result."""
    _callable(model)
    try:
        async for event in providers.STREAM[model.provider](model, request, ssrf):
            yield event
    except AIError as exc:
        raise _redacted(model, exc) from None


async def record_usage(
    db: Database,
    org_id: uuid.UUID,
    model: ResolvedModel,
    usage: Usage,
    *,
    execution_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    node_id: str | None = None,
) -> None:
    """One ai_usage row for a call (committed at once)."""
    async with db.session() as session:
        session.add(
            AIUsage(
                org_id=org_id,
                model_id=model.id,
                model_name=model.model_id[:200],
                execution_id=execution_id,
                session_id=session_id,
                node_id=node_id[:100] if node_id else None,
                prompt_tokens=max(usage.prompt_tokens, 0),
                completion_tokens=max(usage.completion_tokens, 0),
            )
        )
        await session.commit()


# ---------------------------------------------------------------- embeddings


class Embedder(Protocol):
    key: str
    """The identity of the vector space: vectors of two embedders compare only if their keys match."""
    dimensions: int | None

    async def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class RemoteEmbedder:
    """An OpenAI-compatible /embeddings endpoint."""

    model: ResolvedModel
    ssrf: SsrfPolicy
    key: str = ""
    dimensions: int | None = None

    def __post_init__(self) -> None:
        self.key = f"openai:{self.model.id}"
        configured = self.model.configuration.get("dimensions")
        if isinstance(configured, int) and not isinstance(configured, bool):
            self.dimensions = configured

    async def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        try:
            vectors = await providers.openai_embed(self.model, texts, self.ssrf)
        except AIError as exc:
            raise _redacted(self.model, exc) from None
        if self.dimensions is None:
            self.dimensions = int(vectors.shape[1])
        return vectors


@dataclass
class LocalEmbedder:
    """The built-in model, run in a thread (it is CPU-bound)."""

    key: str = ""
    dimensions: int | None = None

    def __post_init__(self) -> None:
        from wirework.ai import local_embedding

        self.key = local_embedding.KEY
        self.dimensions = local_embedding.DIMENSIONS

    async def embed(self, texts: list[str]) -> np.ndarray:
        from wirework.ai import local_embedding

        if not texts:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        vectors: np.ndarray = await asyncio.to_thread(lambda: local_embedding.model().embed(texts))
        return vectors


def embedder_of(model: ResolvedModel, *, ssrf: SsrfPolicy) -> Embedder:
    if model.type != ModelType.embedding:
        raise ValidationFailed(f"{model.where} is an LLM, not an embedding model")
    if model.provider == ModelProvider.local:
        return LocalEmbedder()
    if model.provider == ModelProvider.openai:
        return RemoteEmbedder(model, ssrf)
    raise AIError(
        f"{model.where}: {model.provider.value} does not serve embeddings; use an OpenAI-compatible server"
    )


async def embedder_for(
    db: Database, vault: Vault, org_id: uuid.UUID, model_ref: str | uuid.UUID | None, *, ssrf: SsrfPolicy
) -> Embedder:
    """The chosen embedding model; None: the organization's default, else the built-in model."""
    model = await resolve_model(db, vault, org_id, model_ref, ModelType.embedding)
    return embedder_of(model, ssrf=ssrf)


# ---------------------------------------------------------------- the registry


def check_base_url(base_url: str | None, policy: SsrfPolicy) -> None:
    """Refuse at save time what the SSRF guard would refuse at call time (as far as no DNS is needed)."""
    if not base_url:
        return
    problem = url_problem(base_url)
    if problem is not None:  # ModelSettings checks it too; this keeps every caller safe
        message = f"base_url {problem}"
        raise ValidationFailed(message, errors=[{"loc": ["configuration", "base_url"], "msg": message}])
    try:
        check_url(base_url, policy)
    except SsrfBlocked as exc:
        raise ValidationFailed(
            str(exc), errors=[{"loc": ["configuration", "base_url"], "msg": exc.reason}]
        ) from None


def check_kind(
    provider: ModelProvider, type: ModelType, model_id: str, configuration: dict[str, Any]
) -> None:
    if provider == ModelProvider.local:
        if type != ModelType.embedding or model_id != LOCAL_MODEL_NAME:
            raise ValidationFailed(
                f"provider local is the built-in embedding model only (type embedding, model_id "
                f"{LOCAL_MODEL_NAME!r}); for a local LLM server (Ollama, llama.cpp, vLLM, LM Studio) "
                "choose provider openai and its base URL"
            )
        if configuration:
            raise ValidationFailed("the built-in embedding model takes no settings")
    if provider == ModelProvider.anthropic and type == ModelType.embedding:
        raise ValidationFailed("Anthropic serves no embedding models; use an OpenAI-compatible server")
    if type == ModelType.llm and "dimensions" in configuration:
        raise ValidationFailed("dimensions is a setting of embedding models only")


async def check_credential(
    session: AsyncSession, org_id: uuid.UUID, provider: ModelProvider, credential_id: uuid.UUID | None
) -> None:
    if credential_id is None:
        return
    if provider == ModelProvider.local:
        raise ValidationFailed("the built-in embedding model needs no credential")
    credential = await get_scoped(session, Credential, credential_id, org_id)
    wanted = CREDENTIAL_TYPES[provider]
    if credential.type != wanted:
        raise ValidationFailed(
            f"credential {credential.name!r} is of type {credential.type}; {provider.value} models "
            f"take an {wanted} credential",
            errors=[{"loc": ["body", "credential_id"], "msg": f"needs a {wanted} credential"}],
        )


async def check_name_free(
    session: AsyncSession, org_id: uuid.UUID, name: str, *, other_than: uuid.UUID | None = None
) -> None:
    query = scoped(AIModel, org_id).where(AIModel.name == name)
    if other_than is not None:
        query = query.where(AIModel.id != other_than)
    if (await session.execute(query)).first():
        raise Conflict(f"An AI model named {name!r} already exists.")


async def set_default(session: AsyncSession, model: AIModel) -> None:
    """Make `model` its organization's default for its type, clearing the previous one (flushes)."""
    if not model.is_active:
        raise ValidationFailed(f"model {model.name!r} is inactive; activate it before making it the default")
    await session.execute(
        update(AIModel)
        .where(
            AIModel.org_id == model.org_id, AIModel.default_for == model.type.value, AIModel.id != model.id
        )
        .values(default_for=None)
        .execution_options(synchronize_session="fetch")
    )
    model.default_for = model.type.value
    try:
        await session.flush()
    except DBAPIError as exc:  # the unique (org, default_for) or a deadlock: another set it meanwhile
        if isinstance(exc, IntegrityError) or is_conflict(exc):
            raise Conflict("Another default was set at the same moment; try again.") from None
        raise


async def models_in_use(session: AsyncSession, model: AIModel) -> list[str]:
    """Names of the knowledge bases whose vectors this model made (they keep it from deletion)."""
    from wirework.knowledge.models import KBCollection  # the knowledge room's foreign key

    rows = await session.execute(
        select(KBCollection.name).where(
            KBCollection.org_id == model.org_id, KBCollection.embedding_model_id == model.id
        )
    )
    return [str(name) for name in rows.scalars()]


async def delete_model(session: AsyncSession, model: AIModel) -> None:
    used_by = await models_in_use(session, model)
    if used_by:
        names = ", ".join(repr(n) for n in used_by[:5]) + (" …" if len(used_by) > 5 else "")
        raise Conflict(
            f"model {model.name!r} made the vectors of knowledge base(s) {names}; delete those knowledge "
            "bases (or move them to another embedding model) first"
        )
    await session.delete(model)
    await session.flush()


async def test_model(model: ResolvedModel, *, ssrf: SsrfPolicy) -> dict[str, Any]:
    """A tiny call: an LLM's answer to TEST_PROMPT, or an embedding's size; with the latency.
    A failure is reported, not raised."""
    started = time.perf_counter()
    out: dict[str, Any] = {"ok": True}
    try:
        if model.type == ModelType.llm:
            request = ChatRequest(messages=[Message("user", TEST_PROMPT)], max_tokens=16)
            result = await chat(model, request, ssrf=ssrf)
            out |= {
                "answer": result.text[:500],
                "model": result.model,
                "usage": {
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                },
            }
        else:
            vectors = await embedder_of(model, ssrf=ssrf).embed(["Wirework checks this embedding model."])
            out["dimensions"] = int(vectors.shape[1])
    except (AIError, ValidationFailed) as exc:
        out = {"ok": False, "error": exc.detail}
    out["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return out


async def usage_totals(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    execution_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Calls and tokens per model (id and provider model name), most tokens first."""
    query = (
        select(
            AIUsage.model_id,
            AIUsage.model_name,
            func.count().label("calls"),
            func.coalesce(func.sum(AIUsage.prompt_tokens), 0).label("prompt_tokens"),
            func.coalesce(func.sum(AIUsage.completion_tokens), 0).label("completion_tokens"),
        )
        .where(AIUsage.org_id == org_id)
        .group_by(AIUsage.model_id, AIUsage.model_name)
    )
    if execution_id is not None:
        query = query.where(AIUsage.execution_id == execution_id)
    if session_id is not None:
        query = query.where(AIUsage.session_id == session_id)
    if since is not None:
        query = query.where(AIUsage.created_at >= since)
    rows = (await session.execute(query)).all()
    names = {
        m.id: m.name
        for m in (
            await session.execute(
                scoped(AIModel, org_id).where(AIModel.id.in_([r.model_id for r in rows if r.model_id]))
            )
        ).scalars()
    }
    totals = [
        {
            "model_id": r.model_id,
            "name": names.get(r.model_id) if r.model_id else None,
            "model_name": r.model_name,
            "calls": int(r.calls),
            "prompt_tokens": int(r.prompt_tokens),
            "completion_tokens": int(r.completion_tokens),
            "total_tokens": int(r.prompt_tokens) + int(r.completion_tokens),
        }
        for r in rows
    ]
    return sorted(totals, key=lambda t: (-t["total_tokens"], t["model_name"]))


async def final_result(events: AsyncIterator[StreamEvent]) -> ChatResult:
    """Drain a stream to its ChatDone (for callers that stream only sometimes)."""
    async for event in events:
        if isinstance(event, ChatDone):
            return event.result
    raise AIError("the stream ended without a result")
