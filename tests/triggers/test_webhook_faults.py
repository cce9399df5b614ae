"""Webhook calls when things go wrong around them: the database is unreachable (a quick 503 with
Retry-After, not a hang or a 500), or the caller hangs up while its call waits for the result
(one info line, no traceback; the execution goes on)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.support.accounts import signup
from tests.support.apps import client_of
from tests.support.server import free_port
from tests.support.workflows import node
from tests.triggers.test_webhooks import active_workflow, webhook
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionStatus
from wirework.settings import Settings


@pytest.fixture
async def unreachable() -> Any:
    """A database server that is down: nothing listens on its port."""
    database = Database(f"postgresql://wirework@127.0.0.1:{free_port()}/wirework", outage_wait_s=60)
    yield database
    await database.dispose()


async def test_a_webhook_call_while_the_database_is_down_is_a_quick_503(
    settings: Settings, unreachable: Database
) -> None:
    """Not a hang until the caller gives up, not a 500: 503, Retry-After, and why; /readyz and
    the API say it too."""
    settings = settings.model_copy(update={"webhook_database_wait_s": 0.5})
    errors_before = REGISTRY.get_sample_value("wirework_database_errors_total") or 0
    app = create_app(settings, db=unreachable)  # no lifespan: it would need the database
    async with client_of(app) as client:
        async with asyncio.timeout(10):  # the database's own wait (60 s) does not hold the call
            response = await client.post("/webhook/orders", json={}, headers={"Idempotency-Key": "a"})
        ready = await client.get("/readyz")
        api = await client.get("/api/v1/workflows", headers={"Authorization": "Bearer some-api-key"})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "2"
    assert "Idempotency-Key" in response.json()["detail"]
    assert ready.status_code == 503 and ready.json()["detail"].startswith("database unreachable")
    assert api.status_code == 503 and api.headers["content-type"] == "application/problem+json"
    assert api.headers["Retry-After"] == "2"  # the API, too: not a 500
    # What this process's /metrics shows (serve's own /metrics needs the database for its key).
    assert (REGISTRY.get_sample_value("wirework_database_errors_total") or 0) > errors_before
    assert REGISTRY.get_sample_value("wirework_database_up") == 0


async def test_a_caller_who_hangs_up_is_one_info_line_and_the_run_goes_on(
    client: httpx.AsyncClient, app: Any, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = await signup(client, "ann")
    nap = node("nap", "core.code", {"code": "import time\ntime.sleep(1)\nreturn items"})
    await active_workflow(client, ann, webhook("slow", response_mode="last_node"), nap)
    capsys.readouterr()
    answered: list[Any] = []
    body_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(0.2)  # the caller gives up while the workflow runs
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        answered.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhook/slow",
        "raw_path": b"/webhook/slow",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"wirework.test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 40000),
        "server": ("wirework.test", 80),
    }
    await app(scope, receive, send)
    assert answered == []  # nobody to answer
    logged = capsys.readouterr().err
    assert logged.count("webhook_caller_left") == 1 and "Traceback" not in logged
    assert "status=499" in logged  # the request line: the caller closed it, nothing failed here
    await app.state.executor.drain()
    async with db.session() as session:
        statuses = list((await session.execute(select(Execution.status))).scalars())
    assert statuses == [ExecutionStatus.completed]
