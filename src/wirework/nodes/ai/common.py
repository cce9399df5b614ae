"""What the AI nodes share: reaching the platform, the item's conversation, choosing the model,
calling it (usage recorded per call with the execution, the conversation and the node), memory,
and reading JSON answers."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, Literal

from pydantic import Field

from wirework.ai.llm import AIError, ChatDone, ChatRequest, ChatResult, Message, TextDelta, Usage
from wirework.ai.models import ModelType
from wirework.bots import service as bots
from wirework.engine.errors import NodeError
from wirework.engine.nodes import NodeContext
from wirework.errors import WireworkError
from wirework.nodes.chat import conversation_of

CATEGORY: Final = "AI"
PARTIAL_EVERY_S: Final = 0.05
"""Streaming: partial text is pushed to listeners at most this often (and once at the end)."""
MAX_MEMORY: Final = 200

ModelRef = Field(
    None,
    max_length=200,
    description=(
        "The model's name or id in this organization; empty: the bot's model when the item comes "
        "from a conversation, else the organization's default."
    ),
)
Temperature = Field(None, ge=0, le=2, description="Empty: the model's setting.")
MaxTokens = Field(None, ge=1, le=200_000, description="Longest answer in tokens; empty: the model's setting.")
MemoryKind = Literal["conversation", "none"]
MEMORY_HELP: Final = (
    "conversation: the last messages of the item's conversation (a bot's), or, without one, the "
    "item's `history` list of {role, content} (the editor's chat playground sends it); none: no memory."
)
MemoryMessages = Field(20, ge=1, le=MAX_MEMORY, description="How many earlier messages the model sees.")


def services_of(ctx: NodeContext) -> Any:
    services = ctx.services
    if services is None or not hasattr(services, "platform"):
        raise NodeError("AI nodes need the platform runtime (run the workflow through Wirework)")
    return services


def node_error(exc: WireworkError) -> NodeError:
    """A model or knowledge-base failure as the node's error, its message as the service wrote it."""
    error = NodeError(exc.detail)
    if exc.status < 500:  # bad parameters or a missing model: trying again cannot help
        error.retryable = False
    return error


class AIRun:
    """One node run's access to models: resolved once per (reference, bot), every call's usage
    recorded with the execution, the item's conversation and the node."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.services = services_of(ctx)
        self.db = self.services.platform.db
        self.vault = self.services.platform.vault
        self.org_id: uuid.UUID = self.services.org_id
        self.ssrf = self.services.ssrf_policy
        self.execution_id: uuid.UUID = self.services.execution.id
        self._models: dict[tuple[str | None, uuid.UUID | None], Any] = {}
        self._bots: dict[uuid.UUID, uuid.UUID | None] = {}

    # ----------------------------------------------------------------- the conversation

    def session_id(self, index: int) -> uuid.UUID | None:
        """The item's conversation (from a Chat trigger), else the execution's input's, else None."""
        return conversation_of(self.ctx, index)

    async def bot_of(self, session_id: uuid.UUID | None) -> uuid.UUID | None:
        if session_id is None:
            return None
        if session_id not in self._bots:
            try:
                row = await bots.session_of(self.db, self.org_id, session_id)
            except WireworkError as exc:
                raise node_error(exc) from None
            self._bots[session_id] = row.bot_id
        return self._bots[session_id]

    async def memory(self, kind: str, limit: int, index: int, session_id: uuid.UUID | None) -> list[Message]:
        """Earlier turns: the conversation's stored messages before this one, or the item's `history`."""
        if kind == "none":
            return []
        item = self.ctx.items[index] if 0 <= index < len(self.ctx.items) else {}
        if session_id is not None:
            before = _uuid_or_none(item.get("message_id"))
            turns = await bots.recent_messages(self.db, self.org_id, session_id, limit, before=before)
        else:
            turns = history_of(item.get("history"))[-limit:]
        return [Message(t["role"], t["content"]) for t in turns if t["content"]]

    # ----------------------------------------------------------------- models

    async def model(self, ref: str | None, kind: ModelType, session_id: uuid.UUID | None = None) -> Any:
        from wirework.ai import service as ai

        bot_id = await self.bot_of(session_id) if kind == ModelType.llm else None
        key = (f"{kind}:{ref or ''}", bot_id)
        if key not in self._models:
            try:
                self._models[key] = await ai.resolve_model(
                    self.db, self.vault, self.org_id, ref or None, kind, bot_id=bot_id
                )
            except WireworkError as exc:
                raise node_error(exc) from None
        return self._models[key]

    async def record(self, model: Any, usage: Usage, session_id: uuid.UUID | None) -> None:
        from wirework.ai import service as ai

        await ai.record_usage(
            self.db,
            self.org_id,
            model,
            usage,
            execution_id=self.execution_id,
            session_id=session_id,
            node_id=self.ctx.node.id,
        )

    async def chat(self, model: Any, request: ChatRequest, session_id: uuid.UUID | None) -> ChatResult:
        from wirework.ai import service as ai

        try:
            result = await ai.chat(model, request, ssrf=self.ssrf)
        except WireworkError as exc:
            raise node_error(exc) from None
        await self.record(model, result.usage, session_id)
        return result

    async def stream(
        self,
        model: Any,
        request: ChatRequest,
        session_id: uuid.UUID | None,
        on_text: Callable[[str], object],
    ) -> ChatResult:
        """Stream the answer, calling `on_text` with all the text so far (throttled, and at the end;
        with "" when the stream fails after some text was shown)."""
        from wirework.ai import service as ai

        text, shown, last, result = "", "", 0.0, None
        try:
            async for event in ai.stream_chat(model, request, ssrf=self.ssrf):
                if isinstance(event, TextDelta):
                    text += event.text
                    now = time.monotonic()
                    if now - last >= PARTIAL_EVERY_S and text != shown:
                        on_text(text)
                        shown, last = text, now
                elif isinstance(event, ChatDone):
                    result = event.result
        except WireworkError as exc:
            if shown:
                on_text("")  # the listeners drop the text shown so far: no answer is coming
            raise node_error(exc) from None
        if result is None:
            if shown:
                on_text("")
            raise NodeError(f"the model server's stream for {model.name!r} ended without its last event")
        if (result.text or text) != shown:
            on_text(result.text or text)
        await self.record(model, result.usage, session_id)
        return result


def usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def history_of(value: Any) -> list[dict[str, str]]:
    """An item's `history`: a list of {role: user|assistant, content: text}; None is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise NodeError("history must be a list of {role, content} messages")
    turns = []
    for n, turn in enumerate(value):
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ("user", "assistant")
            or not isinstance(turn.get("content"), str)
        ):
            raise NodeError(f"history[{n}] must be {{role: user or assistant, content: text}}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


_FENCE: Final = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json(text: str) -> Any:
    """The JSON in a model's answer (a ```json fence around it is taken off); ValueError if none."""
    match = _FENCE.match(text)
    body = match.group(1) if match else text.strip()
    try:
        return json.loads(body)
    except ValueError:
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            return json.loads(body[start : end + 1])
        raise


def text_of(ctx: NodeContext, index: int, value: str | None, parameter: str) -> str:
    """A text parameter, or when it is left empty the item's `text` (a Chat trigger's message)."""
    if value is not None and value != "":
        return str(value)
    item = ctx.items[index] if 0 <= index < len(ctx.items) else {}
    found = item.get("text")
    if isinstance(found, str) and found:
        return found
    raise NodeError(f"{parameter} is empty and the item has no `text`: set {parameter}", item_index=index)


def turn_of(ctx: NodeContext) -> int:
    """How many times this node ran before in this execution (loops), for its reply keys."""
    return int((ctx.state or {}).get("pass", 0)) + 1


async def send_reply(
    run: AIRun, session_id: uuid.UUID | None, text: str, turn: int, index: int
) -> dict[str, Any]:
    """Answer in the conversation (stored once per execution, node, pass and item)."""
    if session_id is None:
        raise NodeError("reply is on, but the item has no conversation (start with a Chat trigger)")
    if not text:
        raise NodeError("the model's answer is empty: nothing to reply")
    try:
        sent = await bots.reply(
            run.db,
            org_id=run.org_id,
            session_id=session_id,
            text=text,
            reply_key=f"{run.execution_id}:{run.ctx.node.id}:{turn}:{index}",
            vault=run.vault,
        )
    except WireworkError as exc:
        raise NodeError(exc.detail) from None
    return {"message_id": sent.message["id"], "delivery": sent.message["delivery"]}


__all__ = ["AIError", "AIRun"]
