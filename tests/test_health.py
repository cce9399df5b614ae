"""Health, readiness, metrics, request ids and problem+json for unknown routes."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.accounts import signup, signup_invited
from wirework.app import create_app
from wirework.db.engine import Database
from wirework.db.migrate import head_revision
from wirework.settings import Settings


async def test_healthz_and_readyz_report_the_revision(client: httpx.AsyncClient, db: Database) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["revision"] == head_revision() and ready.json()["database"] == db.dialect


async def test_readyz_is_503_with_the_reason_before_migrations(tmp_path: Path, settings: Settings) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings, db=empty)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")
    await empty.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "wirework db upgrade" in response.json()["detail"]


async def test_metrics_are_prometheus_text_for_instance_admins(client: httpx.AsyncClient) -> None:
    admin = await signup(client, "root")
    member = await signup_invited(client, admin, "member")
    await client.get("/healthz")
    assert (await client.get("/metrics", headers=member.headers)).status_code == 403
    response = await client.get("/metrics", headers=admin.headers)
    assert response.status_code == 200
    assert 'wirework_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = await client.put("/healthz")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


async def test_unexpected_errors_are_500_problems_without_a_trace(settings: Settings, db: Database) -> None:
    app = create_app(settings, db=db)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text and "Traceback" not in response.text
