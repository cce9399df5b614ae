"""Red team of the AI and knowledge-base surfaces (/api/v1/ai, /api/v1/kb, /mcp, AI nodes).

Each test reproduces one finding of /tmp/redteam/findings.md and is marked
`xfail(strict=True)`: it passes while the finding stands and fails once it is fixed (then drop
the mark). Every test takes well under 3 s.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import time
import uuid
import zipfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account, signup
from tests.support.llm_server import FakeLLM, fake_llm, text
from tests.support.workflows import TRIGGER, chain, create, node
from wirework.ai.agent import AgentLimits, run_agent
from wirework.ai.llm import ChatRequest, ChatResult, Message, ToolCall, Usage
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The fake model server listens on loopback, allowed as the other AI tests do.
    return Settings(
        env="test",
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        http_allow_hosts="127.0.0.1",
        open_signup=True,
    )


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The app's client, answering an unhandled exception as the 500 a real server sends
    (the default ASGI transport re-raises it in the test instead)."""
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://wirework.test") as c,
    ):
        yield c


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[FakeLLM]:
    async with fake_llm() as fake:
        yield fake


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.requests.clear()
    server.replies.clear()
    server.embedding_replies.clear()
    server.api_key = None
    return server


async def collection(client: httpx.AsyncClient, who: Account) -> str:
    made = await client.post("/api/v1/kb/collections", json={"name": "Docs"}, headers=who.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def api_key(client: httpx.AsyncClient, who: Account, scopes: list[str]) -> dict[str, str]:
    made = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=who.headers)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


# --------------------------------------------------------------------------------------------
# Finding 1: a docx of a few KB unpacks to ~200 MB of XML that python-docx parses whole.


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def _deflated_repeat(prefix: bytes, chunk: bytes, times: int, suffix: bytes) -> tuple[bytes, int, int]:
    """prefix + chunk * times + suffix, deflated without compressing it all: after a full flush
    the compressor starts afresh, so every chunk deflates to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(suffix) + compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    return head + block * times + tail, crc, len(prefix) + len(chunk) * times + len(suffix)


def _zip(members: list[tuple[str, tuple[bytes, int, int]]]) -> bytes:
    """A valid zip (deflate, CRCs right) of already deflated members."""
    out, central = b"", b""
    for name, (compressed, crc, size) in members:
        raw = name.encode()
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(compressed), size, len(raw), 0
        )
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(compressed), size, len(raw), 0, 0, 0, 0, 0, len(out),
        ) + raw  # fmt: skip
        out += local + raw + compressed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return out + central + end


DOCX_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
    b'PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def docx_bomb(paragraphs_100k: int) -> bytes:
    """A .docx whose document.xml is `paragraphs_100k` x 100,000 empty paragraphs (600 KB each)."""
    document = _deflated_repeat(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>',
        b"<w:p/>" * 100_000,
        paragraphs_100k,
        b"</w:body></w:document>",
    )
    return _zip(
        [
            ("[Content_Types].xml", _deflated(DOCX_TYPES)),
            ("_rels/.rels", _deflated(DOCX_RELS)),
            ("word/document.xml", document),
        ]
    )


def test_docx_bomb_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 million empty paragraphs: 60 MB of XML (under MAX_DOCX_XML, 64 MB since f1c45d6) from a
    ~90 KB upload, a ratio of 650:1. Measured: 44 KB (30 MB of XML) took 120 s and 1.2 GB of
    memory before the deadline stopped it; 60 MB takes twice the memory. The parse is stubbed
    here to keep the test fast; it shows the bomb reaches the parser. Fixed: a zip member packed
    past 500:1 is refused before any parse, and what passes is read by a child process under the
    operating system's limits (tests/knowledge/test_extract_isolated.py)."""
    import docx

    from wirework.knowledge.extract import ExtractionError, extract_text

    bomb = docx_bomb(100)  # 60 MB of XML
    assert len(bomb) < 100_000
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:  # a well-formed zip
        assert archive.getinfo("word/document.xml").file_size < 64 * 1024 * 1024

    def parsed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("REACHED-THE-XML-PARSER")

    monkeypatch.setattr(docx, "Document", parsed)
    with pytest.raises(ExtractionError) as refused:
        extract_text(bomb, filename="bomb.docx")
    assert "REACHED-THE-XML-PARSER" not in str(refused.value)
    assert refused.value.detail.startswith("bomb.docx: the part word/document.xml unpacks from ")
    assert "more than 500:1" in refused.value.detail


# --------------------------------------------------------------------------------------------
# Finding 2: an API key with only ai scopes reads any workflow's definition through a suggestion.


async def test_ai_scoped_key_cannot_read_workflow_definitions(
    client: httpx.AsyncClient, llm: FakeLLM
) -> None:
    ann = await signup(client, "ann")
    secret = "internal-token-9f8e7d"
    workflow_id = await create(
        client, ann, chain(TRIGGER, node("set", "core.set", {"fields": {"token": secret}})), "Payroll"
    )
    ai_only = await api_key(client, ann, ["ai:read", "ai:write"])
    # The key cannot read the workflow itself...
    denied = await client.get(f"/api/v1/workflows/{workflow_id}", headers=ai_only)
    assert denied.status_code == 403, denied.text
    # ...but it can add a model pointing at a server it controls, and ask for a "change".
    made = await client.post(
        "/api/v1/ai/models",
        json={
            "name": "Mine",
            "provider": "openai",
            "model_id": "x",
            "configuration": {"base_url": llm.openai_url},
        },
        headers=ai_only,
    )
    assert made.status_code == 201, made.text
    empty = {"nodes": [{**TRIGGER}, {"id": "set", "name": "set", "type": "core.set", "parameters": {}}],
             "edges": [{"from": "trigger", "to": "set"}]}  # fmt: skip
    llm.reply(text(json.dumps(empty)))
    asked = await client.post(
        "/api/v1/ai/suggestions",
        json={"prompt": "tidy", "workflow_id": workflow_id, "model": "Mine"},
        headers=ai_only,
    )
    leaked_to_model = any(secret in json.dumps(r.body) for r in llm.chat_requests())
    leaked_in_answer = secret in asked.text
    assert not leaked_to_model and not leaked_in_answer, (asked.status_code, asked.text[:400])
    # Fixed: refused with a 403 naming the scope, before the model is asked.
    assert asked.status_code == 403 and "workflows:read" in asked.json()["detail"], asked.text


# --------------------------------------------------------------------------------------------
# Finding 3: the agent runs every tool call of one model answer: no bound on calls per answer.


async def test_agent_bounds_tool_calls_per_answer() -> None:
    """Fixed (finding 3): of one answer's 2,000 tool calls, max_tool_calls_per_step (8 by
    default) run; every other call is answered to the model as an error, not run. The calls of
    a whole run are bounded too (max_tool_calls)."""
    calls = 0

    class Counter:
        name = "lookup"
        description = "looks up"
        parameters: dict[str, Any] = {"type": "object", "properties": {}}

        async def call(self, arguments: dict[str, Any]) -> Any:
            nonlocal calls
            calls += 1
            return {"ok": True}

    def asks(n: int, prefix: str = "c") -> ChatResult:
        return ChatResult(text="", tool_calls=[ToolCall(f"{prefix}{i}", "lookup", {}) for i in range(n)],
                          usage=Usage(), finish_reason="tool_calls", model="m")  # fmt: skip

    done = ChatResult(text="done", tool_calls=[], usage=Usage(), finish_reason="stop", model="m")
    answers = [asks(2000), done]
    requests: list[ChatRequest] = []

    async def chat(request: ChatRequest) -> ChatResult:
        requests.append(ChatRequest(list(request.messages)))
        return answers.pop(0)

    result = await run_agent(chat, [Message("user", "hi")], [Counter()], AgentLimits(max_iterations=2))
    assert result.text == "done"
    assert calls == 8, f"one model answer ran the tool {calls} times"
    assert result.steps[0]["tool_calls_refused"] == 1992 and len(result.steps[0]["tool_calls"]) == 8
    answered = [m for m in requests[-1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in answered] == [f"c{i}" for i in range(2000)]  # every call answered
    assert all("too many tool calls in one answer" in m.content for m in answered[8:])
    assert not any("too many" in m.content for m in answered[:8])

    # In all: max_tool_calls 10 over two answers of 8 calls runs 10.
    calls = 0
    answers = [asks(8), asks(8, "d"), done]
    limits = AgentLimits(max_iterations=3, max_tool_calls=10)
    result = await run_agent(chat, [Message("user", "hi")], [Counter()], limits)
    assert calls == 10 and result.steps[1]["tool_calls_refused"] == 6
    answered = [m for m in requests[-1].messages if m.role == "tool"]
    assert sum("too many tool calls in this run" in m.content for m in answered) == 6


# --------------------------------------------------------------------------------------------
# Finding 4: the multipart `metadata` field skips the JSON checks every other body gets.


@pytest.mark.parametrize(
    "metadata",
    [
        '{"k": "\\ud800"}',  # a lone surrogate: 500 on every database
        "[" * 50_000 + "]" * 50_000,  # RecursionError: 500 on every database
        '{"k": "a\\u0000b"}',  # NUL: 500 on PostgreSQL (stored on SQLite/MariaDB)
        '{"k": NaN}',  # 500 on PostgreSQL and MariaDB, NaN stored on SQLite
        '{"a":' * 40 + "1" + "}" * 40,  # 40 levels: 500 on MariaDB (JSON depth)
        "[1, 2]",  # not an object
        '{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}',  # 9 levels: past metadata's 8
    ],
    ids=["surrogate", "deep", "nul", "nan", "depth40", "array", "depth9"],
)
async def test_upload_metadata_is_checked_like_json_bodies(
    client: httpx.AsyncClient, metadata: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wirework.knowledge import ingest

    monkeypatch.setattr(ingest, "wake", lambda: None)  # no indexing needed: keep the test fast
    ann = await signup(client, "ann")
    collection_id = await collection(client, ann)
    response = await client.post(
        f"/api/v1/kb/collections/{collection_id}/documents",
        files={"file": ("notes.txt", b"hello world")},
        data={"metadata": metadata},
        headers=ann.headers,
    )
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert response.json()["errors"][0]["loc"] == ["body", "metadata"]


# --------------------------------------------------------------------------------------------
# Finding 5: model base URLs httpx cannot parse or encode are 500s (at save and at test).


@pytest.mark.parametrize("base_url", ["http://[::1", "http://127.0.0.1:99999/v1", "http://a..b/v1"])
async def test_unparseable_base_url_is_a_422(client: httpx.AsyncClient, base_url: str) -> None:
    ann = await signup(client, "ann")
    response = await client.post(
        "/api/v1/ai/models",
        json={
            "name": "m",
            "provider": "openai",
            "model_id": "x",
            "configuration": {"base_url": base_url},
        },
        headers=ann.headers,
    )
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert "base_url" in response.text


async def test_model_test_with_overlong_host_label_is_not_a_500(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    made = await client.post(
        "/api/v1/ai/models",
        json={
            "name": "m",
            "provider": "openai",
            "model_id": "x",
            "configuration": {"base_url": "https://" + "a" * 64 + ".example.com/v1"},
        },
        headers=ann.headers,
    )
    assert made.status_code in (201, 422), made.text
    if made.status_code == 201:
        tested = await client.post(f"/api/v1/ai/models/{made.json()['id']}/test", headers=ann.headers)
        assert tested.status_code == 200, (tested.status_code, tested.text[:300])
        assert tested.json()["ok"] is False


# --------------------------------------------------------------------------------------------
# Finding 6: a `since` near the ends of the calendar is a 500 of the usage route.


async def test_usage_since_out_of_range_is_not_a_500(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    for since in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        response = await client.get("/api/v1/ai/usage", params={"since": since}, headers=ann.headers)
        assert response.status_code == 422, (response.status_code, response.text[:300])
        assert response.json()["errors"][0]["loc"] == ["query", "since"]
    for since in ("9999-12-31T23:59:59+00:00", "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00"):
        response = await client.get("/api/v1/ai/usage", params={"since": since}, headers=ann.headers)
        assert response.status_code == 200, (since, response.text[:300])


# --------------------------------------------------------------------------------------------
# Finding 7: GET /mcp holds a stream open forever in stateless mode, for any valid key.


async def test_mcp_get_does_not_hold_a_stream_open(client: httpx.AsyncClient) -> None:
    import asyncio

    ann = await signup(client, "ann")
    key = await api_key(client, ann, ["account:read"])  # no MCP scope at all
    try:
        response = await asyncio.wait_for(
            client.get("/mcp", headers={**key, "Accept": "text/event-stream"}), timeout=1.5
        )
    except TimeoutError:
        pytest.fail("GET /mcp was still open after 1.5 s (it never ends: nothing is ever sent on it)")
    assert response.status_code in (403, 405), response.text
    # Fixed: only POST is served (stateless JSON: no stream, no session), and a key needs an MCP scope.
    assert response.status_code == 405 and response.headers["allow"] == "POST", response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    deleted = await client.delete("/mcp", headers=key)
    assert deleted.status_code == 405, deleted.text
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    accept = {"Accept": "application/json, text/event-stream"}
    refused = await client.post("/mcp", json=ping, headers={**key, **accept})
    assert refused.status_code == 403 and "neither MCP scope" in refused.text, refused.text
    reader = await api_key(client, ann, ["workflows:read"])
    pong = await client.post("/mcp", json=ping, headers={**reader, **accept})
    assert pong.status_code == 200 and pong.json()["result"] == {}, pong.text


# --------------------------------------------------------------------------------------------
# Finding 8: a metadata filter that matches many documents makes every words search a 500.


async def test_filtered_search_over_many_documents_is_not_a_500(db: Database, backend: str) -> None:
    """search() turns a filter into the ids of every matching document, bound one parameter
    each in `document_id IN (...)`. 20 collections of 10,000 documents (the limits) may match
    200,000; PostgreSQL (asyncpg) takes at most 32,767 parameters. Reproduced through
    the API on PostgreSQL with 4 collections x 8,200 documents of metadata {"k": "v"} and
    {"query": "refund policy", "mode": "text", "filters": {"k": "v"}, "collection_ids": [...]}:
    500 (asyncpg: the number of query arguments cannot exceed 32767). Here the step alone.
    Fixed: no statement binds more than IN_LIMIT document ids, whatever the filter leaves (a
    larger set is applied to the ranked rows); checked on every database, as sent to the driver."""
    import uuid

    from sqlalchemy import event

    from wirework.knowledge.search import IN_LIMIT, text_search

    sizes: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sizes.append(len(parameters or ()))

    allowed = {uuid.uuid4() for _ in range(33_000)}
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as session:
            assert await text_search(session, db.dialect, [uuid.uuid4()], "refund policy", 20, allowed) == []
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert sizes and max(sizes) <= IN_LIMIT + 10, sizes


# --------------------------------------------------------------------------------------------
# Finding 9: ai.summarize cuts its text in quadratic time on the event loop before its bound.


def _split_seconds(size: int, budget: int, runs: int) -> float:
    from wirework.nodes.ai.structured import split_text

    text = "word " * (size // 5)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        split_text(text, budget)
        best = min(best, time.perf_counter() - started)
    return best


def test_summarize_splits_text_in_linear_time() -> None:
    """`split_text` copies the rest of the text for every piece (`rest = rest[cut:]`), so it is
    quadratic; AISummarize runs it synchronously (on the event loop) *before* checking
    max_pieces. Measured: a 16 MB webhook body (the default webhook limit) with the default
    chunk_tokens 3000 took 4.8 s, an 8 MB one with chunk_tokens 200 took 7.8 s, both then
    refused by max_pieces. Eight times the text should take about eight times as long (measured
    here: 64x to 150x)."""
    small = _split_seconds(400_000, 800, runs=3)
    large = _split_seconds(3_200_000, 800, runs=1)
    assert large < 24 * small, f"8x the text took {large / small:.0f}x as long ({small:.3f}s -> {large:.3f}s)"
    # Fixed: the split moves an index and stops at max_pieces: a 16 MB webhook body with the
    # default chunk_tokens (3000) and max_pieces (50) is refused after 51 pieces, not split whole.
    from wirework.nodes.ai.structured import TooManyPieces, split_text

    with pytest.raises(TooManyPieces, match="more than 50 pieces"):
        split_text("word " * (16_000_000 // 5), 3000 * 4, 50)
    assert len(split_text("word " * 10_000, 3000 * 4, 50)) == 5


# --------------------------------------------------------------------------------------------
# Finding 10: the mcp.client node's timeout_s is per read, not per request.


async def test_mcp_client_timeout_bounds_a_trickling_server() -> None:
    """A server that answers its headers, then sends an SSE comment line every 0.2 s, never
    ends the request: `timeout_s` (documented "Time limit of each request to the server") is
    httpx's per-read timeout, and the body is read to its end before it is parsed. A hostile
    (or keep-alive) MCP server holds the node until the workflow's timeout (3,600 s default)."""
    import asyncio
    from ipaddress import ip_network

    from wirework.nodes.mcp import McpError, McpSession
    from wirework.security.ssrf import SsrfPolicy, guarded_client

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        with contextlib.suppress(Exception):
            for _ in range(100):
                writer.write(b": ping\n\n")
                await writer.drain()
                await asyncio.sleep(0.2)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = SsrfPolicy(allow_networks=(ip_network("127.0.0.0/8"),))
    started = time.monotonic()
    try:
        async with guarded_client(policy) as client:
            session = McpSession(client, f"http://127.0.0.1:{port}/mcp", None, timeout_s=0.5)
            with contextlib.suppress(McpError):
                await asyncio.wait_for(session.open(), timeout=1.6)
    except TimeoutError:
        pass
    finally:
        server.close()
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"timeout_s 0.5 s, the request was still being read after {elapsed:.1f} s"


# --------------------------------------------------------------------------------------------
# Finding 11: JSON schemas with a remote "$ref" are fetched by jsonschema itself (urllib):
# past the SSRF guard, synchronously on the event loop, without a timeout.


async def test_schema_refs_are_not_fetched_past_the_ssrf_guard(db: Database, tmp_path: Path) -> None:
    """Fixed (finding 11): every user schema goes through `security.json_schema`. A `$ref` that
    is not local (`http://` to a loopback "metadata" server, `file:///etc/passwd`) is refused at
    save in an MCP tool's input_schema, an ai.agent tool's `parameters` and ai.extract's
    `schema`; one stored before that rule is refused at use (tools/call, the agent's argument
    check, ai.extract's answer check) without anything being fetched."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from sqlalchemy import update

    from wirework.ai.agent import argument_problem
    from wirework.nodes.ai.structured import schema_problem
    from wirework.workflows.models import WorkflowVersion

    fetched: list[str] = []

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"AccessKeyId": "AKIAEXAMPLE"}')

        def log_message(self, *args: Any) -> None:
            pass

    metadata = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    settings = Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32, open_signup=True
    )
    app = create_app(settings, db=db)  # the default SSRF policy: loopback refused
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    http_ref = f"http://127.0.0.1:{metadata.server_port}/latest/meta-data/iam/security-credentials/role"
    refs = [http_ref, "file:///etc/passwd", "other.json#/x"]
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://wirework.test") as client,
        ):
            ann = await signup(client, "ann")
            for ref in refs:
                schema = {"type": "object", "properties": {"a": {"$ref": ref}}}
                mcp = chain(TRIGGER, node("set", "core.set", {"fields": {"v": "1"}}))
                mcp["settings"] = {"mcp_tool": {"name": "lookup", "description": "d", "input_schema": schema}}
                tool = {"kind": "workflow", "name": "t", "description": "d", "workflow_id": "x",
                        "parameters": schema}  # fmt: skip
                for definition in (
                    mcp,
                    chain(TRIGGER, node("agent", "ai.agent", {"tools": [tool]})),
                    chain(TRIGGER, node("x", "ai.extract", {"schema": schema})),
                ):
                    refused = await client.post(
                        "/api/v1/workflows", json={"name": "t", "definition": definition}, headers=ann.headers
                    )
                    assert refused.status_code == 422, refused.text
                    assert "is not local" in refused.text, refused.text
            # A local reference is fine.
            local = {
                "type": "object",
                "$defs": {"n": {"type": "integer"}},
                "properties": {"a": {"$ref": "#/$defs/n"}},
            }
            definition = chain(TRIGGER, node("set", "core.set", {"fields": {"v": "1"}}))
            definition["settings"] = {
                "mcp_tool": {"name": "lookup", "description": "d", "input_schema": local}
            }
            workflow_id = await create(client, ann, definition, "tool")
            activated = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=ann.headers)
            assert activated.status_code == 200, activated.text
            key = await api_key(client, ann, ["workflows:read", "executions:write"])

            async def call(arguments: dict[str, Any]) -> dict[str, Any]:
                answer = await client.post(
                    "/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "lookup", "arguments": arguments}},
                    headers={**key, "Accept": "application/json, text/event-stream",
                             "Content-Type": "application/json"},
                )  # fmt: skip
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            wrong = (await call({"a": "x"}))["result"]
            assert wrong["isError"] and "'x' is not of type 'integer'" in wrong["content"][0]["text"]
            # A schema stored before the rule (written to the database directly) is not offered.
            definition["settings"]["mcp_tool"]["input_schema"] = {
                "type": "object", "properties": {"a": {"$ref": http_ref}}
            }  # fmt: skip
            async with db.session() as session:
                await session.execute(
                    update(WorkflowVersion)
                    .where(WorkflowVersion.workflow_id == uuid.UUID(workflow_id))
                    .values(definition=definition)
                )
                await session.commit()
            stale = await call({"a": 1})
            assert "Unknown tool 'lookup'" in stale["error"]["message"], stale
    finally:
        metadata.shutdown()
    for ref in refs:
        schema = {"type": "object", "properties": {"a": {"$ref": ref}}}
        problem = argument_problem(schema, {"a": 1})
        assert problem is not None and "the schema cannot be used" in problem
        _, why = schema_problem(schema, '{"a": 1}')
        assert why is not None and "the schema cannot be used" in why
    assert fetched == [], f"the server fetched {fetched} from loopback for a schema $ref"
