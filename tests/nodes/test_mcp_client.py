"""The mcp.client node against Wirework's own MCP server, served on a real port: list tools,
call one per item with arguments from expressions, tool errors, a wrong key, guarded addresses."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run
from wirework.settings import Settings

SCHEMA = {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The MCP server the node calls listens on 127.0.0.1.
    return Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32, http_allow_hosts="127.0.0.1"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def mcp_url(app: Any, client: httpx.AsyncClient) -> AsyncIterator[str]:
    """The test's app (lifespan running through `client`) served on a real port: its /mcp URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def bearer(client: httpx.AsyncClient, who: Account, token: str, name: str = "mcp key") -> str:
    made = await client.post(
        "/api/v1/credentials",
        json={"name": name, "type": "http_bearer_token", "data": {"token": token}},
        headers=who.headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def tool_workflow(client: httpx.AsyncClient, who: Account) -> None:
    definition = chain(
        TRIGGER,
        node("greet", "core.set", {"fields": {"greeting": "Hello {{ json.who }}"}, "keep_only_set": True}),
    )
    definition["settings"] = {"mcp_tool": {"name": "greet", "description": "Greets", "input_schema": SCHEMA}}
    workflow_id = await create(client, who, definition, "Greeter")
    activated = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=who.headers)
    assert activated.status_code == 200


def mcp_node(url: str, credential: str | None, **parameters: Any) -> dict[str, Any]:
    return node(
        "mcp",
        "mcp.client",
        {"server_url": url, **parameters},
        credentials={"bearer": credential} if credential else {},
    )


def error_of(execution: dict[str, Any], node_id: str) -> str:
    runs = [n for n in execution["nodes"] if n["node_id"] == node_id and n["status"] == "failed"]
    assert runs, execution
    return str(runs[-1]["error"])


async def test_lists_and_calls_tools_of_an_mcp_server(client: httpx.AsyncClient, mcp_url: str) -> None:
    ann = await signup(client, "ann")
    await tool_workflow(client, ann)
    key = (await client.post("/api/v1/api-keys", json={"name": "mcp"}, headers=ann.headers)).json()["key"]
    credential = await bearer(client, ann, key)

    listed = await run(
        client,
        ann,
        await create(client, ann, chain(TRIGGER, mcp_node(mcp_url, credential, operation="list_tools"))),
    )
    assert outputs(listed, "mcp")["main"] == [
        {"name": "greet", "description": "Greets", "input_schema": SCHEMA}
    ]

    calls = chain(TRIGGER, mcp_node(mcp_url, credential, tool="greet", arguments={"who": "{{ json.name }}"}))
    called = await run(
        client, ann, await create(client, ann, calls, "caller"), [{"name": "Ann"}, {"name": "Bo"}]
    )
    results = outputs(called, "mcp")["main"]
    assert [r["text"] for r in results] == ['[{"greeting": "Hello Ann"}]', '[{"greeting": "Hello Bo"}]']
    assert all(r["is_error"] is False and r["tool"] == "greet" for r in results)
    assert results[0]["structured_content"]["items"] == [{"greeting": "Hello Ann"}]

    # A tool's error fails the item, or is output when asked.
    wrong = chain(TRIGGER, mcp_node(mcp_url, credential, tool="greet", arguments={"who": 7}))
    failed = await run(client, ann, await create(client, ann, wrong, "wrong"))
    assert failed["status"] == "failed"
    assert "The tool greet failed: Invalid arguments: who: 7 is not of type 'string'" in error_of(
        failed, "mcp"
    )
    kept = chain(TRIGGER, mcp_node(mcp_url, credential, tool="greet", arguments={}, on_tool_error="output"))
    output = await run(client, ann, await create(client, ann, kept, "kept"))
    assert outputs(output, "mcp")["main"][0]["is_error"] is True
    unknown = chain(TRIGGER, mcp_node(mcp_url, credential, tool="nope"))
    refused = await run(client, ann, await create(client, ann, unknown, "unknown"))
    assert "refused tools/call: Unknown tool 'nope'" in error_of(refused, "mcp")


async def test_keys_unreachable_servers_and_guarded_addresses_fail_clearly(
    client: httpx.AsyncClient, mcp_url: str
) -> None:
    ann = await signup(client, "ann")
    wrong_key = await bearer(client, ann, "ww_not-a-key")
    cases = [
        (mcp_node(mcp_url, wrong_key, operation="list_tools"), "refused the request (401)"),
        (mcp_node(mcp_url, None, operation="list_tools"), "refused the request (401)"),
        (mcp_node(f"http://127.0.0.1:{_free_port()}/mcp", None, operation="list_tools"), "cannot be reached"),
        (mcp_node("http://169.254.169.254/mcp", None, operation="list_tools"), "address is not allowed"),
        (mcp_node(mcp_url.replace("/mcp", "/healthz"), None, operation="list_tools"), "answered 405"),
    ]
    for index, (mcp, says) in enumerate(cases):
        execution = await run(client, ann, await create(client, ann, chain(TRIGGER, mcp), f"case {index}"))
        assert execution["status"] == "failed"
        assert says in error_of(execution, "mcp"), (says, error_of(execution, "mcp"))
        assert "ww_not-a-key" not in error_of(execution, "mcp")


async def test_an_event_stream_is_read_until_its_answer_and_bounded_in_all(backend: str) -> None:
    """A server that answers over an event stream and then keeps it open (keep-alive pings): the
    answer is used as soon as it arrives; a server that only pings fails at `timeout_s`, which
    bounds the whole request, not each read. The node's HTTP does not touch the database."""
    if backend != "sqlite":
        pytest.skip("no database involved: SQLite only")
    from ipaddress import ip_network

    from wirework.nodes.mcp import McpError, McpSession
    from wirework.security.ssrf import SsrfPolicy, guarded_client

    answers = True

    async def keep_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        if answers:
            writer.write(
                b'event: message\r\ndata: {"jsonrpc": "2.0", "method": "notifications/progress"}\r\n\r\n'
            )
            writer.write(b'data: {"jsonrpc": "2.0", "id": 1,\r\ndata:  "result": {"tools": []}}\r\n\r\n')
        with contextlib.suppress(Exception):
            for _ in range(50):  # 10 s of pings, unless the client goes
                writer.write(b": ping\n\n")
                await writer.drain()
                await asyncio.sleep(0.2)
        writer.close()

    server = await asyncio.start_server(keep_open, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/mcp"
    policy = SsrfPolicy(allow_networks=(ip_network("127.0.0.0/8"),))
    try:
        async with guarded_client(policy) as http:
            listed = await asyncio.wait_for(McpSession(http, url, None, 5).request("tools/list", {}), 3)
            assert listed == {"tools": []}
            answers = False
            with pytest.raises(McpError, match=r"did not answer within 0.5 s"):
                await asyncio.wait_for(McpSession(http, url, None, 0.5).request("tools/list", {}), 3)
    finally:
        server.close()
