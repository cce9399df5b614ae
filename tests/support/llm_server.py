"""A local server playing an LLM provider's HTTP API as the real ones speak it: OpenAI
(`POST /v1/chat/completions`, with `stream: true` server-sent chunks of `delta.content` and
`delta.tool_calls` fragments; `POST /v1/embeddings`; `GET /v1/models`) and Anthropic
(`POST /v1/messages`, with its server-sent events message_start … message_stop, text and tool_use
blocks). Both run on one loopback port with uvicorn; a client picks one by the path it calls.

Tests script it and read what it was sent:

    async with fake_llm() as llm:
        llm.reply(tool_call("search", {"q": "refunds"}), text("Refunds take 5 days."))
        ... point a model at llm.url (OpenAI: f"{llm.url}/v1", Anthropic: llm.url) ...
        assert llm.requests[1].body["messages"][-1]["role"] == "tool"

`reply(...)` queues the answers of the next chat calls (both protocols share the queue); with the
queue empty a chat call answers "echo: <the last user message>". `reply_embeddings(...)` queues
the next embedding answers; with none queued an embedding is a bag-of-words vector (words hashed
into `embedding_dimensions` buckets, L2-normalised), so texts sharing words are near each other.
Scripted answers can be an HTTP error in the provider's own error shape, garbage, slow, or a stream
that breaks off. If `api_key` is set, calls without it get the provider's 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.server import free_port

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MODELS = ("fake-gpt", "fake-embed")


@dataclass
class Reply:
    """One scripted answer. Build with `text`, `tool_call`, `error`, `garbage`, `slow`, `broken`."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    """(name, arguments); arguments as a string are sent as they are (e.g. invalid JSON)."""
    status: int = 200
    error_message: str = ""
    raw: bytes | None = None
    """Sent as the body instead of a proper answer (garbage), with status `status`."""
    delay: float = 0.0
    """Seconds before the answer (or, streaming, before its first event)."""
    chunk_delay: float = 0.0
    """Seconds between stream events."""
    break_stream: bool = False
    """Streaming: stop after the first content event, without the closing events."""
    usage: tuple[int, int] | None = None
    """(prompt, completion) tokens to report; default: words counted."""
    finish_reason: str | None = None
    """OpenAI-named ("stop", "tool_calls", "length"); default from the content."""
    headers: dict[str, str] = field(default_factory=dict)


def text(answer: str, **options: Any) -> Reply:
    return Reply(text=answer, **options)


def tool_call(
    name: str, arguments: dict[str, Any] | str, *more: tuple[str, dict[str, Any]], **options: Any
) -> Reply:
    """An answer asking for one tool (or several: pass more (name, arguments) pairs)."""
    return Reply(tool_calls=[(name, arguments), *more], **options)


def error(status: int, message: str = "", **options: Any) -> Reply:
    """An HTTP error in the provider's own error shape."""
    return Reply(status=status, error_message=message, **options)


def garbage(body: bytes = b"<html>Bad gateway</html>", status: int = 200) -> Reply:
    return Reply(raw=body, status=status)


def slow(seconds: float, reply: Reply | None = None) -> Reply:
    reply = reply or Reply(text="finally")
    reply.delay = seconds
    return reply


def broken(answer: str = "This answer breaks off") -> Reply:
    return Reply(text=answer, break_stream=True)


@dataclass
class EmbeddingReply:
    vectors: list[list[float]] | None = None
    """Exact vectors to answer (one per input); default: bag-of-words vectors."""
    dimensions: int | None = None
    """Answer vectors of this size instead of the configured one (a wrong-size test)."""
    status: int = 200
    error_message: str = ""
    raw: bytes | None = None
    delay: float = 0.0


@dataclass
class Recorded:
    """A request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """Parsed JSON (None if the body was not JSON)."""

    @property
    def protocol(self) -> str:
        return "anthropic" if self.path.endswith("/messages") else "openai"


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(_words(v) for v in value.values())
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    return 0


def bag_of_words(texts: list[str], dimensions: int) -> np.ndarray:
    """Each text's words hashed into `dimensions` buckets, L2-normalised (float32)."""
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, value in enumerate(texts):
        for word in re.findall(r"\w+", value.lower()):
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            out[row, bucket % dimensions] += 1.0
        norm = float(np.linalg.norm(out[row]))
        if norm == 0:
            out[row, 0] = 1.0
        else:
            out[row] /= norm
    return out


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def _pieces(value: str, size: int = 7) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)]


@dataclass
class FakeLLM:
    url: str = ""
    api_key: str | None = None
    """If set, calls must carry it (OpenAI: Authorization: Bearer; Anthropic: x-api-key)."""
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    """What GET /v1/models lists."""
    known_models: set[str] | None = None
    """If set, a call naming another model gets the provider's 404."""
    embedding_dimensions: int = 64
    max_embedding_inputs: int = 2048
    requests: list[Recorded] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    embedding_replies: deque[EmbeddingReply] = field(default_factory=deque)
    _ids: count[int] = field(default_factory=lambda: count(1))

    # ------------------------------------------------------------------ scripting

    def reply(self, *replies: Reply | str) -> None:
        """Queue the answers of the next chat calls (a string is a text answer)."""
        self.replies.extend(text(r) if isinstance(r, str) else r for r in replies)

    def reply_embeddings(self, *replies: EmbeddingReply) -> None:
        self.embedding_replies.extend(replies)

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(("/chat/completions", "/messages"))]

    def last(self) -> Recorded:
        return self.requests[-1]

    # ------------------------------------------------------------------ shared

    async def _record(self, request: Request) -> Recorded:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        recorded = Recorded(request.method, request.url.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    def _next(self, recorded: Recorded) -> Reply:
        if self.replies:
            return self.replies.popleft()
        messages = (recorded.body or {}).get("messages") or []
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        content = "" if last_user is None else last_user.get("content", "")
        if isinstance(content, list):  # content blocks
            content = " ".join(b.get("text", "") for b in content if isinstance(b, dict))
        return Reply(text=f"echo: {content}")

    def _usage(self, recorded: Recorded, reply: Reply) -> tuple[int, int]:
        if reply.usage is not None:
            return reply.usage
        body = recorded.body or {}
        prompt = _words(body.get("messages")) + _words(body.get("system")) + 3
        completion = len(reply.text.split()) + sum(len(json.dumps(a).split()) for _, a in reply.tool_calls)
        return prompt, max(completion, 1)

    @staticmethod
    def _arguments_json(arguments: dict[str, Any] | str) -> str:
        return arguments if isinstance(arguments, str) else json.dumps(arguments)

    # ------------------------------------------------------------------ OpenAI

    @staticmethod
    def _openai_error(status: int, message: str, kind: str, code: str | None = None) -> Response:
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status)

    def _openai_refusal(self, recorded: Recorded) -> Response | None:
        authorization = recorded.headers.get("authorization", "")
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            shown = authorization.removeprefix("Bearer ")
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                if not shown
                else f"Incorrect API key provided: {shown[:3]}***. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return self._openai_error(401, message, "invalid_request_error", "invalid_api_key")
        if not isinstance(recorded.body, dict):
            return self._openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        model = recorded.body.get("model")
        if self.known_models is not None and model not in self.known_models:
            return self._openai_error(
                404, f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error", "model_not_found",
            )  # fmt: skip
        return None

    def _openai_scripted_error(self, reply: Reply) -> Response | None:
        if reply.raw is not None:
            return Response(reply.raw, reply.status, headers=reply.headers, media_type="text/html")
        if reply.status != 200:
            kinds = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded",
                     500: "server_error", 503: "server_error"}  # fmt: skip
            message = reply.error_message or f"fake error {reply.status}"
            response = self._openai_error(reply.status, message, kinds.get(reply.status, "api_error"))
            response.headers.update(reply.headers)
            return response
        return None

    async def openai_chat(self, request: Request) -> Response:
        recorded = await self._record(request)
        refusal = self._openai_refusal(recorded)
        if refusal is not None:
            return refusal
        body = recorded.body
        reply = self._next(recorded)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        scripted = self._openai_scripted_error(reply)
        if scripted is not None:
            return scripted
        model = str(body.get("model"))
        ident = f"chatcmpl-fake{next(self._ids)}"
        calls = [(f"call_fake{next(self._ids)}", name, args) for name, args in reply.tool_calls]
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        prompt, completion = self._usage(recorded, reply)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.text if reply.text or not calls else None,
            }
            if calls:
                message["tool_calls"] = [
                    {
                        "id": cid,
                        "type": "function",
                        "function": {"name": name, "arguments": self._arguments_json(args)},
                    }
                    for cid, name, args in calls
                ]
            answer = {
                "id": ident, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage, "system_fingerprint": "fp_fake",
            }  # fmt: skip
            return JSONResponse(answer, headers=reply.headers)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            data = {
                "id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }  # fmt: skip
            if include_usage:
                data["usage"] = None
            return _sse(data)

        async def events() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in _pieces(reply.text):
                yield chunk({"content": piece})
                if reply.break_stream:
                    return
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
            for index, (cid, name, args) in enumerate(calls):
                start = {
                    "index": index,
                    "id": cid,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                yield chunk({"tool_calls": [start]})
                for piece in _pieces(self._arguments_json(args), 5):
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    if reply.break_stream:
                        return
            yield chunk({}, finish)
            if include_usage:
                yield _sse({"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "choices": [], "usage": usage})  # fmt: skip
            yield _sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream", headers=reply.headers)

    async def openai_embeddings(self, request: Request) -> Response:
        recorded = await self._record(request)
        refusal = self._openai_refusal(recorded)
        if refusal is not None:
            return refusal
        body = recorded.body
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            return self._openai_error(400, "'input' must be a string or a non-empty array of strings.",
                                      "invalid_request_error")  # fmt: skip
        if len(inputs) > self.max_embedding_inputs:
            return self._openai_error(
                400,
                f"'input' : maximum {self.max_embedding_inputs} inputs per request.",
                "invalid_request_error",
            )
        reply = self.embedding_replies.popleft() if self.embedding_replies else EmbeddingReply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, reply.status, media_type="text/html")
        if reply.status != 200:
            return self._openai_error(
                reply.status, reply.error_message or f"fake error {reply.status}", "api_error"
            )
        dimensions = reply.dimensions or body.get("dimensions") or self.embedding_dimensions
        vectors = (
            reply.vectors if reply.vectors is not None else bag_of_words(inputs, int(dimensions)).tolist()
        )
        tokens = _words(inputs)
        return JSONResponse({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })  # fmt: skip

    async def list_models(self, request: Request) -> Response:
        recorded = await self._record(request)
        if "anthropic-version" in recorded.headers:
            if self.api_key is not None and recorded.headers.get("x-api-key") != self.api_key:
                return self._anthropic_error(401, "invalid x-api-key", "authentication_error")
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in self.models]  # fmt: skip
            first, last = (self.models[0], self.models[-1]) if self.models else (None, None)
            return JSONResponse({"data": data, "has_more": False, "first_id": first, "last_id": last})
        if self.api_key is not None and recorded.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._openai_error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        return JSONResponse({
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                     for m in self.models],
        })  # fmt: skip

    # ------------------------------------------------------------------ Anthropic

    @staticmethod
    def _anthropic_error(status: int, message: str, kind: str) -> Response:
        return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)

    async def anthropic_messages(self, request: Request) -> Response:
        recorded = await self._record(request)
        headers = recorded.headers
        if self.api_key is not None and headers.get("x-api-key") != self.api_key:
            return self._anthropic_error(401, "invalid x-api-key", "authentication_error")
        if "anthropic-version" not in headers:
            return self._anthropic_error(
                400, "anthropic-version: header is required", "invalid_request_error"
            )
        body = recorded.body
        if not isinstance(body, dict):
            return self._anthropic_error(400, "There was an error parsing the body", "invalid_request_error")
        if not isinstance(body.get("max_tokens"), int):
            return self._anthropic_error(400, "max_tokens: Field required", "invalid_request_error")
        model = str(body.get("model"))
        if self.known_models is not None and model not in self.known_models:
            return self._anthropic_error(404, f"model: {model}", "not_found_error")
        reply = self._next(recorded)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, reply.status, headers=reply.headers, media_type="text/html")
        if reply.status != 200:
            kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                     404: "not_found_error", 429: "rate_limit_error", 500: "api_error",
                     529: "overloaded_error"}  # fmt: skip
            response = self._anthropic_error(
                reply.status,
                reply.error_message or f"fake error {reply.status}",
                kinds.get(reply.status, "api_error"),
            )
            response.headers.update(reply.headers)
            return response
        ident = f"msg_fake{next(self._ids)}"
        calls = [(f"toolu_fake{next(self._ids)}", name, args) for name, args in reply.tool_calls]
        stops = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
        stop_reason = stops.get(reply.finish_reason or ("tool_calls" if calls else "stop"), "end_turn")
        prompt, completion = self._usage(recorded, reply)
        if not body.get("stream"):
            content: list[dict[str, Any]] = []
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            for cid, name, args in calls:
                arguments = args if isinstance(args, dict) else {"_raw": args}
                content.append({"type": "tool_use", "id": cid, "name": name, "input": arguments})
            answer = {
                "id": ident, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop_reason, "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            }  # fmt: skip
            return JSONResponse(answer, headers=reply.headers)

        async def events() -> AsyncIterator[bytes]:
            start: dict[str, Any] = {
                     "id": ident, "type": "message", "role": "assistant", "content": [], "model": model,
                     "stop_reason": None, "stop_sequence": None,
                     "usage": {"input_tokens": prompt, "output_tokens": 1}}  # fmt: skip
            yield _sse({"type": "message_start", "message": start}, "message_start")
            index = 0
            if reply.text:
                block = {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                }
                yield _sse(block, "content_block_start")
                yield _sse({"type": "ping"}, "ping")
                for piece in _pieces(reply.text):
                    delta = {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    }
                    yield _sse(delta, "content_block_delta")
                    if reply.break_stream:
                        return
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
                index = 1
            for offset, (cid, name, args) in enumerate(calls):
                at = index + offset
                tool_block = {"type": "tool_use", "id": cid, "name": name, "input": {}}
                block = {"type": "content_block_start", "index": at, "content_block": tool_block}
                yield _sse(block, "content_block_start")
                for piece in _pieces(self._arguments_json(args), 5):
                    delta = {"type": "content_block_delta", "index": at,
                             "delta": {"type": "input_json_delta", "partial_json": piece}}  # fmt: skip
                    yield _sse(delta, "content_block_delta")
                    if reply.break_stream:
                        return
                yield _sse({"type": "content_block_stop", "index": at}, "content_block_stop")
            end = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                   "usage": {"output_tokens": completion}}  # fmt: skip
            yield _sse(end, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(events(), media_type="text/event-stream", headers=reply.headers)

    def app(self) -> Starlette:
        routes = []
        for prefix in ("/v1", ""):  # OpenAI clients are given ".../v1"; some servers serve without it
            routes += [
                Route(f"{prefix}/chat/completions", self.openai_chat, methods=["POST"]),
                Route(f"{prefix}/embeddings", self.openai_embeddings, methods=["POST"]),
                Route(f"{prefix}/models", self.list_models, methods=["GET"]),
            ]
        routes.append(Route("/v1/messages", self.anthropic_messages, methods=["POST"]))
        return Starlette(routes=routes)

    @property
    def openai_url(self) -> str:
        """The base URL an OpenAI client takes (…/v1)."""
        return f"{self.url}/v1"


@asynccontextmanager
async def fake_llm(**options: Any) -> AsyncIterator[FakeLLM]:
    fake = FakeLLM(**options)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        server.force_exit = True  # do not wait for a slow answer still being written
        await task


@contextmanager
def fake_llm_in_thread(**options: Any) -> Iterator[FakeLLM]:
    """The same server on a thread of its own, for tests without an event loop (browser tests)."""
    fake = FakeLLM(**options)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake LLM server did not start")
        time.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(10)
