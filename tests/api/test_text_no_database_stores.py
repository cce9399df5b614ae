"""NUL characters (and lone surrogates) are text no database stores: PostgreSQL refuses NUL in
text and JSON alike, so a URL, a body or a node output holding one was a 500 there, or an
execution that crashed on every claim (running its nodes again each time). Now they are a 400
at the door and a failed node that says why, the same on all three databases."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.accounts import signup
from tests.support.workflows import TRIGGER, chain, create, node, run
from tests.triggers.test_webhooks import GREET, active_workflow, webhook


def is_problem(response: httpx.Response, status: int) -> bool:
    return response.status_code == status and response.headers["content-type"] == "application/problem+json"


async def test_a_nul_in_a_url_is_a_400_on_every_route(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("ok"), GREET)
    for url in (
        "/api/v1/workflows?search=a%00b",  # was a 500 on PostgreSQL (a LIKE with NUL)
        "/api/v1/messages?q=%00",
        "/webhook/x%00y",  # public, was a 500 (the path lookup)
        "/webhook/ok?a=%00",  # public, was a 500 (the query lands in the item)
        "/webhook-test/a%00b",
        "/chat/a%00b",  # public, was a 500 (the bot lookup)
    ):
        answer = await client.get(url, headers=ann.headers)
        assert is_problem(answer, 400), (url, answer.text)
        assert "NUL" in answer.json()["detail"]
    posted = await client.post("/webhook/ok?a=%00", json={"name": "Ada"})
    assert is_problem(posted, 400)
    assert (await client.post("/webhook/ok?a=b", json={"name": "Ada"})).status_code == 202
    await app.state.executor.drain()
    runs = (await client.get("/api/v1/executions", headers=ann.headers)).json()["items"]
    assert [r["status"] for r in runs] == ["completed"]  # only the good call ran


async def test_a_nul_in_a_body_is_a_400(client: httpx.AsyncClient, app: Any) -> None:
    ann = await signup(client, "ann")
    await active_workflow(client, ann, webhook("door"), GREET)
    for content, kind in (
        (b'{"name": "a\\u0000b"}', "application/json"),
        (b'{"a\\u0000": 1}', "application/json"),
        (b"a\x00b", "text/plain"),
        (b"name=a%00b", "application/x-www-form-urlencoded"),
    ):
        answer = await client.post("/webhook/door", content=content, headers={"content-type": kind})
        assert is_problem(answer, 400), (content, answer.text)
    for path, body in (
        ("/api/v1/variables", {"name": "V", "value": "a\u0000b"}),
        ("/api/v1/workflows", {"name": "a\u0000b"}),
    ):
        answer = await client.post(path, json=body, headers=ann.headers)
        assert is_problem(answer, 400), (path, answer.text)
    # A backslash followed by u0000 is plain text.
    literal = await client.post(
        "/webhook/door", content=b'{"name": "\\\\u0000"}', headers={"content-type": "application/json"}
    )
    assert literal.status_code == 202, literal.text
    await app.state.executor.drain()
    runs = (await client.get("/api/v1/executions", headers=ann.headers)).json()["items"]
    assert [r["status"] for r in runs] == ["completed"]


async def test_a_node_output_no_database_stores_fails_the_node_once(client: httpx.AsyncClient) -> None:
    ann = await signup(client, "ann")
    for text in ('{{ "a\\x00b" }}', '{{ "\\ud800" }}'):
        made = node("make", "core.set", {"fields": {"x": text}, "keep_only_set": True})
        workflow_id = await create(client, ann, chain(TRIGGER, made))
        ran = await run(client, ann, workflow_id)
        assert ran["status"] == "failed", (text, ran["status"], ran["error"])
        assert ran["error_node"] == "make" and "NUL" in ran["error"], ran["error"]
        assert [n["status"] for n in ran["nodes"] if n["node_id"] == "make"] == ["failed"]
