"""Webhooks through the real app: activation, paths, methods, auth modes, bodies, response modes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account, signup
from tests.support.apps import another_server
from tests.support.workflows import chain, create, node
from wirework.db.engine import Database
from wirework.security.bodies import MAX_JSON_DEPTH
from wirework.settings import Settings
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


async def listen(client: httpx.AsyncClient, who: Account, workflow_id: str, draft: dict[str, Any]) -> str:
    """Start listening for a test call; the URL it gives."""
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/webhook-test", json={"definition": draft}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    return url


async def listener_status(client: httpx.AsyncClient, who: Account, workflow_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/workflows/{workflow_id}/webhook-test", headers=who.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_editor_test_call_runs_the_unsaved_draft_once(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(webhook("draft-hook"), GREET))
    draft = chain(
        webhook("draft-hook", response_mode="last_node"),
        node("greet", "core.set", {"fields": {"draft": True}, "keep_only_set": True}),
    )
    url = await listen(client, ann, workflow_id, draft)
    token = url.removeprefix("/webhook-test/")
    assert len(token) >= 40 and "draft-hook" not in url  # unguessable, not the node's path
    assert (
        await client.post("/webhook-test/draft-hook", json={})
    ).status_code == 404  # the path no longer routes
    assert (await listener_status(client, ann, workflow_id))["status"] == "listening"
    assert (await client.get(url)).status_code == 405  # the draft listens for POST; the call is not used up
    first = await client.post(url, json={})
    assert first.status_code == 200
    assert first.json() == [{"draft": True}]
    assert await listener_status(client, ann, workflow_id) == {
        "status": "received",
        "execution_id": first.headers["X-Wirework-Execution"],
    }
    assert (await client.post(url, json={})).status_code == 404  # one call only
    assert (await client.post("/webhook/draft-hook", json={})).status_code == 404  # not active
    again = await listen(client, ann, workflow_id, draft)  # listening again: a new URL, the old one is gone
    assert again != url and (await listener_status(client, ann, workflow_id))["status"] == "listening"


async def test_two_orgs_listening_on_the_same_path_each_get_only_their_own_call(
    client: httpx.AsyncClient, app: Any
) -> None:
    ann = await signup(client, "ann")
    app.state.settings.open_signup = True
    bob = await signup(client, "bob")
    urls = {}
    for who, mark in ((ann, "ann's draft"), (bob, "bob's draft")):
        workflow_id = await create(client, who, chain(webhook("same/path"), GREET))
        draft = chain(
            webhook("same/path", response_mode="last_node"),
            node(
                "greet",
                "core.set",
                {"fields": {"ran": mark, "got": "{{ json.body.to }}"}, "keep_only_set": True},
            ),
        )
        urls[mark] = (await listen(client, who, workflow_id, draft), workflow_id, who)
    assert urls["ann's draft"][0] != urls["bob's draft"][0]
    for mark, (url, workflow_id, who) in urls.items():
        answer = await client.post(url, json={"to": mark})
        assert answer.status_code == 200, answer.text
        assert answer.json() == [{"ran": mark, "got": mark}]
        run = await execution(client, who, answer.headers["X-Wirework-Execution"])
        assert run["workflow_id"] == workflow_id
    # Neither organization sees the other's test run.
    for who in (ann, bob):
        runs = (await client.get("/api/v1/executions", headers=who.headers)).json()["items"]
        assert len(runs) == 1


async def test_a_test_call_reaching_another_server_is_served(
    client: httpx.AsyncClient, settings: Settings, db: Database
) -> None:
    ann = await signup(client, "ann")
    workflow_id = await create(client, ann, chain(webhook("elsewhere"), GREET))
    draft = chain(webhook("elsewhere", response_mode="last_node"), GREET)
    url = await listen(client, ann, workflow_id, draft)  # this server stores the listener
    async with another_server(settings, db) as (_, other):
        answer = await other.post(url, json={"name": "Ada"})  # the call reaches the other one
        assert answer.status_code == 200, answer.text
        assert answer.json() == [{"greeting": "Hello Ada"}]
        assert (await other.post(url, json={"name": "Bo"})).status_code == 404  # taken, on any server
        status = await listener_status(other, ann, workflow_id)
    assert status == {"status": "received", "execution_id": answer.headers["X-Wirework-Execution"]}
    assert await listener_status(client, ann, workflow_id) == status


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


async def test_a_respond_node_cannot_act_as_the_app(client: httpx.AsyncClient, app: Any) -> None:
    """HTML with script and Set-Cookie for the app's own cookies: the answer is sandboxed (its
    script runs in an opaque origin) and plants no cookie; production and test URLs alike."""
    ann = await signup(client, "ann")
    respond = node(
        "respond",
        "core.respond_webhook",
        {
            "headers": {
                "Content-Type": "text/html",
                "Set-Cookie": "wirework_session=planted; Path=/",
                "Clear-Site-Data": '"cookies"',
                "X-Shop": "kept",
            },
            "body": "<script>fetch('/api/v1/auth/me').then(r => r.text()).then(alert)</script>",
        },
    )
    definition = chain(webhook("page", method="GET", response_mode="respond_node"), respond)
    workflow_id = await active_workflow(client, ann, *definition["nodes"])
    test_url = await listen(client, ann, workflow_id, definition)
    for url in ("/webhook/page", test_url):
        answer = await client.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith("<script>")
        assert answer.headers.get_list("content-security-policy") == ["sandbox"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in answer.headers and not answer.cookies
        assert "clear-site-data" not in answer.headers
        assert answer.headers["x-shop"] == "kept"
    # Errors of webhook URLs are served the same way.
    missing = await client.get("/webhook/nothing")
    assert missing.status_code == 404 and missing.headers["content-security-policy"] == "sandbox"

    # With cookies allowed (webhooks on an origin of their own) the workflow's own cookies pass,
    # Wirework's never, in whatever case or prefix.
    app.state.settings.webhook_allow_cookies = True
    cookies = ["wirework_session=x", "WireWork_csrf=x", "__Host-wirework_session=x; Secure", "=x", "cart=42"]
    for n, cookie in enumerate(cookies):
        respond["parameters"]["headers"] = {"Set-Cookie": cookie}
        hook = webhook(f"cookie{n}", method="GET", response_mode="respond_node")
        await active_workflow(client, ann, hook, respond, name=f"cookie{n}")
        answer = await client.get(f"/webhook/cookie{n}")
        assert answer.status_code == 200, answer.text
        assert answer.headers.get("set-cookie") == (cookie if cookie == "cart=42" else None), cookie


async def test_non_standard_json_is_refused_at_the_door(client: httpx.AsyncClient, app: Any) -> None:
    """NaN, infinities and lone surrogates are JSON to Python only; they would fail every claim
    of the execution (or its storage). The caller gets 400 and nothing is accepted."""
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("strict"), GREET)
    for body in (
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": [-Infinity]}',
        b'{"a": 1e999}',
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as bytes: not UTF-8
        b"[" + b",".join([b"[]"] * 300_000) + b"]",  # too many values: decoding would hold the loop
    ):
        response = await client.post(
            "/webhook/strict", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"].startswith("The request body is not valid JSON"), body
    emoji = await client.post(
        "/webhook/strict", content=b'{"name": "\\ud83d\\ude00"}', headers={"content-type": "application/json"}
    )
    assert emoji.status_code == 202  # a surrogate pair is a real character
    await app.state.executor.drain()
    runs = (await client.get("/api/v1/executions", headers=ann.headers)).json()["items"]
    assert [(r["status"], r["error"]) for r in runs] == [("completed", None)]


async def test_deep_json_and_malformed_forms_are_400_without_a_traceback(
    client: httpx.AsyncClient, app: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("door"))  # the body lands in its output as it came
    json_type = {"content-type": "application/json"}
    bodies = [
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), json_type),
        (b"[" * 1_000 + b"]" * 1_000, json_type),
        (b"[" * 100_000 + b"]" * 100_000, json_type),
        (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, json_type),
        (b"garbage", {"content-type": "multipart/form-data"}),
        (b"garbage", {"content-type": "multipart/form-data; boundary=zz"}),
        (
            b"--zz\r\nContent-Disposition: form-data\r\n\r\nv\r\n--zz--\r\n",
            {"content-type": "multipart/form-data; boundary=zz"},
        ),
        (b"--zz\r\nX: y\r\n\r\nv\r\n--zz--\r\n", {"content-type": "multipart/form-data; boundary=zz"}),
        (  # UTF-7 decodes "+2AA-" to a lone surrogate
            b'--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\n+2AA-\r\n--zz--\r\n',
            {"content-type": "multipart/form-data; boundary=zz; charset=utf-7"},
        ),
    ]
    capfd.readouterr()
    for body, headers in bodies:
        response = await client.post("/webhook/door", content=body, headers=headers)
        assert response.status_code == 400, (body[:40], response.text)
        assert response.headers["content-type"] == "application/problem+json"
    logged = capfd.readouterr().err
    assert "Traceback" not in logged and "unhandled_error" not in logged
    assert logged.count("path=/webhook/door") == len(bodies)  # one line a call
    # MAX_JSON_DEPTH levels are fine, and every database stores them.
    deepest = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    ok = await client.post("/webhook/door", content=deepest, headers=json_type)
    assert ok.status_code == 202
    await app.state.executor.drain()
    runs = (await client.get("/api/v1/executions", headers=ann.headers)).json()["items"]
    assert [(r["status"], r["error"]) for r in runs] == [("completed", None)]


async def test_webhook_limits_hold_across_servers(
    client: httpx.AsyncClient, app: Any, settings: Settings, db: Database, backend: str
) -> None:
    """With PostgreSQL or MySQL the per-client webhook limit counts in the database, so two
    servers share it. (SQLite is served by one process, which counts in memory.)"""
    if backend == "sqlite":
        pytest.skip("SQLite is served by one process: webhook calls count in its memory")
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("limited"), GREET)
    app.state.settings.webhook_rate_limit = 3
    async with another_server(settings, db) as (_, other):
        assert (await client.post("/webhook/limited", json={})).status_code == 202
        assert (await other.post("/webhook/limited", json={})).status_code == 202
        assert (await client.post("/webhook/limited", json={})).status_code == 202
        refused = await other.post("/webhook/limited", json={})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


async def test_a_respond_node_answers_only_statuses_that_end_the_request(client: httpx.AsyncClient) -> None:
    """1xx would switch protocols (a proxy would then tunnel what follows) and is refused on save;
    204 and 304 are answered without the body the workflow gave."""
    ann = await signup(client, "ann")
    for status in (101, 100, 103):
        bad = node("respond", "core.respond_webhook", {"status": status})
        saved = await client.post(
            "/api/v1/workflows",
            json={"name": "x", "definition": chain(webhook(f"s{status}", response_mode="respond_node"), bad)},
            headers=ann.headers,
        )
        assert saved.status_code == 422, saved.text
    for status in (204, 304):
        empty = node("respond", "core.respond_webhook", {"status": status, "body": {"ignored": True}})
        hook = webhook(f"e{status}", method="GET", response_mode="respond_node")
        await active_workflow(client, ann, hook, empty, name=f"e{status}")
        answer = await client.get(f"/webhook/e{status}")
        assert answer.status_code == status and answer.content == b""
