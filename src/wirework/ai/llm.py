"""Provider-neutral types of a model call: messages, tools, tool calls, usage, results and
stream events. Nothing here knows HTTP or a provider's wire format (see `ai.providers`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from wirework.ai.models import ModelProvider, ModelType
from wirework.errors import BadGateway


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and the JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asks to run tool `name` with `arguments`; `id` pairs the answer with the call."""

    id: str
    name: str
    arguments: dict[str, Any]
    invalid_arguments: str | None = None
    """The arguments as the model sent them when they were not a JSON object (then `arguments`
    is empty): answer the call with an error so the model can try again."""


@dataclass
class Message:
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """An assistant message asking for tools."""
    tool_call_id: str | None = None
    """For role "tool": which call this message answers."""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens
        )


@dataclass
class ChatRequest:
    messages: list[Message]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    json_schema: dict[str, Any] | None = None
    """Ask for a JSON answer matching this schema."""


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str
    """"stop", "tool_calls", "length" (as OpenAI names them; Anthropic's are mapped)."""
    model: str
    """The model name the server answered with."""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ChatDone:
    result: ChatResult


StreamEvent = TextDelta | ChatDone


class AIError(BadGateway):
    """A model call failed. The message says which model or server, what went wrong, and how to fix it."""


@dataclass(frozen=True)
class ResolvedModel:
    """Everything a call needs. `api_key` comes decrypted from the vault: never log it (repr hides it)."""

    id: uuid.UUID | None
    org_id: uuid.UUID
    name: str
    provider: ModelProvider
    model_id: str
    type: ModelType
    configuration: dict[str, Any]
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    """OpenAI: the OpenAI-Organization header, from the credential."""

    @property
    def where(self) -> str:
        """How messages name it: "model 'Fast' (openai gpt-4o-mini at https://…)"."""
        at = f" at {self.base_url}" if self.base_url else ""
        return f"model {self.name!r} ({self.provider.value} {self.model_id}{at})"
