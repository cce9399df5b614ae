"""A credential's plaintext appears nowhere: not in the database (outside its sealed column), not
in an API response, not in a log line — even after a workflow used it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, outputs, run
from wirework.ai import service as ai_service
from wirework.db.engine import Database
from wirework.engine.nodes import NodeRegistry
from wirework.models import Base
from wirework.nodes import load_builtin_nodes
from wirework.settings import Settings

SECRET = "sup3r-s3cret-token-7Qx9"


class _Api(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        _Api.seen.append(auth)
        ok = auth == f"Bearer {SECRET}"
        body = json.dumps({"ok": ok}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def api_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.http_allow_hosts = "127.0.0.1"
    return settings


async def test_credential_plaintext_is_nowhere(
    client: httpx.AsyncClient, db: Database, api_server: str, capfd: pytest.CaptureFixture[str]
) -> None:
    alice = await signup(client, "alice")
    made = await client.post(
        "/api/v1/credentials",
        json={"name": "api", "type": "http_bearer_token", "data": {"token": SECRET}},
        headers=alice.headers,
    )
    assert made.status_code == 201 and made.json()["fields"] == ["token"]
    credential_id = made.json()["id"]
    http = node(
        "http",
        "core.http_request",
        {"url": f"{api_server}/data", "authentication": "bearer"},
        credentials={"bearer": credential_id},
    )
    workflow_id = await create(client, alice, chain(TRIGGER, http))
    execution = await run(client, alice, workflow_id)
    assert execution["status"] == "completed", execution
    assert outputs(execution, "http")["main"][0]["body"] == {"ok": True}
    assert _Api.seen[-1] == f"Bearer {SECRET}"  # the node really used the secret

    responses = [
        made.text,
        (await client.get("/api/v1/credentials", headers=alice.headers)).text,
        (await client.get(f"/api/v1/credentials/{credential_id}", headers=alice.headers)).text,
        (await client.get(f"/api/v1/executions/{execution['id']}", headers=alice.headers)).text,
        (await client.get("/api/v1/executions", headers=alice.headers)).text,
    ]
    assert all(SECRET not in text for text in responses)

    async with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                assert SECRET not in json.dumps([str(v) for v in row]), f"plaintext found in {table.name}"
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "request" in captured.err  # the logs were captured, and they are clean


async def test_credentials_are_write_only_and_updatable(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    made = (
        await client.post(
            "/api/v1/credentials",
            json={"name": "c", "type": "t", "data": {"a": "1", "b": "2"}},
            headers=alice.headers,
        )
    ).json()
    assert "data" not in made and made["fields"] == ["a", "b"]
    updated = await client.patch(
        f"/api/v1/credentials/{made['id']}", json={"data": {"z": "9"}}, headers=alice.headers
    )
    assert updated.json()["fields"] == ["z"]
    dup = await client.post(
        "/api/v1/credentials", json={"name": "c", "type": "t", "data": {}}, headers=alice.headers
    )
    assert dup.status_code == 409


async def test_credential_types_are_those_the_nodes_use_with_their_fields(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    listed = (await client.get("/api/v1/credentials/types", headers=ann.headers)).json()
    registry = load_builtin_nodes(NodeRegistry())
    used = {slot.credential_type for cls in registry.all() for slot in cls.credential_slots}
    used |= set(ai_service.CREDENTIAL_TYPES.values())  # the keys of AI models
    assert {t["type"] for t in listed} == used
    basic = next(t for t in listed if t["type"] == "http_basic_auth")
    assert [(f["name"], f["secret"], f["required"]) for f in basic["fields"]] == [
        ("username", False, True),
        ("password", True, True),
    ]
