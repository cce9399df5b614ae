"""Bodies of the AI models API: a model and its settings, a test's result, usage totals."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from wirework.ai.models import ModelProvider, ModelType

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ModelId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def url_problem(url: str) -> str | None:
    """Why the HTTP client cannot use `url` (it cannot parse it, or cannot encode its host for
    the resolver), or None. The same checks at save and at call time, so a model that saves can
    be called."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"is not a usable URL ({str(exc)[:200]})"
    host = parsed.raw_host.decode("ascii", "replace")
    if not host:
        return "has no host"
    if ":" not in host:  # an IPv6 literal has no labels to encode
        try:
            host.encode("idna")
        except UnicodeError:
            return (
                f"has a host name that cannot be looked up ({host[:100]!r}: every dot-separated part "
                "must have 1 to 63 characters)"
            )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"has port {parsed.port}; a port is between 1 and 65535"
    return None


class ModelSettings(BaseModel):
    """What `ai_models.configuration` may hold; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    base_url: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None
    ) = Field(
        None,
        description="The API's root, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 "
        "(Ollama); Anthropic: https://api.anthropic.com. Empty: the provider's own.",
    )
    temperature: float | None = Field(
        None, strict=True, ge=0, le=2, description="Sampling temperature (Anthropic: at most 1)."
    )
    max_tokens: int | None = Field(
        None, strict=True, ge=1, le=1_000_000, description="Longest answer, in tokens."
    )
    timeout_s: float | None = Field(
        None,
        strict=True,
        gt=0,
        le=600,
        description="Seconds to wait for an answer (between streamed events). Default 60.",
    )
    dimensions: int | None = Field(
        None,
        strict=True,
        ge=1,
        le=16_384,
        description="Embedding models: the size of the vectors; every answer is checked.",
    )

    @field_validator("temperature", "timeout_s")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if "@" in value.split("/", 3)[2]:
            raise ValueError("must not hold a user name or password: put the key in a credential")
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value.rstrip("/")

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class AIModelCreate(BaseModel):
    name: Name
    provider: ModelProvider
    model_id: ModelId = Field(
        description="The provider's model name, e.g. gpt-4o-mini or claude-3-5-haiku-latest."
    )
    type: ModelType = ModelType.llm
    description: Annotated[str, Field(max_length=2000)] | None = None
    is_active: bool = True
    configuration: ModelSettings = Field(default_factory=ModelSettings)
    credential_id: uuid.UUID | None = Field(
        None,
        description="An openai_api or anthropic_api credential holding the key (none for a keyless server).",
    )


class AIModelUpdate(BaseModel):
    """Fields to change; provider and type stay as created."""

    name: Name | None = None
    model_id: ModelId | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    is_active: bool | None = None
    configuration: ModelSettings | None = None
    credential_id: uuid.UUID | None = None


class AIModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    provider: ModelProvider
    model_id: str
    type: ModelType
    description: str | None
    is_active: bool
    configuration: dict[str, Any]
    credential_id: uuid.UUID | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class BuiltinEmbeddingOut(BaseModel):
    name: str
    model_id: str
    dimensions: int
    key: str
    in_use_as_default: bool = Field(description="True when no embedding model is the organization's default.")


class TestUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class ModelTestOut(BaseModel):
    ok: bool
    latency_ms: float
    answer: str | None = None
    model: str | None = Field(None, description="The model name the server answered with.")
    usage: TestUsage | None = None
    dimensions: int | None = None
    error: str | None = None


class UsageTotal(BaseModel):
    model_id: uuid.UUID | None
    name: str | None = Field(description="The model's display name; null once it is deleted.")
    model_name: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UsageOut(BaseModel):
    items: list[UsageTotal]
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    calls: int
