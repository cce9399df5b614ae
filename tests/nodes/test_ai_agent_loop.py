"""The agent loop's bounds without a database or a model server: time per tool call, size of
tool results, total time, fatal errors; and how the HTTP tool builds its request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from wirework.ai.agent import AgentLimits, AgentStopped, run_agent
from wirework.ai.llm import ChatRequest, ChatResult, Message, ToolCall, Usage
from wirework.ai.tools import HttpTool, ToolFailed, WorkflowTool
from wirework.security.ssrf import SsrfPolicy


class Script:
    """A chat function answering from a list: tool calls (name, arguments) or a final text."""

    def __init__(self, *answers: Any, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []
        self.delay = delay

    async def __call__(self, request: ChatRequest) -> ChatResult:
        self.requests.append(ChatRequest(list(request.messages), request.tools))
        await asyncio.sleep(self.delay)
        answer = self.answers.pop(0)
        calls = (
            [ToolCall(f"c{len(self.requests)}", n, a) for n, a in answer] if isinstance(answer, list) else []
        )
        text = answer if isinstance(answer, str) else ""
        return ChatResult(text, calls, Usage(10, 2), "tool_calls" if calls else "stop", "scripted")


def workflow_tool(name: str, run: Any) -> WorkflowTool:
    return WorkflowTool(name=name, description=name, workflow_id="w", run=run)


async def test_a_slow_tool_is_cut_off_and_a_long_result_is_cut_to_size() -> None:
    async def slow(workflow_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await asyncio.sleep(5)
        return items

    async def long(workflow_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"text": "x" * 10_000}]

    chat = Script([("slow", {})], [("long", {})], "done")
    result = await run_agent(
        chat,
        [Message("user", "go")],
        [workflow_tool("slow", slow), workflow_tool("long", long)],
        AgentLimits(tool_timeout_s=0.05, tool_result_chars=100),
    )
    assert result.text == "done" and result.iterations == 3 and result.usage == Usage(30, 6)
    assert result.steps[0]["tool_calls"][0]["error"] == "the tool did not finish within 0.05 s"
    cut = result.steps[1]["tool_calls"][0]
    assert cut["truncated"] is True
    sent = chat.requests[2].messages[-1].content
    assert sent.startswith('{"text": "xxx') and sent.endswith(
        "[cut: the result has 10,012 characters, 100 are shown]"
    )
    assert len(sent) < 200


async def test_the_whole_loop_has_a_time_limit_and_fatal_errors_end_it() -> None:
    async def echo(workflow_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items

    with pytest.raises(AgentStopped, match=r"did not finish within 0.2 s \(timeout_s\)"):
        await run_agent(
            Script(*[[("echo", {})]] * 10, delay=0.08),
            [Message("user", "go")],
            [workflow_tool("echo", echo)],
            AgentLimits(max_iterations=10, total_timeout_s=0.2),
        )

    class Refused(Exception):
        pass

    async def refuse(workflow_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise Refused("the chain has started 1000 runs")

    with pytest.raises(Refused):
        await run_agent(
            Script([("refuse", {})], "never"),
            [Message("user", "go")],
            [workflow_tool("refuse", refuse)],
            AgentLimits(),
            fatal=(Refused,),
        )
    # Not fatal: the model is told, and answers.
    told = await run_agent(
        Script([("refuse", {})], "I could not."),
        [Message("user", "go")],
        [workflow_tool("refuse", refuse)],
        AgentLimits(),
    )
    assert told.steps[0]["tool_calls"][0]["error"] == "the chain has started 1000 runs"
    assert json.loads(told.messages[-1].content) == {"error": "the chain has started 1000 runs"}


def test_the_http_tool_fills_its_url_and_sends_the_rest_as_query_or_body() -> None:
    get = HttpTool(name="w", description="d", url="https://api.example.com/city/{city}", policy=SsrfPolicy())
    assert get.request_of({"city": "São Paulo/../x", "units": "metric", "days": 3}) == (
        "https://api.example.com/city/S%C3%A3o%20Paulo%2F..%2Fx",
        {"units": "metric", "days": "3"},
        None,
    )
    post = HttpTool(
        name="w", description="d", url="https://api.example.com/orders", policy=SsrfPolicy(), method="POST"
    )
    assert post.request_of({"item": "book", "qty": 2}) == (
        "https://api.example.com/orders",
        {},
        {"item": "book", "qty": 2},
    )
    with pytest.raises(ToolFailed, match="argument 'city' is required"):
        get.request_of({})
