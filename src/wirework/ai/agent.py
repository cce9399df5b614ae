"""The agent loop: ask the model, run the tools it calls, give it the results, until it answers.

Bounded on every side a user controls: iterations (model calls), tool calls run per model
answer and per run (the calls past either bound are answered to the model as errors, not run),
time per tool call, size of each tool result sent back, and total time. Each step is recorded
(the model's text, each tool call with its arguments and its result or error, the number of
calls refused) for the execution view. A tool call the model gets wrong — an unknown tool,
arguments that are not a JSON object or do not match the tool's schema — is answered to the
model as a tool error, so it can try again; it is not a crash.
The loop knows tools only through the `ai.tools.Tool` protocol and the model only through a
`chat` function, so it runs without a database or a server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from wirework.ai.llm import AIError, ChatRequest, ChatResult, Message, ToolCall, Usage
from wirework.ai.tools import Tool, ToolFailed, spec_of
from wirework.security.json_schema import first_error

MAX_ITERATIONS: Final = 20
DEFAULT_ITERATIONS: Final = 6
MAX_TOOL_CALLS_PER_STEP: Final = 32
DEFAULT_TOOL_CALLS_PER_STEP: Final = 8
MAX_TOOL_CALLS: Final = 200
DEFAULT_TOOL_CALLS: Final = 32

Chat = Callable[[ChatRequest], Awaitable[ChatResult]]


@dataclass(frozen=True)
class AgentLimits:
    max_iterations: int = DEFAULT_ITERATIONS
    """Model calls at most; a model still calling tools after the last one is an error."""
    max_tool_calls_per_step: int = DEFAULT_TOOL_CALLS_PER_STEP
    """Tool calls of one model answer run at most; the others are answered as errors."""
    max_tool_calls: int = DEFAULT_TOOL_CALLS
    """Tool calls run in the whole loop at most; later ones are answered as errors."""
    tool_timeout_s: float = 30.0
    tool_result_chars: int = 8000
    """A tool result longer than this (as JSON) is cut, saying so, before the model sees it."""
    total_timeout_s: float = 300.0


class AgentStopped(AIError):
    """The agent ran out of iterations or time; `steps` holds what it did until then."""

    def __init__(self, message: str, steps: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.steps = steps


@dataclass
class AgentResult:
    text: str
    steps: list[dict[str, Any]]
    usage: Usage
    iterations: int
    model: str
    messages: list[Message] = field(default_factory=list)


async def run_agent(
    chat: Chat,
    messages: list[Message],
    tools: Sequence[Tool],
    limits: AgentLimits,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    fatal: tuple[type[BaseException], ...] = (),
) -> AgentResult:
    """Run the loop from `messages` (system, memory, the user's message). `fatal` exceptions
    raised by a tool end the run (e.g. the workflow chain's fan-out limits); any other tool
    failure is told to the model."""
    by_name = {tool.name: tool for tool in tools}
    specs = [spec_of(tool) for tool in tools]
    conversation = list(messages)
    steps: list[dict[str, Any]] = []
    usage = Usage()
    ran = 0  # tool calls run in this loop
    try:
        async with asyncio.timeout(limits.total_timeout_s):
            for iteration in range(1, limits.max_iterations + 1):
                result = await chat(
                    ChatRequest(
                        messages=conversation, tools=specs, temperature=temperature, max_tokens=max_tokens
                    )
                )
                usage = usage + result.usage
                if not result.tool_calls:
                    return AgentResult(result.text, steps, usage, iteration, result.model, conversation)
                conversation.append(Message("assistant", result.text, tool_calls=list(result.tool_calls)))
                step: dict[str, Any] = {"iteration": iteration, "text": result.text, "tool_calls": []}
                steps.append(step)
                refused = 0
                for index, call in enumerate(result.tool_calls):
                    over = _over_bound(index, ran, limits)
                    if over is not None:  # answered, not run (every call needs its answer)
                        refused += 1
                        conversation.append(
                            Message("tool", json.dumps({"error": over}), tool_call_id=call.id)
                        )
                        continue
                    ran += 1
                    record, answer = await _call_tool(call, by_name, limits, fatal)
                    step["tool_calls"].append(record)
                    conversation.append(Message("tool", answer, tool_call_id=call.id))
                if refused:
                    step["tool_calls_refused"] = refused
    except TimeoutError:
        raise AgentStopped(
            f"the agent did not finish within {limits.total_timeout_s:g} s (timeout_s); "
            f"it made {len(steps)} round(s) of tool calls",
            steps,
        ) from None
    names = sorted({c["name"] for s in steps for c in s["tool_calls"]})
    raise AgentStopped(
        f"the agent was still calling tools ({', '.join(names)}) after {limits.max_iterations} "
        "iterations (max_iterations): raise the limit, or say in the system prompt when to answer",
        steps,
    )


def _over_bound(index: int, ran: int, limits: AgentLimits) -> str | None:
    """Why the `index`-th call of an answer is not run (after `ran` calls in the loop), or None."""
    if index >= limits.max_tool_calls_per_step:
        return (
            f"too many tool calls in one answer: at most {limits.max_tool_calls_per_step} are run "
            "(max_tool_calls_per_step); this one was not. Call fewer tools at a time."
        )
    if ran >= limits.max_tool_calls:
        return (
            f"too many tool calls in this run: at most {limits.max_tool_calls} are run "
            "(max_tool_calls); this one was not. Answer with what you have."
        )
    return None


async def _call_tool(
    call: ToolCall,
    tools: dict[str, Tool],
    limits: AgentLimits,
    fatal: tuple[type[BaseException], ...],
) -> tuple[dict[str, Any], str]:
    """Run one call: (its record for the steps, the text the model gets back)."""
    record: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    tool = tools.get(call.name)
    problem: str | None = None
    if tool is None:
        known = ", ".join(sorted(tools)) or "none"
        problem = f"there is no tool {call.name!r}; the tools are: {known}"
    elif getattr(call, "invalid_arguments", None) is not None or not isinstance(call.arguments, dict):
        raw = str(getattr(call, "invalid_arguments", None) or call.arguments)
        problem = f"the arguments must be a JSON object; got {raw[:200]!r}"
    else:
        problem = argument_problem(tool.parameters, call.arguments)
    if problem is None and tool is not None:
        try:
            async with asyncio.timeout(limits.tool_timeout_s):
                result = await tool.call(dict(call.arguments))
        except TimeoutError:
            problem = f"the tool did not finish within {limits.tool_timeout_s:g} s"
        except ToolFailed as exc:
            problem = str(exc)
        except fatal:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem = _describe(exc)
        else:
            text = json.dumps(result, default=str, ensure_ascii=False)
            if len(text) > limits.tool_result_chars:
                text = (
                    text[: limits.tool_result_chars] + f"… [cut: the result has {len(text):,} characters, "
                    f"{limits.tool_result_chars:,} are shown]"
                )
                record["truncated"] = True
            record["result"] = result if not record.get("truncated") else text
            return record, text
    record["error"] = problem
    return record, json.dumps({"error": problem}, ensure_ascii=False)


def argument_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not fit the tool's JSON schema, or None."""
    problem = first_error(schema, arguments)
    if problem is None:
        return None
    where, why = problem
    return f"invalid arguments{f' at {where}' if where else ''}: {why}"


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or getattr(exc, "detail", None) or str(exc)
    return str(message) or type(exc).__name__
