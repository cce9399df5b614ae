"""Webhooks through the real app: activation, paths, methods, auth modes, bodies, response modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx

from tests.support.accounts import Account, signup
from tests.support.workflows import chain, create, node
from wirework.workflows import service as workflows
from wirework.workflows.models import Workflow


def webhook(path: str, **parameters: Any) -> dict[str, Any]:
    credentials = {"auth": parameters.pop("credential")} if "credential" in parameters else {}
    return node("hook", "core.webhook", {"path": path, **parameters}, credentials=credentials)


GREET = node(
    "greet", "core.set", {"fields": {"greeting": "Hello {{ json.body.name }}"}, "keep_only_set": True}
)


async def active_workflow(
    client: httpx.AsyncClient, who: Account, *nodes: dict[str, Any], name: str = "hook"
) -> str:
    workflow_id = await create(client, who, chain(*nodes), name=name)
    response = await client.post(f"/api/v1/workflows/{workflow_id}/activate", headers=who.headers)
    assert response.status_code == 200, response.text
    return workflow_id


async def execution(client: httpx.AsyncClient, who: Account, execution_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/executions/{execution_id}", headers=who.headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_last_node_mode_answers_with_the_workflows_items(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("orders/new", response_mode="last_node"), GREET)
    response = await client.post("/webhook/orders/new", json={"name": "Ada"})
    assert response.status_code == 200, response.text
    assert response.json() == [{"greeting": "Hello Ada"}]
    run = await execution(client, ann, response.headers["X-Wirework-Execution"])
    assert run["trigger_type"] == "webhook" and run["status"] == "completed"
    listed = await client.get("/api/v1/webhooks", headers=ann.headers)
    assert [w["path"] for w in listed.json()["items"]] == ["orders/new"]
    assert listed.json()["items"][0]["url"].endswith("/webhook/orders/new")


async def test_immediately_mode_answers_202_and_the_execution_runs(
    client: httpx.AsyncClient, app: Any
) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("fast"), GREET)
    response = await client.post("/webhook/fast?source=test", json={"name": "Bo"})
    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    await app.state.executor.drain()
    run = await execution(client, ann, execution_id)
    assert run["status"] == "completed"
    hook = next(n for n in run["nodes"] if n["node_id"] == "hook")
    item = hook["output_data"]["main"][0]
    assert item["method"] == "POST" and item["query"] == {"source": "test"} and item["body"] == {"name": "Bo"}


async def test_respond_node_sets_status_headers_and_body(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    respond = node(
        "respond",
        "core.respond_webhook",
        {
            "status": 201,
            "headers": {"X-Order": "{{ json.body.id }}"},
            "body": {"created": "{{ json.body.id }}"},
        },
    )
    await active_workflow(client, ann, webhook("create", response_mode="respond_node"), respond)
    response = await client.post("/webhook/create", json={"id": 7})
    assert response.status_code == 201, response.text
    assert response.headers["X-Order"] == "7"
    assert response.json() == {"created": 7}


async def test_unknown_path_404_wrong_method_405_and_inactive_workflows_do_not_answer(
    client: httpx.AsyncClient,
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await active_workflow(client, ann, webhook("only-get", method="GET"), GREET)
    assert (await client.get("/webhook/nothing-here")).status_code == 404
    wrong = await client.post("/webhook/only-get", json={})
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["instance"] == "/webhook/only-get"
    called = await client.get("/webhook/only-get", headers={"x-request-id": "call-1"})
    assert called.status_code == 202
    assert called.headers["x-request-id"] == "call-1"  # the request log covers webhook calls too
    await client.post(f"/api/v1/workflows/{workflow_id}/deactivate", headers=ann.headers)
    assert (await client.get("/webhook/only-get")).status_code == 404


async def test_a_path_is_unique_per_method_across_the_instance(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("shared"), GREET, name="first")
    second = await create(client, ann, chain(webhook("shared"), GREET), name="second")
    clash = await client.post(f"/api/v1/workflows/{second}/activate", headers=ann.headers)
    assert clash.status_code == 409
    assert "already used by another active workflow" in clash.json()["detail"]
    # The same path with another method is fine.
    third = await create(client, ann, chain(webhook("shared", method="PUT"), GREET), name="third")
    assert (await client.post(f"/api/v1/workflows/{third}/activate", headers=ann.headers)).status_code == 200


async def credential(client: httpx.AsyncClient, who: Account, data: dict[str, str]) -> str:
    response = await client.post(
        "/api/v1/credentials",
        json={"name": f"hook-{len(data)}-{sorted(data)[0]}", "type": "webhook_auth", "data": data},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_header_token_auth(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    secret = await credential(client, ann, {"token": "s3cret-token"})
    await active_workflow(
        client,
        ann,
        webhook("tok", auth="header", auth_header="X-Token", credential=secret, response_mode="last_node"),
        GREET,
    )
    assert (await client.post("/webhook/tok", json={"name": "x"})).status_code == 401
    assert (
        await client.post("/webhook/tok", json={"name": "x"}, headers={"X-Token": "wrong"})
    ).status_code == 401
    ok = await client.post("/webhook/tok", json={"name": "x"}, headers={"X-Token": "s3cret-token"})
    assert ok.status_code == 200
    run = await execution(client, ann, ok.headers["X-Wirework-Execution"])
    assert "s3cret-token" not in json.dumps(run)  # the token is not kept in the execution's items


async def test_basic_auth(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    secret = await credential(client, ann, {"user": "shop", "password": "pa55word"})
    await active_workflow(client, ann, webhook("basic", auth="basic", credential=secret), GREET)
    assert (await client.post("/webhook/basic", json={}, auth=("shop", "nope"))).status_code == 401
    assert (await client.post("/webhook/basic", json={}, auth=("other", "pa55word"))).status_code == 401
    assert (await client.post("/webhook/basic", json={}, auth=("shop", "pa55word"))).status_code == 202


async def test_hmac_signature_of_the_body(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    secret = await credential(client, ann, {"secret": "hmac-key"})
    await active_workflow(client, ann, webhook("signed", auth="hmac", credential=secret), GREET)
    body = b'{"name": "Signed"}'
    good = hmac.new(b"hmac-key", body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json"}
    assert (await client.post("/webhook/signed", content=body, headers=headers)).status_code == 401
    bad = {**headers, "X-Wirework-Signature": "sha256=" + "0" * 64}
    assert (await client.post("/webhook/signed", content=body, headers=bad)).status_code == 401
    tampered = {**headers, "X-Wirework-Signature": good}
    assert (await client.post("/webhook/signed", content=body + b" ", headers=tampered)).status_code == 401
    signed = {**headers, "X-Wirework-Signature": f"sha256={good}"}
    assert (await client.post("/webhook/signed", content=body, headers=signed)).status_code == 202


async def echo(client: httpx.AsyncClient, path: str, **request: Any) -> dict[str, Any]:
    response = await client.post(f"/webhook/{path}", **request)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()[0]
    return item


async def test_bodies_json_form_multipart_and_raw(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("echo", response_mode="last_node"))
    assert (await echo(client, "echo", json={"a": [1, 2]}))["body"] == {"a": [1, 2]}
    assert (await echo(client, "echo", data={"name": "Ada", "age": "36"}))["body"] == {
        "name": "Ada",
        "age": "36",
    }
    upload = await echo(
        client, "echo", data={"note": "scan"}, files={"file": ("scan.png", b"\x89PNG-bytes", "image/png")}
    )
    assert upload["body"] == {"note": "scan"}
    assert upload["binary"]["file"]["filename"] == "scan.png"
    assert upload["binary"]["file"]["content_type"] == "image/png"
    assert base64.b64decode(upload["binary"]["file"]["data"]) == b"\x89PNG-bytes"
    text = await echo(client, "echo", content=b"plain words", headers={"content-type": "text/plain"})
    assert text["body"] == "plain words"
    raw = await echo(
        client, "echo", content=b"\x00\x01", headers={"content-type": "application/octet-stream"}
    )
    assert base64.b64decode(raw["binary"]["body"]["data"]) == b"\x00\x01"
    broken = await client.post(
        "/webhook/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["detail"]


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("big"))
    limit = app.state.settings.webhook_max_body_bytes
    response = await client.post(
        "/webhook/big", content=b"x" * (limit + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_slow_workflow_answers_504_and_goes_on(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    slow = node("slow", "core.code", {"code": "import time\ntime.sleep(2)\nreturn items"})
    await active_workflow(client, ann, webhook("slow", response_mode="last_node", timeout_s=1), slow)
    response = await client.post("/webhook/slow", json={})
    assert response.status_code == 504
    assert "goes on" in response.json()["detail"]
    await app.state.executor.drain()
    runs = await client.get("/api/v1/executions", headers=ann.headers)
    assert [r["status"] for r in runs.json()["items"]] == ["completed"]


async def test_editor_test_call_runs_the_unsaved_draft_once(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(webhook("draft-hook"), GREET))
    draft = chain(
        webhook("draft-hook", response_mode="last_node"),
        node("greet", "core.set", {"fields": {"draft": True}, "keep_only_set": True}),
    )
    assert (await client.post("/webhook-test/draft-hook", json={})).status_code == 404
    listen = await client.post(
        f"/api/v1/workflows/{workflow_id}/webhook-test", json={"definition": draft}, headers=ann.headers
    )
    assert listen.status_code == 200, listen.text
    assert listen.json()["url"] == "/webhook-test/draft-hook"
    status = await client.get(f"/api/v1/workflows/{workflow_id}/webhook-test", headers=ann.headers)
    assert status.json()["status"] == "listening"
    first = await client.post("/webhook-test/draft-hook", json={})
    assert first.status_code == 200
    assert first.json() == [{"draft": True}]
    status = await client.get(f"/api/v1/workflows/{workflow_id}/webhook-test", headers=ann.headers)
    assert status.json() == {"status": "received", "execution_id": first.headers["X-Wirework-Execution"]}
    assert (await client.post("/webhook-test/draft-hook", json={})).status_code == 404  # one call only
    assert (await client.post("/webhook/draft-hook", json={})).status_code == 404  # not active


async def test_another_org_cannot_see_or_listen_on_my_webhooks(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    workflow_id = await active_workflow(client, ann, webhook("mine"), GREET)
    app.state.settings.open_signup = True
    bob = await signup(client, "bob")
    assert (await client.get("/api/v1/webhooks", headers=bob.headers)).json()["items"] == []
    listen = await client.post(
        f"/api/v1/workflows/{workflow_id}/webhook-test",
        json={"definition": chain(webhook("mine"), GREET)},
        headers=bob.headers,
    )
    assert listen.status_code == 404


async def test_trigger_parameters_are_checked_on_save(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    bad = chain(node("hook", "core.webhook", {"path": "spaces are bad", "method": "TRACE"}))
    response = await client.post(
        "/api/v1/workflows", json={"name": "bad", "definition": bad}, headers=ann.headers
    )
    assert response.status_code == 422
    assert {e["loc"][-1] for e in response.json()["errors"] if "hook" in e["loc"]} >= {"path", "method"}


async def test_queue_metrics_count_what_the_database_holds(
    client: httpx.AsyncClient, app: Any, db: Any
) -> None:
    ann = await signup(client, "ann")
    pause = node("pause", "core.wait", {"seconds": 600})
    workflow_id = await active_workflow(client, ann, webhook("metered"), pause)
    for _ in range(2):
        assert (await client.post("/webhook/metered", json={})).status_code == 202
    await app.state.executor.drain()  # both wait now
    await app.state.executor.stop(0)  # and nothing picks up new work: accepted rows stay pending
    async with db.session() as session:
        workflow = await session.get(Workflow, uuid.UUID(workflow_id))
        for _ in range(3):
            await workflows.start_run(
                session, workflow, version=None, input_items=[], pinned=None, start=None, user_id=None
            )
        await session.commit()
    text = (await client.get("/metrics", headers=ann.headers)).text
    assert "wirework_queue_depth 3.0" in text
    assert 'wirework_executions{status="waiting"} 2.0' in text
    lag = next(line for line in text.splitlines() if line.startswith("wirework_queue_claim_lag_seconds "))
    assert float(lag.split()[1]) > 0
