"""Wirework's MCP server at /mcp: JSON-RPC over streamable HTTP, as an MCP client sends it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, Literal

import httpx
import httpx2
import mcp_types as types
import pytest
import uvicorn
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.accounts import Account, signup
from tests.support.workflows import TRIGGER, chain, create, node
from wirework.settings import Settings

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


def greeter(**mcp_tool: Any) -> dict[str, Any]:
    definition = chain(
        TRIGGER,
        node("greet", "core.set", {"fields": {"greeting": "Hello {{ json.name }}"}, "keep_only_set": True}),
    )
    if mcp_tool:
        definition["settings"] = {"mcp_tool": mcp_tool}
    return definition


async def key(client: httpx.AsyncClient, who: Account, scopes: list[str] | None = None) -> str:
    body: dict[str, Any] = {"name": "mcp"}
    if scopes:
        body["scopes"] = scopes
    made = await client.post("/api/v1/api-keys", json=body, headers=who.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


async def rpc(
    client: httpx.AsyncClient, api_key: str | None, method: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    return await client.post("/mcp", json=body, headers=headers)


async def result(client: httpx.AsyncClient, api_key: str, method: str, params: Any = None) -> dict[str, Any]:
    response = await rpc(client, api_key, method, params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "result" in body, body
    found: dict[str, Any] = body["result"]
    return found


async def activate(client: httpx.AsyncClient, who: Account, workflow_id: str) -> None:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=who.headers)
    assert response.status_code == 200, response.text


async def test_initialize_list_and_call_a_workflow_tool(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    api_key = await key(client, alice)
    offered = await create(
        client, alice, greeter(description="Greets someone", input_schema=SCHEMA), "Greeter"
    )
    await activate(client, alice, offered)
    inactive = await create(client, alice, greeter(description="Not active"), "Sleeping")
    plain = await create(client, alice, greeter(), "Plain")
    await activate(client, alice, plain)
    assert inactive and plain

    init = await result(
        client,
        api_key,
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    assert init["serverInfo"]["name"] == "wirework"
    assert "tools" in init["capabilities"]

    tools = (await result(client, api_key, "tools/list"))["tools"]
    assert [(t["name"], t["description"], t["inputSchema"]) for t in tools] == [
        ("Greeter", "Greets someone", SCHEMA)
    ]

    called = await result(client, api_key, "tools/call", {"name": "Greeter", "arguments": {"name": "Bob"}})
    assert not called.get("isError"), called
    assert called["content"][0]["text"] == '[{"greeting": "Hello Bob"}]'
    execution_id = called["structuredContent"]["execution_id"]
    # A normal execution, in the list like any other.
    listed = await client.get(f"/api/v1/executions?workflow_id={offered}", headers=alice.headers)
    assert [e["id"] for e in listed.json()["items"]] == [execution_id]
    assert listed.json()["items"][0]["status"] == "completed"

    wrong = await result(client, api_key, "tools/call", {"name": "Greeter", "arguments": {"name": 5}})
    assert wrong["isError"] is True
    assert "name: 5 is not of type 'string'" in wrong["content"][0]["text"]
    unknown = await rpc(client, api_key, "tools/call", {"name": "Plain", "arguments": {}})
    assert "Unknown tool 'Plain'" in unknown.json()["error"]["message"]

    # A run that fails is an error result the calling model can read.
    definition = chain(TRIGGER, node("boom", "core.stop_error", {"message": "no stock for {{ json.sku }}"}))
    definition["settings"] = {"mcp_tool": {"name": "order", "description": "Orders"}}
    await activate(client, alice, await create(client, alice, definition, "Order"))
    failed = await result(client, api_key, "tools/call", {"name": "order", "arguments": {"sku": "A1"}})
    assert failed["isError"] is True
    assert "The workflow failed" in failed["content"][0]["text"]
    assert "no stock for A1" in failed["content"][0]["text"]


async def test_keys_are_checked_and_orgs_kept_apart(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.open_signup = True
    alice = await signup(client, "alice", org_name="A")
    mallory = await signup(client, "mallory", org_name="B")
    mine = greeter(description="Alice's", input_schema=SCHEMA)
    await activate(client, alice, await create(client, alice, mine, "Mine"))
    for header in (None, "ww_not-a-key"):
        bare = await rpc(client, header, "tools/list")
        assert bare.status_code == 401
        assert bare.headers["content-type"] == "application/problem+json"
        assert bare.headers["www-authenticate"].startswith("Bearer")
    # A session cookie is not a key: a web page cannot call tools for a logged-in user.
    cookie = await client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**MCP_HEADERS, "Cookie": f"wirework_session={alice.token}"},
    )
    assert cookie.status_code == 401

    theirs = await key(client, mallory)
    assert (await result(client, theirs, "tools/list"))["tools"] == []
    called = await rpc(client, theirs, "tools/call", {"name": "Mine", "arguments": {"name": "x"}})
    assert "Unknown tool 'Mine'" in called.json()["error"]["message"]

    read_only = await key(client, alice, ["workflows:read"])
    assert [t["name"] for t in (await result(client, read_only, "tools/list"))["tools"]] == ["Mine"]
    refused = await rpc(client, read_only, "tools/call", {"name": "Mine", "arguments": {"name": "x"}})
    assert "executions:write" in refused.json()["error"]["message"]
    runs_only = await key(client, alice, ["executions:write"])
    refused = await rpc(client, runs_only, "tools/list")
    assert "workflows:read" in refused.json()["error"]["message"]


async def test_mcp_tool_settings_are_validated_on_save(client: httpx.AsyncClient, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("refused before anything is written: the same on every database")
    alice = await signup(client, "alice")
    for bad, says in (
        ({"description": "x", "input_schema": {"type": "string"}}, "must describe an object"),
        (
            {"description": "x", "input_schema": {"type": "object", "properties": {"a": {"type": 3}}}},
            "JSON Schema",
        ),
        ({"description": "x", "name": "has space"}, "pattern"),
        ({"input_schema": {"type": "object"}}, "description"),
    ):
        response = await client.post(
            "/api/v1/workflows", json={"name": "w", "definition": greeter(**bad)}, headers=alice.headers
        )
        assert response.status_code == 422, bad
        assert says in response.text, response.text


async def test_the_official_sdk_client_lists_and_calls(
    app: Any, client: httpx.AsyncClient, backend: str
) -> None:
    """The `mcp` SDK's own client, over real HTTP: the initialize handshake (legacy) and the
    newest protocol's discovery (auto). The protocol does not depend on the database: SQLite only."""
    if backend != "sqlite":
        pytest.skip("the protocol is the same on every database; tests above cover them")
    alice = await signup(client, "alice")
    api_key = await key(client, alice)
    greets = greeter(description="Greets someone", input_schema=SCHEMA)
    await activate(client, alice, await create(client, alice, greets, "Greeter"))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    modes: list[Literal["legacy", "auto"]] = ["legacy", "auto"]
    try:
        for mode in modes:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
            transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
            async with http, Client(transport, mode=mode) as mcp:
                tools = await mcp.list_tools()
                assert [(t.name, t.input_schema) for t in tools.tools] == [("Greeter", SCHEMA)], mode
                called = await mcp.call_tool("Greeter", {"name": "Eve"})
                assert not called.is_error, mode
                assert [c.text for c in called.content if isinstance(c, types.TextContent)] == [
                    '[{"greeting": "Hello Eve"}]'
                ], mode
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
