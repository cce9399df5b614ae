"""`ai.chat` (one model call, streamed to the conversation's live listeners) and `ai.agent`
(the tool-calling loop of `ai.agent`, with workflow, HTTP and knowledge-base tools)."""

from __future__ import annotations

import base64
import functools
import re
import uuid
from typing import Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from wirework.ai.agent import (
    MAX_ITERATIONS,
    MAX_TOOL_CALLS,
    MAX_TOOL_CALLS_PER_STEP,
    AgentLimits,
    AgentStopped,
    run_agent,
)
from wirework.ai.llm import ChatRequest, Message
from wirework.ai.models import ModelType
from wirework.ai.tools import HTTP_MAX_RESPONSE_BYTES, HttpTool, KnowledgeTool, Tool, WorkflowTool
from wirework.bots import service as bots
from wirework.engine.errors import NodeError
from wirework.engine.executions import ChainRefused
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import STATE_OUTPUT, Node, NodeContext, NodeParameters
from wirework.errors import WireworkError
from wirework.nodes.ai.common import (
    CATEGORY,
    MEMORY_HELP,
    AIRun,
    MaxTokens,
    MemoryKind,
    MemoryMessages,
    ModelRef,
    Temperature,
    node_error,
    send_reply,
    text_of,
    turn_of,
    usage_dict,
)
from wirework.nodes.core.http import CREDENTIAL_SLOTS as HTTP_SLOTS
from wirework.security.json_schema import check_schema

MAX_TOOLS: Final = 20
MAX_SCHEMA_CHARS: Final = 32_000
_TOOL_NAME: Final = r"^[A-Za-z0-9_-]{1,64}$"


class ChatParameters(NodeParameters):
    prompt: str | None = Field(None, description="The user's message; empty: the item's `text`.")
    system: str | None = Field(None, description="Instructions the model follows (system prompt).")
    model: str | None = ModelRef
    memory: MemoryKind = Field("conversation", description=MEMORY_HELP)
    memory_messages: int = MemoryMessages
    temperature: float | None = Temperature
    max_tokens: int | None = MaxTokens
    stream: bool = Field(
        True,
        description=(
            "Show the answer growing in the conversation's web chat / SSE listeners that are connected "
            "to the process running this execution (in worker mode the answer arrives whole)."
        ),
    )
    reply: bool = Field(
        False, description="Also send the answer to the conversation (instead of a Chat reply node)."
    )


def _messages(system: str | None, memory: list[Message], prompt: str) -> list[Message]:
    out = [Message("system", system)] if system else []
    return [*out, *memory, Message("user", prompt)]


class AIChat(Node):
    type = "ai.chat"
    display_name = "AI chat"
    description = (
        "Asks an LLM: a prompt, an optional system prompt and the conversation's earlier messages; "
        "outputs the item with `text` (the answer), `usage` and `model`. In a bot's conversation the "
        "answer streams to web chat and SSE listeners connected to the process that runs the execution."
    )
    category = CATEGORY
    icon = "sparkles"
    Parameters = ChatParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        run = AIRun(ctx)
        turn = turn_of(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items or [{}]):
            with ctx.item_guard(index):
                params = ctx.params(ChatParameters, index)
                session_id = run.session_id(index)
                model = await run.model(params.model, ModelType.llm, session_id)
                memory = await run.memory(params.memory, params.memory_messages, index, session_id)
                request = ChatRequest(
                    messages=_messages(params.system, memory, text_of(ctx, index, params.prompt, "prompt")),
                    temperature=params.temperature,
                    max_tokens=params.max_tokens,
                )
                if params.stream and session_id is not None and bots.has_listeners(session_id):
                    stream_id = f"{run.execution_id}:{ctx.node.id}:{turn}:{index}"
                    result = await run.stream(
                        model,
                        request,
                        session_id,
                        functools.partial(bots.publish_partial, session_id, stream_id),
                    )
                else:
                    result = await run.chat(model, request, session_id)
                answer: dict[str, Any] = {
                    **item,
                    "text": result.text,
                    "usage": usage_dict(result.usage),
                    "model": model.name,
                    "finish_reason": result.finish_reason,
                }
                if params.reply:
                    answer["reply"] = await send_reply(run, session_id, result.text, turn, index)
                out.append(answer)
        return {"main": out, STATE_OUTPUT: [{"pass": turn}]}


# ----------------------------------------------------------------------------- agent


def _schema(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type") != "object":
        raise ValueError('a tool\'s parameters are a JSON schema of an object ({"type": "object", ...})')
    if len(str(value)) > MAX_SCHEMA_CHARS:
        raise ValueError(f"a tool's parameters schema is at most {MAX_SCHEMA_CHARS:,} characters")
    problems = check_schema(value)
    if problems:
        raise ValueError(problems[0])
    return value


class _ToolBase(NodeParameters):
    name: str = Field(
        pattern=_TOOL_NAME, description="The name the model calls it by (letters, digits, _ -)."
    )
    description: str = Field(min_length=1, max_length=2000, description="What it does and when to use it.")


class WorkflowToolParameters(_ToolBase):
    kind: Literal["workflow"] = "workflow"
    workflow_id: str = Field(
        min_length=1, description="The workflow to run; the arguments are its input item."
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments (an object).",
    )

    _check = field_validator("parameters")(_schema)


class HttpToolParameters(_ToolBase):
    kind: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(
        min_length=1,
        max_length=4000,
        description=(
            "http(s) URL; {name} takes the argument `name` (URL-encoded). Other arguments go in the "
            "query (GET, DELETE) or the JSON body (POST, PUT, PATCH)."
        ),
    )
    headers: dict[str, str] = Field(default_factory=dict, max_length=50, description="Sent with each call.")
    authentication: Literal["none", "basic", "bearer", "header"] = Field(
        "none", description="The secret comes from the node's credential in the slot of the same name."
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments (an object).",
    )
    max_response_bytes: int = Field(
        HTTP_MAX_RESPONSE_BYTES, ge=1, le=10 * 1024 * 1024, description="A longer answer is a tool error."
    )

    _check = field_validator("parameters")(_schema)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name) or "\r" in header or "\n" in header:
                raise ValueError(f"header {name!r} is not a valid header")
        return value


class KnowledgeToolParameters(_ToolBase):
    kind: Literal["knowledge"] = "knowledge"
    name: str = Field("search_knowledge", pattern=_TOOL_NAME, description="The name the model calls it by.")
    description: str = Field(
        "Searches the knowledge base for passages about a question.", min_length=1, max_length=2000
    )
    collections: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Knowledge bases (ids or names); empty: those of the item's conversation (its bot's).",
    )
    mode: Literal["hybrid", "vector", "text"] = "hybrid"
    limit: int = Field(5, ge=1, le=20, description="Passages per search.")


ToolParameters = Annotated[
    WorkflowToolParameters | HttpToolParameters | KnowledgeToolParameters, Field(discriminator="kind")
]


class AgentParameters(NodeParameters):
    prompt: str | None = Field(None, description="The user's message; empty: the item's `text`.")
    system: str | None = Field(None, description="Instructions the agent follows (system prompt).")
    model: str | None = ModelRef
    tools: list[ToolParameters] = Field(
        default_factory=list,
        max_length=MAX_TOOLS,
        description=(
            "workflow: runs a workflow of this organization; http: calls a URL; "
            "knowledge: searches knowledge bases."
        ),
    )
    memory: MemoryKind = Field("conversation", description=MEMORY_HELP)
    memory_messages: int = MemoryMessages
    max_iterations: int = Field(6, ge=1, le=MAX_ITERATIONS, description="Model calls at most.")
    max_tool_calls_per_step: int = Field(
        8,
        ge=1,
        le=MAX_TOOL_CALLS_PER_STEP,
        description="Tool calls of one model answer run at most; the rest are answered as errors.",
    )
    max_tool_calls: int = Field(
        32,
        ge=1,
        le=MAX_TOOL_CALLS,
        description="Tool calls run in one item's loop at most; later ones are answered as errors.",
    )
    tool_timeout_s: float = Field(30, gt=0, le=600, description="Longest run of one tool call.")
    tool_result_chars: int = Field(
        8000, ge=100, le=100_000, description="A longer tool result is cut before the model reads it."
    )
    timeout_s: float = Field(300, gt=0, le=3600, description="Longest run of the whole loop, per item.")
    temperature: float | None = Temperature
    max_tokens: int | None = MaxTokens
    reply: bool = Field(
        False, description="Also send the answer to the conversation (instead of a Chat reply node)."
    )

    @field_validator("tools")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        names = [t.name for t in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"tool names must differ: {', '.join(twice)}")
        return value


class AIAgent(Node):
    type = "ai.agent"
    display_name = "AI agent"
    description = (
        "An LLM that uses tools (run a workflow, call a URL, search knowledge bases) until it can answer, "
        "with the conversation as memory; outputs the item with `text`, `steps` (each tool call with its "
        "arguments and result), `usage` and `model`. Bounded: iterations, tool calls per answer and in "
        "all, time per tool and in all, size of tool results."
    )
    category = CATEGORY
    icon = "bot"
    Parameters = AgentParameters
    credential_slots = tuple(slot for slot in HTTP_SLOTS if slot.name in ("basic", "bearer", "header"))

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        run = AIRun(ctx)
        turn = turn_of(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items or [{}]):
            with ctx.item_guard(index):
                params = ctx.params(AgentParameters, index)
                session_id = run.session_id(index)
                model = await run.model(params.model, ModelType.llm, session_id)
                memory = await run.memory(params.memory, params.memory_messages, index, session_id)
                tools = await _tools(run, params, session_id)

                async def chat(request: ChatRequest, model: Any = model, sid: Any = session_id) -> Any:
                    return await run.chat(model, request, sid)

                try:
                    result = await run_agent(
                        chat,
                        [
                            *([Message("system", params.system)] if params.system else []),
                            *memory,
                            Message("user", text_of(ctx, index, params.prompt, "prompt")),
                        ],
                        tools,
                        AgentLimits(
                            max_iterations=params.max_iterations,
                            max_tool_calls_per_step=params.max_tool_calls_per_step,
                            max_tool_calls=params.max_tool_calls,
                            tool_timeout_s=params.tool_timeout_s,
                            tool_result_chars=params.tool_result_chars,
                            total_timeout_s=params.timeout_s,
                        ),
                        temperature=params.temperature,
                        max_tokens=params.max_tokens,
                        fatal=(ChainRefused,),
                    )
                except AgentStopped as stopped:
                    raise NodeError(stopped.detail, item_index=index) from None
                answer: dict[str, Any] = {
                    **item,
                    "text": result.text,
                    "steps": result.steps,
                    "iterations": result.iterations,
                    "usage": usage_dict(result.usage),
                    "model": model.name,
                }
                if params.reply:
                    answer["reply"] = await send_reply(run, session_id, result.text, turn, index)
                out.append(answer)
        return {"main": out, STATE_OUTPUT: [{"pass": turn}]}


async def _tools(run: AIRun, params: AgentParameters, session_id: uuid.UUID | None) -> list[Tool]:
    tools: list[Tool] = []
    for spec in params.tools:
        if isinstance(spec, WorkflowToolParameters):
            tools.append(
                WorkflowTool(
                    name=spec.name,
                    description=spec.description,
                    workflow_id=spec.workflow_id,
                    run=run.services.run_subworkflow,
                    parameters=spec.parameters,
                )
            )
        elif isinstance(spec, HttpToolParameters):
            tools.append(
                HttpTool(
                    name=spec.name,
                    description=spec.description,
                    url=spec.url,
                    policy=run.ssrf,
                    method=spec.method,
                    headers={**spec.headers, **await _auth_headers(run, spec.authentication)},
                    parameters=spec.parameters,
                    timeout_s=params.tool_timeout_s,
                    max_bytes=spec.max_response_bytes,
                )
            )
        else:
            tools.append(await _knowledge_tool(run, spec, session_id))
    return tools


async def _auth_headers(run: AIRun, authentication: str) -> dict[str, str]:
    """The header carrying an HTTP tool's secret, from the node's credential (never the definition)."""
    if authentication == "none":
        return {}
    values = await run.services.credential(run.ctx.node, authentication)
    if authentication == "bearer":
        return {"Authorization": f"Bearer {values.get('token', '')}"}
    if authentication == "basic":
        pair = f"{values.get('username', '')}:{values.get('password', '')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    name = str(values.get("name") or "")
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
        raise NodeError(f"the header credential's name {name!r} is not a valid header name")
    return {name: str(values.get("value", ""))}


async def _knowledge_tool(
    run: AIRun, spec: KnowledgeToolParameters, session_id: uuid.UUID | None
) -> KnowledgeTool:
    from wirework.knowledge import service as knowledge

    try:
        if spec.collections:
            ids = await knowledge.collection_ids(run.db, run.org_id, spec.collections)
        elif session_id is not None:
            ids = await knowledge.collections_of_session(run.db, run.org_id, session_id)
        else:
            raise NodeError(
                f"tool {spec.name}: name its knowledge bases (collections), or run it in a bot's conversation"
            )
    except WireworkError as exc:
        raise node_error(exc) from None

    async def search(query: str, limit: int) -> list[Any]:
        if not ids:
            return []
        return list(
            await knowledge.search(
                run.db, run.vault, run.org_id, ids, query, mode=spec.mode, limit=limit, ssrf=run.ssrf
            )
        )

    return KnowledgeTool(name=spec.name, description=spec.description, search=search, limit=spec.limit)
