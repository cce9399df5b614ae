"""MCP nodes: `mcp.client` lists or calls the tools of a Model Context Protocol server.

The client speaks MCP's streamable HTTP transport itself (JSON-RPC POSTs answered with JSON or
a server-sent event stream, the `Mcp-Session-Id` header kept for the session) over the SSRF-
guarded httpx client every node uses, so the server's address is checked where the connection
is made, each answer is read up to a size cap (and a session's answers together up to another),
and each request has one deadline for the whole exchange: connecting, the headers and the body
(an event stream is read only until the answer to the request has arrived, so a server that
keeps it open with keep-alive pings or a trickle cannot hold the node past `timeout_s`). (The
SDK's client brings its own HTTP stack, which the guard cannot sit under:
docs/decisions/0014-mcp.md.)
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, Literal

import httpx
from pydantic import Field

from wirework import __version__
from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import CredentialSlot, Node, NodeContext, NodeParameters
from wirework.errors import BadRequest
from wirework.security.bodies import parse_json
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, guarded_client

CATEGORY: Final = "AI"
PROTOCOL_VERSION: Final = "2025-06-18"
MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
"""An answer (JSON or the event stream of one request) at most this big."""
MAX_SESSION_BYTES: Final = 64 * 1024 * 1024
"""All the answers of one session (one server in one node run) at most this big together."""
MAX_PAGES: Final = 20
"""tools/list pages followed (nextCursor) at most."""
ERROR_CHARS: Final = 300


class McpError(NodeError):
    """The MCP server could not be reached, refused, or answered something that is not MCP."""


class McpToolFailed(NodeError):
    """The server ran the tool and says it failed: running it again would not help."""

    retryable = False


class McpClientParameters(NodeParameters):
    server_url: str = Field(
        min_length=1,
        max_length=2000,
        description="The MCP server's streamable HTTP endpoint, e.g. https://host/mcp.",
    )
    operation: Literal["list_tools", "call_tool"] = Field(
        "call_tool", description="list_tools: one item per tool; call_tool: one call per item."
    )
    tool: str | None = Field(None, max_length=200, description="call_tool: the tool's name.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="call_tool: the tool's arguments; values may be expressions."
    )
    on_tool_error: Literal["fail", "output"] = Field(
        "fail",
        description="A result the server marks as an error: fail the item, or output it (is_error true).",
    )
    timeout_s: float = Field(
        30,
        gt=0,
        le=300,
        description="Time limit of each request to the server, connecting included.",
    )


class McpSession:
    """One MCP session over streamable HTTP: initialize, then requests; closed with a DELETE."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str | None, timeout_s: float) -> None:
        self.client = client
        self.url = url
        self.timeout_s = timeout_s
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.session_id: str | None = None
        self._next_id = 0
        self.server_name = ""
        self.received = 0
        """Bytes of answers read in this session (at most MAX_SESSION_BYTES)."""

    async def open(self) -> None:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "wirework", "version": __version__},
            },
        )
        version = result.get("protocolVersion")
        if isinstance(version, str):
            self.headers["MCP-Protocol-Version"] = version
        self.server_name = str((result.get("serverInfo") or {}).get("name") or "")
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, None)

    async def close(self) -> None:
        if self.session_id is None:
            return
        # The server may not allow it (405); the session then expires on its own.
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(self.timeout_s):
                await self.client.delete(self.url, headers=self._headers(), timeout=self.timeout_s)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        answer = await self._post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}, self._next_id
        )
        if answer is None:
            raise McpError(f"The MCP server did not answer {method}.")
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise McpError(
                f"The MCP server refused {method}: {str(error.get('message', ''))[:ERROR_CHARS]} "
                f"(code {error.get('code')})"
            )
        result = answer.get("result")
        if not isinstance(result, dict):
            raise McpError(f"The MCP server's answer to {method} has no result object.")
        return result

    def _headers(self) -> dict[str, str]:
        if self.session_id is None:
            return self.headers
        return {**self.headers, "Mcp-Session-Id": self.session_id}

    async def _post(self, message: dict[str, Any], request_id: int | None) -> dict[str, Any] | None:
        """One JSON-RPC message: its answer (None for a notification), within `timeout_s` in all."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(message, request_id)
        except (TimeoutError, httpx.TimeoutException):
            raise McpError(
                f"The MCP server at {self.url} did not answer within {self.timeout_s:g} s."
            ) from None

    async def _exchange(self, message: dict[str, Any], request_id: int | None) -> dict[str, Any] | None:
        try:
            async with self.client.stream(
                "POST", self.url, json=message, headers=self._headers(), timeout=self.timeout_s
            ) as response:
                if "mcp-session-id" in response.headers:
                    self.session_id = response.headers["mcp-session-id"][:200]
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if request_id is not None and response.status_code == 200 and kind == "text/event-stream":
                    # Read only until the answer: the server may keep the stream open.
                    return await self._answer_in_stream(response, request_id)
                body = await self._read_capped(response)
        except SsrfBlocked as exc:
            raise McpError(f"The MCP server's address is not allowed: {exc}") from None
        except httpx.HTTPError as exc:
            raise McpError(
                f"The MCP server at {self.url} cannot be reached: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code in (401, 403):
            raise McpError(
                f"The MCP server refused the request ({response.status_code}): check the bearer credential. "
                f"{_snippet(body)}"
            )
        if request_id is None:
            if response.status_code >= 400:
                raise McpError(f"The MCP server answered {response.status_code}: {_snippet(body)}")
            return None
        if response.status_code != 200:
            raise McpError(f"The MCP server answered {response.status_code}: {_snippet(body)}")
        if kind == "application/json":
            return _matching(_loads(body), request_id)
        raise McpError(f"The MCP server answered {kind or 'no content type'}, not JSON or an event stream.")

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's bytes, within the answer's and the session's size caps."""
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            self.received += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise McpError(f"The MCP server's answer is larger than {MAX_RESPONSE_BYTES} bytes.")
            if self.received > MAX_SESSION_BYTES:
                raise McpError(
                    f"The MCP server's answers in this run exceed {MAX_SESSION_BYTES} bytes together."
                )
            yield chunk

    async def _read_capped(self, response: httpx.Response) -> bytes:
        return b"".join([chunk async for chunk in self._chunks(response)])

    async def _answer_in_stream(self, response: httpx.Response, request_id: int) -> dict[str, Any] | None:
        """The answer to `request_id` from an event stream, read event by event until it comes
        (notifications before it are skipped); None if the stream ends without it."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""  # text after the last complete event
        async for chunk in self._chunks(response):
            text = pending + decoder.decode(chunk)
            held = "\r" if text.endswith("\r") else ""  # maybe half of a CRLF
            text = text[: len(text) - len(held)].replace("\r\n", "\n")
            # Only the new text can complete an event: search from just before it.
            start = max(0, len(pending) - 1)
            while (end := text.find("\n\n", start)) >= 0:
                found = _event_answer(text[:end], request_id)
                if found is not None:
                    return found
                text, start = text[end + 2 :], 0
            pending = text + held
        rest = (pending + decoder.decode(b"", final=True)).replace("\r\n", "\n")
        for event in rest.split("\n\n"):
            found = _event_answer(event, request_id)
            if found is not None:
                return found
        return None


def _snippet(body: bytes) -> str:
    return body[:ERROR_CHARS].decode("utf-8", "replace")


def _loads(data: bytes | str) -> Any:
    """Strict JSON (no NaN, NUL or lone surrogates, bounded depth and size), as the API reads it."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        return parse_json(raw)
    except BadRequest as exc:
        reason = exc.errors[0]["msg"] if exc.errors else exc.detail
        raise McpError(
            f"The MCP server's answer is not JSON we can use ({reason}): {_snippet(raw)}"
        ) from None


def _matching(value: Any, request_id: int) -> dict[str, Any] | None:
    messages = value if isinstance(value, list) else [value]
    for message in messages:
        if isinstance(message, dict) and message.get("id") == request_id:
            return message
    return None


def _event_answer(event: str, request_id: int) -> dict[str, Any] | None:
    """The answer to `request_id` if this server-sent event carries it."""
    data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
    return _matching(_loads(data), request_id) if data else None


def _text_of(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "\n".join(
        str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type") == "text"
    )


class McpClient(Node):
    type = "mcp.client"
    display_name = "MCP client"
    description = (
        "Lists or calls the tools of an MCP server (streamable HTTP), e.g. another Wirework's /mcp. "
        "call_tool outputs the result's text, content and structured content."
    )
    category = CATEGORY
    icon = "plug"
    Parameters = McpClientParameters
    credential_slots = (
        CredentialSlot(
            "bearer", "http_bearer_token", False, "Sent as Authorization: Bearer (e.g. a Wirework API key)."
        ),
    )

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        policy = getattr(ctx.services, "ssrf_policy", None)
        if not isinstance(policy, SsrfPolicy):
            policy = SsrfPolicy()
        token = await self._token(ctx)
        out: Items = []
        async with guarded_client(policy) as client:
            sessions: dict[tuple[str, float], McpSession] = {}
            try:
                for index in range(len(ctx.items)):
                    with ctx.item_guard(index):
                        params = ctx.params(McpClientParameters, index)
                        key = (params.server_url, params.timeout_s)
                        session = sessions.get(key)
                        if session is None:
                            session = McpSession(client, params.server_url, token, params.timeout_s)
                            await session.open()
                            sessions[key] = session
                        out.extend(await self._one(session, params, index))
            finally:
                for session in sessions.values():
                    await session.close()
        return {"main": out}

    @staticmethod
    async def _token(ctx: NodeContext) -> str | None:
        if "bearer" not in ctx.node.credentials:
            return None
        credential = getattr(ctx.services, "credential", None)
        if credential is None:
            raise NodeError("Credentials are not available in this run.")
        values: Mapping[str, Any] = await credential(ctx.node, "bearer")
        token = values.get("token")
        return str(token) if token else None

    @staticmethod
    async def _one(session: McpSession, params: McpClientParameters, index: int) -> Items:
        if params.operation == "list_tools":
            if index > 0:  # the list does not depend on the item: once per run
                return []
            tools: Items = []
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await session.request("tools/list", {"cursor": cursor} if cursor else {})
                for tool in page.get("tools") or []:
                    if isinstance(tool, dict):
                        tools.append(
                            {
                                "name": tool.get("name"),
                                "description": tool.get("description"),
                                "input_schema": tool.get("inputSchema"),
                            }
                        )
                cursor = page.get("nextCursor")
                if not cursor:
                    break
            return tools
        if not params.tool:
            raise ParameterError("call_tool needs the tool's name (parameter tool).")
        result = await session.request("tools/call", {"name": params.tool, "arguments": params.arguments})
        text = _text_of(result.get("content"))
        is_error = bool(result.get("isError"))
        if is_error and params.on_tool_error == "fail":
            raise McpToolFailed(f"The tool {params.tool} failed: {text[:ERROR_CHARS]}")
        return [
            {
                "tool": params.tool,
                "is_error": is_error,
                "text": text,
                "structured_content": result.get("structuredContent"),
                "content": result.get("content") or [],
            }
        ]


MCP_NODES: tuple[type[Node], ...] = (McpClient,)
