"""Tools an AI agent may call: the `Tool` protocol and the tools Wirework ships with.

A tool has a name, a description the model reads, the JSON schema of its arguments, and an
`async call(arguments) -> JSON`. The agent loop (`ai.agent`) knows tools only through this
protocol, so any kind of tool plugs in by implementing it — BASIC scripts as tools (a later
issue) will be one more class here; nothing else changes.

Shipped tools:
- `WorkflowTool` runs a workflow of the organization with the arguments as its one input item
  (through the runtime's sub-workflow runner, so the chain's fan-out limits apply);
- `HttpTool` calls a URL built from a template, through the SSRF guard, its answer capped;
- `KnowledgeTool` searches knowledge-base collections (the caller gives the search function).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from wirework.ai.llm import ToolSpec
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, guarded_client

TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What OpenAI and Anthropic both accept as a tool (function) name."""
HTTP_MAX_RESPONSE_BYTES: Final = 1024 * 1024
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

EMPTY_OBJECT: Final[dict[str, Any]] = {"type": "object", "properties": {}}


class ToolFailed(Exception):
    """A tool could not do what it was asked; the message goes back to the model as the result."""


@runtime_checkable
class Tool(Protocol):
    """What the agent calls. Implementations: WorkflowTool, HttpTool, KnowledgeTool (BASIC
    scripts later). `call` gets arguments already checked against `parameters` and returns
    any JSON value; it raises ToolFailed (or anything else) when it fails, which the agent
    answers to the model as a tool error so it can try again."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    async def call(self, arguments: dict[str, Any]) -> Any: ...


def spec_of(tool: Tool) -> ToolSpec:
    """The provider-neutral description of a tool the model receives."""
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)


SubworkflowRunner = Callable[[str, list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class WorkflowTool:
    """Runs workflow `workflow_id` with the arguments as its input item; the result is the
    workflow's last node's item (or its items when there are several)."""

    name: str
    description: str
    workflow_id: str
    run: SubworkflowRunner
    parameters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_OBJECT))

    async def call(self, arguments: dict[str, Any]) -> Any:
        items = await self.run(self.workflow_id, [dict(arguments)])
        if len(items) == 1:
            return items[0]
        return items


@dataclass(frozen=True)
class HttpTool:
    """Calls `url` (a template: `{city}` takes the argument `city`, URL-encoded). Arguments the
    template does not use go in the query (GET, DELETE) or as a JSON body (POST, PUT, PATCH).
    Every request passes the SSRF guard; redirects are not followed; the answer is read up to
    `max_bytes` (more is an error) and returned as {status, body} (JSON when it parses)."""

    name: str
    description: str
    url: str
    policy: SsrfPolicy
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_OBJECT))
    timeout_s: float = 30.0
    max_bytes: int = HTTP_MAX_RESPONSE_BYTES

    def request_of(self, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any], Any]:
        """(url, query, json body) for these arguments."""
        used: set[str] = set()

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in arguments:
                raise ToolFailed(f"argument {key!r} is required (the URL uses it)")
            used.add(key)
            value = arguments[key]
            text = value if isinstance(value, str) else json.dumps(value)
            return quote(text, safe="")

        url = _PLACEHOLDER.sub(fill, self.url)
        rest = {k: v for k, v in arguments.items() if k not in used}
        if self.method.upper() in _BODY_METHODS:
            return url, {}, rest or None
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in rest.items()}
        return url, query, None

    async def call(self, arguments: dict[str, Any]) -> Any:
        url, query, body = self.request_of(arguments)
        try:
            async with (
                guarded_client(self.policy, timeout=self.timeout_s) as client,
                client.stream(
                    self.method.upper(), url, params=query or None, json=body, headers=dict(self.headers)
                ) as response,
            ):
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > self.max_bytes:
                        raise ToolFailed(
                            f"the answer of {_safe(url)} is larger than {self.max_bytes:,} bytes"
                        )
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except SsrfBlocked as exc:
            raise ToolFailed(f"refused by the SSRF guard: {exc}") from None
        except httpx.TimeoutException:
            raise ToolFailed(f"{_safe(url)} did not answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolFailed(f"cannot reach {_safe(url)}: {exc or type(exc).__name__}") from None
        text = data.decode("utf-8", errors="replace")
        answer: Any = text
        if "json" in content_type or text[:1] in ("{", "["):
            try:
                answer = json.loads(text)
            except ValueError:
                answer = text
        return {"status": status, "body": answer}


def _safe(url: str) -> str:
    """The URL without its query (which may hold secrets from the arguments or template)."""
    return url.split("?", 1)[0]


Search = Callable[[str, int], Awaitable[list[Any]]]
"""(query, limit) → hits with document_name, content, score (knowledge.service.SearchHit)."""


@dataclass(frozen=True)
class KnowledgeTool:
    """Searches knowledge-base collections with the query the model writes; the result is the
    best passages with their document names and scores."""

    name: str
    description: str
    search: Search
    limit: int = 5
    parameters: dict[str, Any] = field(
        default_factory=lambda: {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look for, in words."}},
            "required": ["query"],
        }
    )

    async def call(self, arguments: dict[str, Any]) -> Any:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolFailed("give a non-empty 'query'")
        hits = await self.search(query, self.limit)
        return [
            {"document": hit.document_name, "content": hit.content, "score": round(float(hit.score), 4)}
            for hit in hits
        ]
