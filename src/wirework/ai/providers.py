"""The wire protocols of model servers, spoken with plain httpx through the SSRF guard: OpenAI's
`/chat/completions` and `/embeddings` (OpenAI itself and every compatible server: Ollama,
llama.cpp, vLLM, LM Studio) and Anthropic's `/v1/messages`. Each turns `llm` types into the
provider's JSON and back, assembles streamed answers (text and tool-call fragments), and turns
every failure into an `AIError` that names the model and server and says what to do.

Bounds: each call has a deadline (`timeout_s`, default 60 s, at most 600 s; a streamed answer may
take `STREAM_MAX_S` in all as long as events keep coming within `timeout_s`), an answer is read up
to `MAX_RESPONSE_BYTES` (streams `MAX_STREAM_BYTES`), embeddings go `EMBED_BATCH` texts a request.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import numpy as np

from wirework.ai.llm import (
    AIError,
    ChatDone,
    ChatRequest,
    ChatResult,
    Message,
    ResolvedModel,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from wirework.ai.models import ModelProvider
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, guarded_client

OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL: Final = "https://api.anthropic.com"
ANTHROPIC_VERSION: Final = "2023-06-01"
ANTHROPIC_DEFAULT_MAX_TOKENS: Final = 4096
JSON_ANSWER_TOOL: Final = "json_answer"
"""Anthropic has no JSON mode: a JSON answer is asked for as a forced call of this tool."""

DEFAULT_TIMEOUT_S: Final = 60.0
MAX_TIMEOUT_S: Final = 600.0
STREAM_MAX_S: Final = 1800.0
MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
MAX_STREAM_BYTES: Final = 64 * 1024 * 1024
EMBED_BATCH: Final = 64
MAX_ERROR_TEXT: Final = 300


def default_base_url(provider: ModelProvider) -> str | None:
    return {ModelProvider.openai: OPENAI_BASE_URL, ModelProvider.anthropic: ANTHROPIC_BASE_URL}.get(provider)


def timeout_of(model: ResolvedModel) -> float:
    raw = model.configuration.get("timeout_s")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw) and raw > 0:
        return min(float(raw), MAX_TIMEOUT_S)
    return DEFAULT_TIMEOUT_S


def _base(model: ResolvedModel) -> str:
    return (model.base_url or default_base_url(model.provider) or "").rstrip("/")


def _shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- HTTP, bounded, with clear errors


def _transport_error(model: ResolvedModel, url: str, exc: Exception, timeout: float) -> AIError:
    if isinstance(exc, SsrfBlocked):
        return AIError(f"{model.where}: {exc}")
    if isinstance(exc, httpx.InvalidURL | UnicodeError):  # a URL the client cannot parse or encode
        return AIError(
            f"{model.where}: the URL {_shorten(url, 200)} cannot be used ({_shorten(str(exc), 200)}); "
            "fix the base URL in the model's settings"
        )
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return AIError(
            f"{model.where}: the model server at {url} did not answer within {timeout:g} s; "
            "try again, or raise timeout_s in the model's settings"
        )
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        if reason == "All connection attempts failed":
            reason = "connection refused (nothing answers at that address and port)"
        return AIError(
            f"cannot reach the model server at {url}: {reason}. Is it running, and is the base URL "
            f"of {model.where} right?"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return AIError(f"{model.where}: the model server at {url} broke off the answer ({exc or 'closed'})")
    return AIError(f"{model.where}: calling {url} failed: {type(exc).__name__}: {exc}")


def _status_error(model: ResolvedModel, response: httpx.Response, body: bytes) -> AIError:
    message = ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("type") or "")
        elif isinstance(error, str):
            message = error
        elif isinstance(parsed.get("message"), str):
            message = parsed["message"]
        elif isinstance(parsed.get("detail"), str):
            message = parsed["detail"]
    if not message:
        message = body.decode("utf-8", "replace")
    status = response.status_code
    hints = {
        401: "check the API key in the model's credential",
        403: "the key may not use this model; check the credential and the model id",
        404: "check the model id and the base URL",
        408: "try again",
        413: "the request is too large for the model",
        429: "the server is rate limiting or out of quota; try again later",
    }
    hint = hints.get(status) or ("the model server failed; try again later" if status >= 500 else "")
    retry = response.headers.get("retry-after")
    if status == 429 and retry:
        hint += f" (it asks to wait {retry} s)"
    text = f"{model.where}: the server answered HTTP {status}: {_shorten(message)}"
    return AIError(f"{text}; {hint}" if hint else text)


def _not_json(model: ResolvedModel, response: httpx.Response, body: bytes) -> AIError:
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    sample = _shorten(body.decode("utf-8", "replace"), 120) or "an empty body"
    return AIError(
        f"{model.where}: the server answered something that is not JSON ({kind}: {sample!r}); "
        "is the base URL the API's root (e.g. https://api.openai.com/v1)?"
    )


async def _read_bounded(model: ResolvedModel, response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise AIError(f"{model.where}: the answer is larger than {limit / 2**20:g} MB; refused")
        chunks.append(chunk)
    return b"".join(chunks)


async def _post_json(
    model: ResolvedModel, policy: SsrfPolicy, url: str, headers: dict[str, str], payload: dict[str, Any]
) -> Any:
    """POST JSON, read a bounded JSON answer; any failure is an AIError."""
    timeout = timeout_of(model)
    try:
        async with (
            guarded_client(policy, timeout=timeout) as client,
            asyncio.timeout(timeout),
            client.stream("POST", url, json=payload, headers=headers) as response,
        ):
            body = await _read_bounded(model, response, MAX_RESPONSE_BYTES)
    except AIError:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, SsrfBlocked, TimeoutError) as exc:
        raise _transport_error(model, url, exc, timeout) from None
    if response.status_code >= 400:
        raise _status_error(model, response, body)
    try:
        return json.loads(body)
    except ValueError:
        raise _not_json(model, response, body) from None


@dataclass
class _SseEvent:
    event: str
    data: str


async def _sse_events(
    model: ResolvedModel, policy: SsrfPolicy, url: str, headers: dict[str, str], payload: dict[str, Any]
) -> AsyncIterator[_SseEvent]:
    """POST and read the answer as server-sent events, bounded in size and time: each event must
    come within `timeout_s` of the last, the whole stream within STREAM_MAX_S."""
    timeout = timeout_of(model)
    started = time.monotonic()
    try:
        async with (
            guarded_client(policy, timeout=timeout) as client,
            client.stream("POST", url, json=payload, headers=headers) as response,
        ):
            if response.status_code >= 400:
                raise _status_error(model, response, await _read_bounded(model, response, MAX_RESPONSE_BYTES))
            kind = response.headers.get("content-type", "")
            if "text/event-stream" not in kind:
                body = await _read_bounded(model, response, MAX_RESPONSE_BYTES)
                try:
                    parsed = json.loads(body)
                except ValueError:
                    raise _not_json(model, response, body) from None
                raise AIError(
                    f"{model.where}: asked for a stream, the server answered {kind or 'no content type'}: "
                    f"{_shorten(json.dumps(parsed), 200)}"
                )
            event, data = "", list[str]()
            async for line in _lines(model, response, started):
                if not line:
                    if data:
                        yield _SseEvent(event, "\n".join(data))
                    event, data = "", []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
            if data:
                yield _SseEvent(event, "\n".join(data))
    except AIError:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, SsrfBlocked, TimeoutError) as exc:
        raise _transport_error(model, url, exc, timeout) from None


async def _lines(model: ResolvedModel, response: httpx.Response, started: float) -> AsyncIterator[str]:
    """The answer's lines (LF or CR LF ended), counting every byte as it comes, so a server
    sending one endless line or trickling bytes forever is stopped too."""
    size = 0
    buffer = b""
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_STREAM_BYTES:
            raise AIError(f"{model.where}: the streamed answer passed {MAX_STREAM_BYTES / 2**20:g} MB")
        if time.monotonic() - started > STREAM_MAX_S:
            raise AIError(f"{model.where}: the streamed answer took longer than {STREAM_MAX_S:g} s")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r").decode("utf-8", "replace")
    if buffer:
        yield buffer.removesuffix(b"\r").decode("utf-8", "replace")


def _loads(model: ResolvedModel, data: str) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        raise AIError(f"{model.where}: a streamed event is not JSON: {_shorten(data, 120)!r}") from None
    if not isinstance(parsed, dict):
        raise AIError(f"{model.where}: a streamed event is not a JSON object: {_shorten(data, 120)!r}")
    return parsed


def _wrong_shape(model: ResolvedModel, what: str, answer: Any) -> AIError:
    return AIError(
        f"{model.where}: the answer has no {what} ({_shorten(json.dumps(answer), 200)}); "
        "is this server OpenAI-compatible, and the provider right?"
    )


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Tool arguments as a dict, or ({}, the raw text) when they are not a JSON object."""
    if isinstance(raw, dict):
        return raw, None
    text = "" if raw is None else str(raw)
    if not text.strip():
        return {}, None
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}, text
    return (parsed, None) if isinstance(parsed, dict) else ({}, text)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _options(model: ResolvedModel, request: ChatRequest) -> tuple[float | None, int | None]:
    temperature = request.temperature
    if temperature is None and isinstance(model.configuration.get("temperature"), int | float):
        temperature = float(model.configuration["temperature"])
    max_tokens = request.max_tokens
    if max_tokens is None and isinstance(model.configuration.get("max_tokens"), int):
        max_tokens = int(model.configuration["max_tokens"])
    return temperature, max_tokens


# ---------------------------------------------------------------- OpenAI-compatible


def _openai_headers(model: ResolvedModel) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if model.api_key:
        headers["Authorization"] = f"Bearer {model.api_key}"
    if model.organization:
        headers["OpenAI-Organization"] = model.organization
    return headers


def _openai_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.invalid_arguments or json.dumps(call.arguments),
                    },
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def openai_chat_payload(model: ResolvedModel, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model.model_id,
        "messages": [_openai_message(m) for m in request.messages],
    }
    temperature, max_tokens = _options(model, request)
    if temperature is not None:
        payload["temperature"] = temperature
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in request.tools
        ]
    if request.json_schema is not None:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": request.json_schema},
        }
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def _openai_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(_int(raw.get("prompt_tokens")), _int(raw.get("completion_tokens")))


async def openai_chat(model: ResolvedModel, request: ChatRequest, policy: SsrfPolicy) -> ChatResult:
    url = f"{_base(model)}/chat/completions"
    answer = await _post_json(
        model, policy, url, _openai_headers(model), openai_chat_payload(model, request, stream=False)
    )
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _wrong_shape(model, "choices", answer)
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _wrong_shape(model, "choices[0].message", answer)
    calls: list[ToolCall] = []
    for raw in message.get("tool_calls") or []:
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _wrong_shape(model, "tool call function name", answer)
        arguments, invalid = _arguments(function.get("arguments"))
        calls.append(
            ToolCall(str(raw.get("id") or f"call_{len(calls)}"), function["name"], arguments, invalid)
        )
    content = message.get("content")
    return ChatResult(
        text=content if isinstance(content, str) else "",
        tool_calls=calls,
        usage=_openai_usage(answer.get("usage")),
        finish_reason=str(choices[0].get("finish_reason") or ("tool_calls" if calls else "stop")),
        model=str(answer.get("model") or model.model_id),
    )


@dataclass
class _Fragment:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


async def openai_stream(
    model: ResolvedModel, request: ChatRequest, policy: SsrfPolicy
) -> AsyncIterator[StreamEvent]:
    url = f"{_base(model)}/chat/completions"
    payload = openai_chat_payload(model, request, stream=True)
    text: list[str] = []
    fragments: dict[int, _Fragment] = {}
    usage = Usage()
    finish: str | None = None
    answered_model = model.model_id
    done = False
    async for event in _sse_events(model, policy, url, _openai_headers(model), payload):
        if event.data.strip() == "[DONE]":
            done = True
            break
        chunk = _loads(model, event.data)
        if isinstance(chunk.get("error"), dict):
            raise AIError(
                f"{model.where}: the server reported an error mid-answer: {chunk['error'].get('message')}"
            )
        answered_model = str(chunk.get("model") or answered_model)
        if chunk.get("usage"):
            usage = _openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                text.append(piece)
                yield TextDelta(piece)
            for raw in delta.get("tool_calls") or []:
                if not isinstance(raw, dict):
                    continue
                fragment = fragments.setdefault(_int(raw.get("index")), _Fragment())
                if raw.get("id"):
                    fragment.id = str(raw["id"])
                function = raw.get("function") or {}
                name = str(function.get("name") or "")
                if name and name != fragment.name:  # sent once by OpenAI; some servers repeat it
                    fragment.name += name
                if function.get("arguments"):
                    fragment.arguments.append(str(function["arguments"]))
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
    if not done and finish is None:
        raise AIError(f"{model.where}: the stream ended before the answer was complete")
    calls = []
    for index in sorted(fragments):
        fragment = fragments[index]
        arguments, invalid = _arguments("".join(fragment.arguments))
        calls.append(ToolCall(fragment.id or f"call_{index}", fragment.name, arguments, invalid))
    yield ChatDone(
        ChatResult(
            text="".join(text),
            tool_calls=calls,
            usage=usage,
            finish_reason=finish or ("tool_calls" if calls else "stop"),
            model=answered_model,
        )
    )


async def openai_embed(model: ResolvedModel, texts: list[str], policy: SsrfPolicy) -> np.ndarray:
    """(len(texts), d) float32, rows L2-normalised; every answer checked for count and size."""
    url = f"{_base(model)}/embeddings"
    expected = model.configuration.get("dimensions")
    expected = expected if isinstance(expected, int) and not isinstance(expected, bool) else None
    rows: list[np.ndarray] = []
    width: int | None = expected
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        payload = {"model": model.model_id, "input": batch, "encoding_format": "float"}
        answer = await _post_json(model, policy, url, _openai_headers(model), payload)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise _wrong_shape(model, "data (the embeddings)", answer)
        if len(data) != len(batch):
            raise AIError(
                f"{model.where}: asked for {len(batch)} embeddings, the server answered {len(data)}"
            )
        ordered = sorted(data, key=lambda d: _int(d.get("index")) if isinstance(d, dict) else 0)
        for item in ordered:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vector, list) or not vector:
                raise _wrong_shape(model, "embedding (a list of numbers)", answer)
            if width is None:
                width = len(vector)
            if len(vector) != width:
                setting = " (dimensions in its settings)" if expected else ""
                raise AIError(
                    f"{model.where}: answered an embedding of {len(vector)} numbers, "
                    f"expected {width}{setting}"
                )
            try:
                rows.append(np.asarray(vector, dtype=np.float32))
            except (TypeError, ValueError):
                raise _wrong_shape(model, "embedding of numbers", item) from None
    if not rows:
        return np.zeros((0, width or 0), dtype=np.float32)
    matrix = np.vstack(rows)
    if not np.isfinite(matrix).all():
        raise AIError(f"{model.where}: an embedding holds NaN or infinite numbers")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = (matrix / norms).astype(np.float32)
    return normalised


# ---------------------------------------------------------------- Anthropic


def _anthropic_url(model: ResolvedModel) -> str:
    base = _base(model)
    return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"


def _anthropic_headers(model: ResolvedModel) -> dict[str, str]:
    headers = {"anthropic-version": ANTHROPIC_VERSION, "Accept": "application/json"}
    if model.api_key:
        headers["x-api-key"] = model.api_key
    return headers


def anthropic_payload(model: ResolvedModel, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """System messages go to `system`; tool results are tool_result blocks of a user message
    (consecutive ones together, as Anthropic requires); a JSON answer is a forced tool call."""
    system = [m.content for m in request.messages if m.role == "system" and m.content]
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for message in request.messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
            add("user", [result])
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": message.content}] if message.content else []
            )
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls
            ]
            add("assistant", blocks or [{"type": "text", "text": ""}])
        else:
            add("user", [{"type": "text", "text": message.content}])
    temperature, max_tokens = _options(model, request)
    payload: dict[str, Any] = {
        "model": model.model_id,
        "max_tokens": max_tokens or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": turns,
    }
    if system:
        payload["system"] = "\n\n".join(system)
    if temperature is not None:
        payload["temperature"] = min(temperature, 1.0)  # Anthropic's range is 0-1
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
    ]
    if request.json_schema is not None:
        tools.append(
            {
                "name": JSON_ANSWER_TOOL,
                "description": "Give your final answer as this JSON object.",
                "input_schema": request.json_schema,
            }
        )
        payload["tool_choice"] = (
            {"type": "tool", "name": JSON_ANSWER_TOOL} if not request.tools else {"type": "any"}
        )
    if tools:
        payload["tools"] = tools
    if stream:
        payload["stream"] = True
    return payload


_STOP_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}


def _anthropic_result(
    model: ResolvedModel,
    request: ChatRequest,
    text: str,
    calls: list[ToolCall],
    usage: Usage,
    stop_reason: str | None,
    answered_model: str,
) -> ChatResult:
    finish = _STOP_REASONS.get(stop_reason or "", stop_reason or "stop")
    if request.json_schema is not None:
        answers = [c for c in calls if c.name == JSON_ANSWER_TOOL]
        if answers:
            calls = [c for c in calls if c.name != JSON_ANSWER_TOOL]
            text = answers[0].invalid_arguments or json.dumps(answers[0].arguments)
            finish = "tool_calls" if calls else "stop"
    return ChatResult(text=text, tool_calls=calls, usage=usage, finish_reason=finish, model=answered_model)


async def anthropic_chat(model: ResolvedModel, request: ChatRequest, policy: SsrfPolicy) -> ChatResult:
    answer = await _post_json(
        model,
        policy,
        _anthropic_url(model),
        _anthropic_headers(model),
        anthropic_payload(model, request, stream=False),
    )
    content = answer.get("content") if isinstance(answer, dict) else None
    if not isinstance(content, list):
        raise _wrong_shape(model, "content", answer)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            arguments, invalid = _arguments(block.get("input"))
            calls.append(
                ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), arguments, invalid)
            )
    raw_usage = answer.get("usage") or {}
    usage = Usage(_int(raw_usage.get("input_tokens")), _int(raw_usage.get("output_tokens")))
    return _anthropic_result(
        model,
        request,
        "".join(texts),
        calls,
        usage,
        answer.get("stop_reason"),
        str(answer.get("model") or model.model_id),
    )


async def anthropic_stream(
    model: ResolvedModel, request: ChatRequest, policy: SsrfPolicy
) -> AsyncIterator[StreamEvent]:
    payload = anthropic_payload(model, request, stream=True)
    texts: list[str] = []
    blocks: dict[int, _Fragment] = {}
    kinds: dict[int, str] = {}
    prompt = completion = 0
    stop_reason: str | None = None
    answered_model = model.model_id
    finished = False
    hide_text = request.json_schema is not None  # the answer comes as the json_answer tool's input
    async for event in _sse_events(model, policy, _anthropic_url(model), _anthropic_headers(model), payload):
        data = _loads(model, event.data)
        kind = data.get("type") or event.event
        if kind == "message_start":
            message = data.get("message") or {}
            answered_model = str(message.get("model") or answered_model)
            prompt = _int((message.get("usage") or {}).get("input_tokens"))
            completion = _int((message.get("usage") or {}).get("output_tokens"))
        elif kind == "content_block_start":
            index = _int(data.get("index"))
            block = data.get("content_block") or {}
            kinds[index] = str(block.get("type"))
            if block.get("type") == "tool_use":
                blocks[index] = _Fragment(str(block.get("id") or ""), str(block.get("name") or ""))
            elif block.get("type") == "text" and block.get("text"):
                texts.append(str(block["text"]))
        elif kind == "content_block_delta":
            index = _int(data.get("index"))
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                piece = str(delta.get("text") or "")
                texts.append(piece)
                if piece and not hide_text:
                    yield TextDelta(piece)
            elif delta.get("type") == "input_json_delta":
                blocks.setdefault(index, _Fragment()).arguments.append(str(delta.get("partial_json") or ""))
        elif kind == "message_delta":
            stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
            completion = _int((data.get("usage") or {}).get("output_tokens")) or completion
        elif kind == "message_stop":
            finished = True
            break
        elif kind == "error":
            error = data.get("error") or {}
            raise AIError(
                f"{model.where}: the server reported an error mid-answer: "
                f"{error.get('type', 'error')}: {error.get('message', '')}"
            )
    if not finished:
        raise AIError(f"{model.where}: the stream ended before the answer was complete")
    calls = []
    for index in sorted(blocks):
        fragment = blocks[index]
        raw = "".join(fragment.arguments)
        arguments, invalid = _arguments(raw) if raw else ({}, None)
        calls.append(ToolCall(fragment.id, fragment.name, arguments, invalid))
    result = _anthropic_result(
        model, request, "".join(texts), calls, Usage(prompt, completion), stop_reason, answered_model
    )
    if hide_text and result.text:
        yield TextDelta(result.text)
    yield ChatDone(result)


# ---------------------------------------------------------------- by provider


CHAT: Final[dict[ModelProvider, Callable[[ResolvedModel, ChatRequest, SsrfPolicy], Any]]] = {
    ModelProvider.openai: openai_chat,
    ModelProvider.anthropic: anthropic_chat,
}
STREAM: Final[
    dict[ModelProvider, Callable[[ResolvedModel, ChatRequest, SsrfPolicy], AsyncIterator[StreamEvent]]]
] = {
    ModelProvider.openai: openai_stream,
    ModelProvider.anthropic: anthropic_stream,
}
