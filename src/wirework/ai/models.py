"""Tables of AI models, token usage and AI-suggested workflows (seeds: W ai_models,
ai_workflow_suggestions).

A model is a row per organization: an LLM or an embedding model at a provider (any
OpenAI-compatible server, Anthropic, or the embedding model that ships with Wirework),
its key taken from a credential in the vault. One model per type may be the
organization's default (`default_for`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wirework.db.base import Base, IdMixin, OrgOwnedMixin, TimestampMixin
from wirework.db.types import JSONType, StrEnumType, utcnow

CATEGORY = "AI"


class ModelProvider(enum.StrEnum):
    openai = "openai"  # any OpenAI-compatible server: OpenAI, Ollama, llama.cpp, vLLM, LM Studio
    anthropic = "anthropic"
    local = "local"  # the embedding model shipped inside a Python package, run in-process


class ModelType(enum.StrEnum):
    llm = "llm"
    embedding = "embedding"


class Feedback(enum.StrEnum):
    positive = "positive"
    negative = "negative"
    neutral = "neutral"


class AIModel(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "ai_models"
    __label__ = "AI model"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        # At most one default per type and organization; NULL (not a default) never collides.
        UniqueConstraint("org_id", "default_for"),
        Index("ix_ai_models_provider_model_id", "provider", "model_id"),
        {
            "comment": "LLM and embedding models an organization can use, by provider, with their "
            "settings and the credential holding their key.",
            "info": {"category": CATEGORY, "seeds": "W ai_models"},
        },
    )

    name: Mapped[str] = mapped_column(String(200), comment="Display name, unique in the organization.")
    provider: Mapped[ModelProvider] = mapped_column(
        StrEnumType(ModelProvider, "ai_model_provider"), comment="openai (compatible), anthropic or local."
    )
    model_id: Mapped[str] = mapped_column(String(200), comment="The provider's model name, e.g. gpt-4o-mini.")
    type: Mapped[ModelType] = mapped_column(
        StrEnumType(ModelType, "ai_model_type"), comment="llm or embedding."
    )
    description: Mapped[str | None] = mapped_column(Text, comment="What it is for.")
    is_active: Mapped[bool] = mapped_column(default=True, comment="An inactive model refuses calls.")
    configuration: Mapped[dict[str, Any]] = mapped_column(
        JSONType,
        default=dict,
        comment="base_url, temperature, max_tokens, timeout_s, dimensions (embeddings).",
    )
    credential_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL"),
        index=True,
        comment="Credential holding the API key (none for a local server without one).",
    )
    default_for: Mapped[str | None] = mapped_column(
        String(20), comment="The model type this model is the organization's default for, else null."
    )


class AIUsage(IdMixin, OrgOwnedMixin, Base):
    __tablename__ = "ai_usage"
    __label__ = "AI usage"
    __table_args__ = (
        Index("ix_ai_usage_org_id_created_at", "org_id", "created_at"),
        {
            "comment": "Tokens used by each model call, per execution and conversation.",
            "info": {"category": CATEGORY, "seeds": "-"},
        },
    )

    model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_models.id", ondelete="SET NULL"), index=True, comment="The model called."
    )
    model_name: Mapped[str] = mapped_column(
        String(200), comment="The provider's model name, kept if the model goes."
    )
    execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), index=True, comment="The execution that called it."
    )
    node_id: Mapped[str | None] = mapped_column(String(100), comment="The node that called it.")
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True, comment="The conversation, if any."
    )
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, comment="Input tokens.")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, comment="Output tokens.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, comment="When the call ended (UTC).")


class AIWorkflowSuggestion(IdMixin, OrgOwnedMixin, TimestampMixin, Base):
    __tablename__ = "ai_workflow_suggestions"
    __label__ = "AI workflow suggestion"
    __table_args__ = (
        Index("ix_ai_workflow_suggestions_user_id_created_at", "user_id", "created_at"),
        {
            "comment": "A prompt, the workflow definition a model suggested for it (validated "
            "against the node registry), whether it was applied, and the user's feedback.",
            "info": {"category": CATEGORY, "seeds": "W ai_workflow_suggestions"},
        },
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), comment="Who asked."
    )
    prompt: Mapped[str] = mapped_column(Text, comment="What the user asked for.")
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"),
        index=True,
        comment="The workflow to change; null: a new workflow.",
    )
    suggestion: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="The suggested definition (nodes, edges, settings)."
    )
    model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_models.id", ondelete="SET NULL"), comment="The model that wrote it."
    )
    attempts: Mapped[int] = mapped_column(
        Integer, default=1, comment="Tries until it validated (repair loop)."
    )
    is_applied: Mapped[bool] = mapped_column(default=False, comment="Applied to a workflow.")
    applied_at: Mapped[datetime | None] = mapped_column(comment="When it was applied (UTC).")
    applied_workflow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflows.id", ondelete="SET NULL"), comment="The workflow it created or changed."
    )
    feedback: Mapped[Feedback | None] = mapped_column(
        StrEnumType(Feedback, "ai_suggestion_feedback"), comment="positive, negative or neutral."
    )
