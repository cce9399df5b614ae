"""The OpenAI-compatible and Anthropic clients against a local server speaking each protocol:
plain and streamed answers, tool calls and their results sent back in each protocol's shape,
JSON answers, usage, and every way a call fails (server down, garbage, 401, 429, slow, a stream
that breaks off, an embedding of the wrong size, an address the SSRF guard refuses)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from tests.support.llm_server import (
    EmbeddingReply,
    FakeLLM,
    broken,
    error,
    fake_llm,
    garbage,
    slow,
    text,
    tool_call,
)
from tests.support.server import free_port
from wirework.ai import providers, service
from wirework.ai.llm import (
    AIError,
    ChatDone,
    ChatRequest,
    ChatResult,
    Message,
    ResolvedModel,
    TextDelta,
    ToolSpec,
)
from wirework.ai.models import ModelProvider, ModelType
from wirework.security.ssrf import SsrfPolicy

LOCAL = SsrfPolicy.from_entries(["127.0.0.1"])
KEY = "sk-test-0123456789"
SEARCH = ToolSpec(
    "search",
    "Search the knowledge base.",
    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
)
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeLLM]:
    async with fake_llm(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.requests.clear()
    server.replies.clear()
    server.embedding_replies.clear()
    return server


def model(
    llm: FakeLLM, provider: str = "openai", *, type: str = "llm", key: str | None = KEY, **configuration: Any
) -> ResolvedModel:
    base = llm.openai_url if provider == "openai" else llm.url
    return ResolvedModel(
        id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        name="Test",
        provider=ModelProvider(provider),
        model_id="fake-gpt" if type == "llm" else "fake-embed",
        type=ModelType(type),
        configuration=configuration,
        base_url=configuration.pop("base_url", base),
        api_key=key,
    )


def ask(content: str = "Where do I live?", **options: Any) -> ChatRequest:
    return ChatRequest(messages=[Message("system", "Be brief."), Message("user", content)], **options)


async def streamed(m: ResolvedModel, request: ChatRequest) -> tuple[list[str], ChatResult]:
    deltas: list[str] = []
    done: list[ChatResult] = []
    async for event in service.stream_chat(m, request, ssrf=LOCAL):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            assert isinstance(event, ChatDone)
            done.append(event.result)
    assert len(done) == 1
    return deltas, done[0]


# ---------------------------------------------------------------- OpenAI-compatible


async def test_openai_plain_answer_with_usage(llm: FakeLLM) -> None:
    llm.reply(text("You live in Lisbon.", usage=(12, 5)))
    result = await service.chat(model(llm, temperature=0.2), ask(max_tokens=50), ssrf=LOCAL)
    assert (result.text, result.tool_calls, result.finish_reason) == ("You live in Lisbon.", [], "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (12, 5)
    sent = llm.last()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "fake-gpt"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where do I live?"},
    ]
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.2, 50)
    assert "stream" not in sent.body and "tools" not in sent.body


async def test_openai_stream_assembles_text_and_usage(llm: FakeLLM) -> None:
    answer = "Lisbon is the capital of Portugal, by the Tagus."
    llm.reply(text(answer, usage=(9, 11)))
    deltas, result = await streamed(model(llm), ask())
    assert len(deltas) > 3 and "".join(deltas) == answer == result.text
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 11)
    assert llm.last().body["stream"] is True
    assert llm.last().body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_tool_call_round_trip(llm: FakeLLM, stream: bool) -> None:
    llm.reply(tool_call("search", {"q": "refund policy", "limit": 3}), text("Refunds take 5 days."))
    m = model(llm)
    request = ChatRequest(messages=[Message("user", "How long do refunds take?")], tools=[SEARCH])
    first = (await streamed(m, request))[1] if stream else await service.chat(m, request, ssrf=LOCAL)
    assert first.finish_reason == "tool_calls" and first.text == ""
    [call] = first.tool_calls
    assert (call.name, call.arguments, call.invalid_arguments) == (
        "search",
        {"q": "refund policy", "limit": 3},
        None,
    )
    assert llm.last().body["tools"] == [
        {"type": "function", "function": {"name": "search", "description": SEARCH.description,
                                          "parameters": SEARCH.parameters}}
    ]  # fmt: skip

    request.messages += [
        Message("assistant", "", tool_calls=first.tool_calls),
        Message("tool", "Refunds are paid within 5 working days.", tool_call_id=call.id),
    ]
    second = await service.chat(m, request, ssrf=LOCAL)
    assert second.text == "Refunds take 5 days."
    assistant, tool = llm.last().body["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    [sent_call] = assistant["tool_calls"]
    assert sent_call["id"] == call.id and sent_call["type"] == "function"
    assert sent_call["function"]["name"] == "search"
    assert json.loads(sent_call["function"]["arguments"]) == {"q": "refund policy", "limit": 3}
    assert tool == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "Refunds are paid within 5 working days.",
    }


async def test_openai_two_streamed_tool_calls_and_invalid_arguments(llm: FakeLLM) -> None:
    llm.reply(tool_call("search", {"q": "a"}, ("search", {"q": "b"})), tool_call("search", "{not json"))
    _, result = await streamed(model(llm), ChatRequest([Message("user", "x")], tools=[SEARCH]))
    assert [c.arguments for c in result.tool_calls] == [{"q": "a"}, {"q": "b"}]
    assert len({c.id for c in result.tool_calls}) == 2
    bad = await service.chat(model(llm), ChatRequest([Message("user", "x")], tools=[SEARCH]), ssrf=LOCAL)
    assert bad.tool_calls[0].arguments == {} and bad.tool_calls[0].invalid_arguments == "{not json"


async def test_openai_json_schema_is_asked_as_response_format(llm: FakeLLM) -> None:
    llm.reply('{"city": "Porto", "days": 3}')
    result = await service.chat(model(llm), ask("Trip?", json_schema=ANSWER_SCHEMA), ssrf=LOCAL)
    assert json.loads(result.text) == {"city": "Porto", "days": 3}
    assert llm.last().body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA},
    }


# ---------------------------------------------------------------- Anthropic


async def test_anthropic_plain_answer_system_headers_usage(llm: FakeLLM) -> None:
    llm.reply(text("Lisbon.", usage=(20, 2)))
    result = await service.chat(model(llm, "anthropic", temperature=1.5), ask(), ssrf=LOCAL)
    assert (result.text, result.finish_reason) == ("Lisbon.", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (20, 2)
    sent = llm.last()
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Where do I live?"}]}
    ]
    assert sent.body["max_tokens"] == 4096 and sent.body["temperature"] == 1.0


async def test_anthropic_stream_assembles_text_and_usage(llm: FakeLLM) -> None:
    answer = "Porto sits on the Douro, north of Lisbon."
    llm.reply(text(answer, usage=(14, 9)))
    deltas, result = await streamed(model(llm, "anthropic"), ask())
    assert len(deltas) > 3 and "".join(deltas) == answer == result.text
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (14, 9)
    assert llm.last().body["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_tool_use_round_trip(llm: FakeLLM, stream: bool) -> None:
    llm.reply(
        tool_call("search", {"q": "opening hours"}, ("search", {"q": "address"}), text="Let me look."),
        text("Open 9-17 at Rua Augusta 1."),
    )
    m = model(llm, "anthropic")
    request = ChatRequest(
        messages=[Message("system", "Be kind."), Message("user", "When and where?")], tools=[SEARCH]
    )
    first = (await streamed(m, request))[1] if stream else await service.chat(m, request, ssrf=LOCAL)
    assert first.finish_reason == "tool_calls" and first.text == "Let me look."
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("search", {"q": "opening hours"}),
        ("search", {"q": "address"}),
    ]
    assert llm.last().body["tools"] == [
        {"name": "search", "description": SEARCH.description, "input_schema": SEARCH.parameters}
    ]
    one, two = first.tool_calls
    request.messages += [
        Message("assistant", first.text, tool_calls=first.tool_calls),
        Message("tool", "9-17", tool_call_id=one.id),
        Message("tool", "Rua Augusta 1", tool_call_id=two.id),
    ]
    second = await service.chat(m, request, ssrf=LOCAL)
    assert second.text == "Open 9-17 at Rua Augusta 1."
    sent = llm.last().body
    assert sent["system"] == "Be kind."
    assert sent["messages"][-2:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": one.id, "name": "search", "input": {"q": "opening hours"}},
                {"type": "tool_use", "id": two.id, "name": "search", "input": {"q": "address"}},
            ],
        },
        {  # both results in one user turn, as Anthropic requires
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": one.id, "content": "9-17"},
                {"type": "tool_result", "tool_use_id": two.id, "content": "Rua Augusta 1"},
            ],
        },
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_json_answer_is_a_forced_tool_call(llm: FakeLLM, stream: bool) -> None:
    llm.reply(tool_call("json_answer", {"city": "Faro", "days": 2}))
    m = model(llm, "anthropic")
    request = ask("Trip?", json_schema=ANSWER_SCHEMA)
    result = (await streamed(m, request))[1] if stream else await service.chat(m, request, ssrf=LOCAL)
    assert json.loads(result.text) == {"city": "Faro", "days": 2}
    assert (result.tool_calls, result.finish_reason) == ([], "stop")
    sent = llm.last().body
    assert sent["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert sent["tools"][0]["input_schema"] == ANSWER_SCHEMA


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_server_that_is_down(provider: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    m = ResolvedModel(
        uuid.uuid4(), uuid.uuid4(), "Down", ModelProvider(provider), "m", ModelType.llm, {}, base, KEY
    )
    with pytest.raises(AIError) as caught:
        await service.chat(m, ask(), ssrf=LOCAL)
    assert caught.value.detail.startswith(f"cannot reach the model server at http://127.0.0.1:{port}/v1/")
    assert "connection refused" in caught.value.detail and "base URL" in caught.value.detail
    with pytest.raises(AIError, match="cannot reach the model server"):
        await streamed(m, ask())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_garbage_and_wrong_shapes(llm: FakeLLM, provider: str) -> None:
    llm.reply(garbage(), garbage(b'{"answer": 42}'))
    with pytest.raises(AIError) as caught:
        await service.chat(model(llm, provider), ask(), ssrf=LOCAL)
    assert (
        "answered something that is not JSON (text/html: '<html>Bad gateway</html>')" in caught.value.detail
    )
    with pytest.raises(AIError, match=r"the answer has no (choices|content)"):
        await service.chat(model(llm, provider), ask(), ssrf=LOCAL)
    llm.reply(garbage())
    with pytest.raises(AIError, match="not JSON"):
        await streamed(model(llm, provider), ask())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_wrong_key_is_a_401_with_the_servers_message(llm: FakeLLM, provider: str) -> None:
    wrong = "sk-wrong-secret-value"
    with pytest.raises(AIError) as caught:
        await service.chat(model(llm, provider, key=wrong), ask(), ssrf=LOCAL)
    detail = caught.value.detail
    assert detail.startswith("model 'Test' (") and "HTTP 401" in detail
    assert ("Incorrect API key provided" if provider == "openai" else "invalid x-api-key") in detail
    assert "check the API key in the model's credential" in detail
    assert wrong not in detail
    assert caught.value.status == 502


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_key_echoed_by_the_server_is_not_repeated(llm: FakeLLM, provider: str) -> None:
    llm.reply(error(400, f"unknown key {KEY} for this model"), error(400, f"no: {KEY}"))
    with pytest.raises(AIError) as caught:
        await service.chat(model(llm, provider), ask(), ssrf=LOCAL)
    assert "HTTP 400: unknown key [the API key] for this model" in caught.value.detail
    with pytest.raises(AIError) as caught:
        await streamed(model(llm, provider), ask())
    assert KEY not in caught.value.detail and "[the API key]" in caught.value.detail


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_rate_limits_and_server_errors(llm: FakeLLM, provider: str) -> None:
    llm.reply(
        error(429, "Rate limit reached for requests", headers={"retry-after": "7"}), error(503, "overloaded")
    )
    with pytest.raises(
        AIError, match=r"HTTP 429: Rate limit reached for requests; .*try again later \(it asks to wait 7 s\)"
    ):
        await service.chat(model(llm, provider), ask(), ssrf=LOCAL)
    with pytest.raises(AIError, match="HTTP 503: overloaded; the model server failed; try again later"):
        await streamed(model(llm, provider), ask())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_slow_answers_and_broken_streams(llm: FakeLLM, provider: str) -> None:
    llm.reply(slow(3), broken())
    with pytest.raises(AIError, match=r"did not answer within 0.3 s; .*raise timeout_s"):
        await service.chat(model(llm, provider, timeout_s=0.3), ask(), ssrf=LOCAL)
    with pytest.raises(AIError, match="the stream ended before the answer was complete"):
        await streamed(model(llm, provider), ask())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_answers_are_read_only_up_to_their_bounds(
    llm: FakeLLM, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers, "MAX_STREAM_BYTES", 20_000)
    monkeypatch.setattr(providers, "MAX_RESPONSE_BYTES", 2_000)
    llm.reply(text("word " * 2000), text("word " * 2000))
    with pytest.raises(AIError, match="the streamed answer passed"):
        await streamed(model(llm, provider), ask())
    with pytest.raises(AIError, match="the answer is larger than"):
        await service.chat(model(llm, provider), ask(), ssrf=LOCAL)


async def test_the_ssrf_guard_refuses_a_private_base_url(llm: FakeLLM) -> None:
    with pytest.raises(AIError, match=r"Refused to call http://127\.0\.0\.1:\d+/v1/chat/completions: "
                                      r"127\.0\.0\.1 is a loopback address"):  # fmt: skip
        await service.chat(model(llm), ask(), ssrf=SsrfPolicy())
    assert llm.requests == []


# ---------------------------------------------------------------- embeddings


async def test_embeddings_in_batches_normalised(llm: FakeLLM) -> None:
    texts = [f"text number {i} about refunds" for i in range(150)]
    embedder = service.embedder_of(model(llm, type="embedding"), ssrf=LOCAL)
    assert embedder.key.startswith("openai:") and embedder.dimensions is None
    vectors = await embedder.embed(texts)
    assert vectors.shape == (150, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dimensions == 64
    assert [len(r.body["input"]) for r in llm.requests] == [64, 64, 22]
    assert llm.requests[0].body["model"] == "fake-embed"
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_an_embedding_of_the_wrong_size(llm: FakeLLM) -> None:
    llm.reply_embeddings(EmbeddingReply(dimensions=5))
    embedder = service.embedder_of(model(llm, type="embedding", dimensions=64), ssrf=LOCAL)
    with pytest.raises(
        AIError, match=r"answered an embedding of 5 numbers, expected 64 \(dimensions in its settings\)"
    ):
        await embedder.embed(["a", "b"])
    llm.reply_embeddings(EmbeddingReply(vectors=[[1.0, 0.0]]))
    with pytest.raises(AIError, match="asked for 2 embeddings, the server answered 1"):
        await embedder.embed(["a", "b"])
    llm.reply_embeddings(EmbeddingReply(raw=b"oops"))
    with pytest.raises(AIError, match="not JSON"):
        await embedder.embed(["a"])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "base_url",
    ["https://" + "a" * 64 + ".example.com/v1", "http://a..b/v1", "http://[::1"],
    ids=["label-too-long", "empty-label", "unparseable"],
)
async def test_a_base_url_the_client_cannot_use_is_an_ai_error(provider: str, base_url: str) -> None:
    """A model saved before the save-time check (red team finding 5): every call, plain and
    streamed, and embeddings, fail with an AIError naming the URL, never a raw UnicodeError
    or InvalidURL (a 500 at the API)."""
    m = ResolvedModel(
        uuid.uuid4(), uuid.uuid4(), "Odd", ModelProvider(provider), "m", ModelType.llm, {}, base_url, KEY
    )
    with pytest.raises(AIError) as caught:
        await service.chat(m, ask(), ssrf=SsrfPolicy())
    assert "cannot be used" in caught.value.detail and "fix the base URL" in caught.value.detail
    with pytest.raises(AIError, match="cannot be used"):
        await streamed(m, ask())
    if provider == "openai":
        e = ResolvedModel(
            uuid.uuid4(),
            uuid.uuid4(),
            "Odd",
            ModelProvider.openai,
            "e",
            ModelType.embedding,
            {},
            base_url,
            KEY,
        )
        with pytest.raises(AIError, match="cannot be used"):
            await service.embedder_of(e, ssrf=SsrfPolicy()).embed(["x"])
