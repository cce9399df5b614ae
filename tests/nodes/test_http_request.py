"""The HTTP request node, against a real HTTP server on 127.0.0.1 (no mocked HTTP)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from wirework.engine.definition import NodeSpec, OnError
from wirework.engine.errors import ParameterError
from wirework.engine.items import Items
from wirework.engine.nodes import NodeContext, NodeRegistry, parameter_errors
from wirework.engine.runner import run_workflow
from wirework.engine.testing import chain, definition, node
from wirework.nodes import load_builtin_nodes
from wirework.nodes.core.http import (
    HttpRequest,
    HttpRequestFailed,
    HttpRequestRefused,
    HttpStatusError,
    _retry_after,
)
from wirework.security.ssrf import SsrfPolicy

LOCAL = SsrfPolicy(allow_networks=(ip_network("127.0.0.0/8"),))
BINARY = bytes(range(256)) * 4
CLIENT_SECRET = "cl!ent-s3cret/+="
TOKEN = "bearer-s3cret-token-9f2c"
PASSWORD = "pa55:word-7d1e"
API_KEY = "api-key-s3cret-41aa"


# -- a small server that speaks plain HTTP/1.1 ---------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.keys: dict[str, list[str | None]] = {}  # path → Idempotency-Key of each request
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(value).encode(), "application/json", headers)

    def route(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        multi = parse_qs(parts.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in multi.items()}
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.hits[path] += 1
            hits = self.server.hits[path]
            self.server.keys.setdefault(path, []).append(self.headers.get("idempotency-key"))
        segments = path.strip("/").split("/")
        kind = segments[0]
        if kind == "echo":
            self.send_json(
                200,
                {
                    "method": self.command,
                    "path": path,
                    "query": {k: v[0] if len(v) == 1 else v for k, v in multi.items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": raw.decode(),
                    "client_port": self.client_address[1],
                },
            )
        elif kind == "status":  # echoes the credentials back, as careless servers do
            echoed = {
                "authorization": self.headers.get("authorization"),
                "key": self.headers.get("x-api-key"),
            }
            self.send_json(int(segments[1]), {"error": f"nothing here ({segments[1]})", **echoed})
        elif kind == "flaky":  # /flaky/<key>?fail=N&status=503&retry_after=1
            if hits <= int(query.get("fail", 0)):
                extra = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
                self.send_json(int(query.get("status", 503)), {"error": "busy"}, extra)
            else:
                self.send_json(200, {"ok": True, "hits": hits})
        elif kind == "object":
            self.send_json(200, {"id": 1, "name": "Ada"})
        elif kind == "list":
            self.send_json(200, [{"id": 1}, {"id": 2}, 3])
        elif kind == "text":
            self.send(200, "héllo wörld".encode(), "text/plain; charset=utf-8")
        elif kind == "latin1":
            self.send(200, "héllo".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif kind == "bytes":
            self.send(200, BINARY, "image/png")
        elif kind == "big":
            self.send(200, b"x" * int(query["size"]), "text/plain")
        elif kind == "redirect":
            self.send(int(query.get("status", 302)), b"", None, {"Location": query["to"]})
        elif kind == "token":  # /token/<key>: OAuth2 client credentials
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            auth = self.headers.get("authorization", "")
            if auth.startswith("Basic "):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                client_id, secret = unquote_plus(client_id), unquote_plus(secret)
            else:
                client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if form.get("grant_type") != "client_credentials" or (client_id, secret) != (
                "app",
                CLIENT_SECRET,
            ):
                self.send_json(401, {"error": "invalid_client", "received": secret})
            else:
                token = {"access_token": f"tok-{hits}", "token_type": "Bearer", "expires_in": 3600}
                self.send_json(200, {**token, "scope": form.get("scope")})
        elif kind == "protected":  # accepts "Bearer tok-N" with N >= min
            auth = self.headers.get("authorization", "")
            number = auth.removeprefix("Bearer tok-")
            ok = auth.startswith("Bearer tok-") and int(number) >= int(query.get("min", 1))
            self.send_json(200 if ok else 401, {"ok": ok, "token": number})
        elif kind == "pages":  # ?page=N: three pages of two items, then empty pages
            page = int(query.get("page", 1))
            data = [{"page": page, "i": i} for i in range(2)] if page <= 3 else []
            self.send_json(200, {"data": data})
        elif kind == "cursor":  # ?after=N: three pages linked by a relative `next`
            after = int(query.get("after", 0))
            following = f"{path}?after={after + 1}" if after < 2 else None
            self.send_json(200, {"items": [{"n": after}], "next": following})
        elif kind == "forever":  # always one more page, as an absolute URL
            after = int(query.get("after", 0))
            self.send_json(200, {"n": after, "next": f"{self.server.base}{path}?after={after + 1}"})
        elif kind == "slow":
            time.sleep(float(query["s"]))
            self.send_json(200, {})
        else:
            self.send_json(404, {"error": "no such route"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = route


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


# -- running the node ----------------------------------------------------------------------


@dataclass
class Services:
    """What the runtime gives nodes: the SSRF policy, credentials by id, and sleep."""

    ssrf_policy: SsrfPolicy = LOCAL
    store: dict[str, dict[str, Any]] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    async def credential(self, node: NodeSpec, slot: str) -> Mapping[str, Any]:
        return self.store[node.credentials[slot]]

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


async def run_http(
    parameters: dict[str, Any],
    items: Items | None = None,
    *,
    services: Any = None,
    credentials: dict[str, str] | None = None,
    on_error: OnError = "stop",
    execution: dict[str, Any] | None = None,
) -> Items:
    spec = NodeSpec(
        id="http",
        name="HTTP",
        type=HttpRequest.type,
        parameters=parameters,
        credentials=credentials or {},
        on_error=on_error,
    )
    ctx = NodeContext(
        node=spec,
        inputs={"main": items if items is not None else [{}]},
        services=services if services is not None else Services(),
        execution=execution,
    )
    return (await HttpRequest().run(ctx))["main"]


def key() -> str:
    return uuid.uuid4().hex[:12]


# -- requests ------------------------------------------------------------------------------


async def test_get_json_with_query_and_headers(server: Server) -> None:
    [out] = await run_http(
        {
            "url": f"{server.base}/echo?fixed=1",
            "query": {"q": "a b&c", "n": 2, "flag": True, "tags": ["x", "y"]},
            "headers": {"X-Trace": "t-1", "X-Count": 5},
        }
    )
    assert out["status"] == 200
    assert out["headers"]["content-type"] == "application/json"
    body = out["body"]
    assert body["method"] == "GET"
    assert body["query"] == {"fixed": "1", "q": "a b&c", "n": "2", "flag": "true", "tags": ["x", "y"]}
    assert body["headers"]["x-trace"] == "t-1"
    assert body["headers"]["x-count"] == "5"


@pytest.mark.parametrize(
    ("body_type", "body", "extra", "content_type", "received"),
    [
        (
            "json",
            {"name": "Ada", "tags": ["x"], "n": 1.5, "ok": None},
            {},
            "application/json",
            None,
        ),
        (
            "form",
            {"name": "Ada Lovelace", "n": 3, "tag": ["a", "b"]},
            {},
            "application/x-www-form-urlencoded",
            None,
        ),
        (
            "raw",
            "<note>hi é</note>",
            {"content_type": "application/xml"},
            "application/xml",
            "<note>hi é</note>",
        ),
        ("raw", "plain words", {}, "text/plain; charset=utf-8", "plain words"),
    ],
)
async def test_bodies_arrive_as_sent(
    server: Server, body_type: str, body: Any, extra: dict[str, Any], content_type: str, received: str | None
) -> None:
    [out] = await run_http(
        {"method": "POST", "url": f"{server.base}/echo", "body_type": body_type, "body": body, **extra}
    )
    echo = out["body"]
    assert echo["method"] == "POST"
    assert echo["headers"]["content-type"] == content_type
    if body_type == "json":
        assert json.loads(echo["body"]) == body
    elif body_type == "form":
        assert parse_qs(echo["body"]) == {"name": ["Ada Lovelace"], "n": ["3"], "tag": ["a", "b"]}
    else:
        assert echo["body"] == received


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_methods(server: Server, method: str) -> None:
    [out] = await run_http(
        {"method": method, "url": f"{server.base}/echo", "body_type": "json", "body": [1, 2]}
    )
    assert out["body"]["method"] == method
    assert out["body"]["body"] == "[1,2]"


async def test_head_has_no_body(server: Server) -> None:
    [out] = await run_http({"method": "HEAD", "url": f"{server.base}/object"})
    assert out["status"] == 200
    assert out["body"] is None
    assert int(out["headers"]["content-length"]) > 0


async def test_each_item_has_its_own_url_and_one_client_serves_the_run(server: Server) -> None:
    out = await run_http(
        {"url": f"{server.base}/echo", "query": {"id": "{{ json.id }}"}, "full_response": False},
        [{"id": 1}, {"id": 2}, {"id": 3}],
    )
    assert [o["query"]["id"] for o in out] == ["1", "2", "3"]
    assert len({o["client_port"] for o in out}) == 1  # one pooled connection for the whole run


async def test_no_items_no_requests(server: Server) -> None:
    assert await run_http({"url": f"{server.base}/echo"}, []) == []


# -- idempotency keys ----------------------------------------------------------------------


async def test_changing_requests_carry_an_idempotency_key_per_execution_node_and_item(server: Server) -> None:
    execution = {"id": str(uuid.uuid4())}
    k = key()
    post = {
        "method": "POST",
        "url": f"{server.base}/echo/{k}",
        "body_type": "json",
        "body": {"n": "{{ json.n }}"},
    }
    items = [{"n": 1}, {"n": 2}]
    first = [
        o["body"]["headers"].get("idempotency-key") for o in await run_http(post, items, execution=execution)
    ]
    again = [
        o["body"]["headers"].get("idempotency-key") for o in await run_http(post, items, execution=execution)
    ]
    assert first == again  # a resumed execution sends the same keys
    assert all(first) and first[0] != first[1]  # one per item
    other = await run_http(post, items, execution={"id": str(uuid.uuid4())})
    assert {o["body"]["headers"]["idempotency-key"] for o in other}.isdisjoint(first)
    batch = await run_http(post, [{"n": 3}, {"n": 4}], execution=execution)  # a loop's next batch
    assert {o["body"]["headers"]["idempotency-key"] for o in batch}.isdisjoint(first)
    for method in ("GET", "HEAD", "OPTIONS"):  # reading changes nothing: no key
        await run_http({"method": method, "url": f"{server.base}/echo/{k}"}, execution=execution)
    assert server.keys[f"/echo/{k}"][-3:] == [None, None, None]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_every_changing_method_carries_the_key(server: Server, method: str) -> None:
    execution = {"id": str(uuid.uuid4())}
    [out] = await run_http({"method": method, "url": f"{server.base}/echo"}, execution=execution)
    assert out["body"]["headers"]["idempotency-key"]


async def test_the_key_header_can_be_renamed_turned_off_or_set_by_hand(server: Server) -> None:
    execution = {"id": str(uuid.uuid4())}
    url = f"{server.base}/echo"
    [renamed] = await run_http(
        {"method": "POST", "url": url, "idempotency_header": "X-Request-Id"}, execution=execution
    )
    assert renamed["body"]["headers"]["x-request-id"] and "idempotency-key" not in renamed["body"]["headers"]
    [off] = await run_http({"method": "POST", "url": url, "idempotency_header": ""}, execution=execution)
    assert "idempotency-key" not in off["body"]["headers"]
    [own] = await run_http(
        {"method": "POST", "url": url, "headers": {"idempotency-key": "{{ json.order }}"}},
        [{"order": "order-7"}],
        execution=execution,
    )
    assert own["body"]["headers"]["idempotency-key"] == "order-7"
    assert parameter_errors(HttpRequest, {"url": "x", "idempotency_header": "Bad Name"})


async def test_retries_send_the_same_key_and_each_page_its_own(server: Server) -> None:
    execution = {"id": str(uuid.uuid4())}
    k = key()
    await run_http(
        {"method": "POST", "url": f"{server.base}/flaky/{k}?fail=2", "retry_backoff_s": 0},
        execution=execution,
    )
    sent = server.keys[f"/flaky/{k}"]
    assert len(sent) == 3 and sent[0] and len(set(sent)) == 1
    k = key()
    await run_http(
        {
            "method": "POST",
            "url": f"{server.base}/pages/{k}",
            "pagination": "page_param",
            "items_field": "data",
        },
        execution=execution,
    )
    pages = server.keys[f"/pages/{k}"]
    assert len(pages) == 4 and all(pages) and len(set(pages)) == 4


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "slot", "secret", "header", "expected"),
    [
        (
            "basic",
            "basic",
            {"username": "ada", "password": PASSWORD},
            "authorization",
            "Basic " + base64.b64encode(f"ada:{PASSWORD}".encode()).decode(),
        ),
        ("bearer", "bearer", {"token": TOKEN}, "authorization", f"Bearer {TOKEN}"),
        ("header", "header", {"name": "X-Api-Key", "value": API_KEY}, "x-api-key", API_KEY),
    ],
)
async def test_authentication_modes(
    server: Server, mode: str, slot: str, secret: dict[str, str], header: str, expected: str
) -> None:
    services = Services(store={"cred-1": secret})
    [out] = await run_http(
        {"url": f"{server.base}/echo", "authentication": mode, "headers": {"X-Api-Key": "overridden"}},
        services=services,
        credentials={slot: "cred-1"},
    )
    assert out["body"]["headers"][header] == expected


@pytest.mark.parametrize("client_auth", ["basic", "body"])
async def test_oauth2_client_credentials_token_is_fetched_once_per_run(
    server: Server, client_auth: str
) -> None:
    k = key()
    services = Services(
        store={
            "oauth": {
                "token_url": f"{server.base}/token/{k}",
                "client_id": "app",
                "client_secret": CLIENT_SECRET,
                "scope": "read",
                "client_auth": client_auth,
            }
        }
    )
    out = await run_http(
        {"url": f"{server.base}/protected/{k}", "authentication": "oauth2_client_credentials"},
        [{}, {}, {}],
        services=services,
        credentials={"oauth2": "oauth"},
    )
    assert [o["body"] for o in out] == [{"ok": True, "token": "1"}] * 3
    assert server.hits[f"/token/{k}"] == 1
    assert server.hits[f"/protected/{k}"] == 3


async def test_oauth2_token_is_renewed_once_on_401(server: Server) -> None:
    k = key()
    services = Services(
        store={
            "o": {"token_url": f"{server.base}/token/{k}", "client_id": "app", "client_secret": CLIENT_SECRET}
        }
    )
    [out] = await run_http(
        {"url": f"{server.base}/protected/{k}?min=2", "authentication": "oauth2_client_credentials"},
        services=services,
        credentials={"oauth2": "o"},
    )
    assert out["body"] == {"ok": True, "token": "2"}
    assert server.hits[f"/token/{k}"] == 2


async def test_oauth2_refused_token_request_is_a_clear_error_without_the_secret(server: Server) -> None:
    k = key()
    wrong = "wrong-s3cret-value"
    services = Services(
        store={"o": {"token_url": f"{server.base}/token/{k}", "client_id": "app", "client_secret": wrong}}
    )
    with pytest.raises(HttpStatusError) as caught:
        await run_http(
            {"url": f"{server.base}/protected/{k}", "authentication": "oauth2_client_credentials"},
            services=services,
            credentials={"oauth2": "o"},
        )
    message = caught.value.message
    assert "could not get an OAuth2 access token" in message
    assert "status 401" in message
    assert wrong not in message  # the server echoed it; the node masked it
    assert "***" in message


async def test_missing_credential_fields_are_named_not_shown(server: Server) -> None:
    services = Services(store={"c": {"username": "ada"}})
    with pytest.raises(HttpRequestFailed, match="the basic credential has no 'password'"):
        await run_http(
            {"url": f"{server.base}/echo", "authentication": "basic"},
            services=services,
            credentials={"basic": "c"},
        )


@pytest.mark.parametrize(
    ("mode", "secret", "shown"),
    [
        ("bearer", {"token": TOKEN}, TOKEN),
        ("header", {"name": "X-Api-Key", "value": API_KEY}, API_KEY),
        (
            "basic",
            {"username": "ada", "password": PASSWORD},
            base64.b64encode(f"ada:{PASSWORD}".encode()).decode(),
        ),
    ],
)
async def test_secrets_never_appear_in_error_messages(
    server: Server, mode: str, secret: dict[str, str], shown: str
) -> None:
    services = Services(store={"c": secret})
    with pytest.raises(HttpStatusError) as caught:
        await run_http(
            {"url": f"{server.base}/status/403", "authentication": mode},
            services=services,
            credentials={mode: "c"},
        )
    message = str(caught.value)
    assert "failed with status 403" in message
    assert shown not in message
    assert "***" in message


async def test_credentials_do_not_follow_a_redirect_to_another_origin(server: Server) -> None:
    services = Services(
        ssrf_policy=SsrfPolicy(frozenset({"localhost"}), LOCAL.allow_networks),
        store={"c": {"name": "X-Api-Key", "value": API_KEY}},
    )
    same = f"{server.base}/redirect?to=/echo"
    other = f"{server.base}/redirect?to=http://localhost:{server.server_port}/echo"
    [kept] = await run_http(
        {"url": same, "authentication": "header"}, services=services, credentials={"header": "c"}
    )
    [dropped] = await run_http(
        {"url": other, "authentication": "header"}, services=services, credentials={"header": "c"}
    )
    assert kept["body"]["headers"]["x-api-key"] == API_KEY
    assert dropped["body"]["headers"]["host"] == f"localhost:{server.server_port}"
    assert "x-api-key" not in dropped["body"]["headers"]


# -- responses -----------------------------------------------------------------------------


async def test_response_formats(server: Server) -> None:
    [obj] = await run_http({"url": f"{server.base}/object"})
    assert obj["body"] == {"id": 1, "name": "Ada"}
    [text] = await run_http({"url": f"{server.base}/text"})
    assert text["body"] == "héllo wörld"
    [latin] = await run_http({"url": f"{server.base}/latin1", "response_format": "text"})
    assert latin["body"] == "héllo"
    [as_text] = await run_http({"url": f"{server.base}/object", "response_format": "text"})
    assert as_text["body"] == '{"id": 1, "name": "Ada"}'
    [binary] = await run_http({"url": f"{server.base}/bytes"})  # auto: image/png is binary
    assert "body" not in binary
    assert binary["binary"]["mime_type"] == "image/png"
    assert binary["binary"]["size"] == len(BINARY)
    assert base64.b64decode(binary["binary"]["data"]) == BINARY
    [forced] = await run_http(
        {"url": f"{server.base}/text", "response_format": "binary", "full_response": False}
    )
    assert base64.b64decode(forced["binary"]["data"]) == "héllo wörld".encode()
    with pytest.raises(HttpRequestFailed, match="the response is not JSON"):
        await run_http({"url": f"{server.base}/text", "response_format": "json"})


async def test_full_response_false_gives_the_body_as_items(server: Server) -> None:
    assert await run_http({"url": f"{server.base}/object", "full_response": False}) == [
        {"id": 1, "name": "Ada"}
    ]
    assert await run_http({"url": f"{server.base}/list", "full_response": False}) == [
        {"id": 1},
        {"id": 2},
        {"value": 3},
    ]
    assert await run_http({"url": f"{server.base}/text", "full_response": False}) == [{"data": "héllo wörld"}]


# -- errors and retries --------------------------------------------------------------------


async def test_404_is_a_clear_error_with_status_and_body(server: Server) -> None:
    with pytest.raises(HttpStatusError) as caught:
        await run_http({"url": f"{server.base}/status/404"})
    error = caught.value
    assert error.status == 404
    assert error.retryable is False
    assert error.message.startswith(f"GET {server.base}/status/404 failed with status 404 Not Found: ")
    assert "nothing here (404)" in error.message
    [out] = await run_http({"url": f"{server.base}/status/404", "fail_on_error_status": False})
    assert out["status"] == 404
    assert out["body"]["error"] == "nothing here (404)"


async def test_error_items_with_on_error_continue(server: Server) -> None:
    spec = NodeSpec(
        id="http",
        name="HTTP",
        type=HttpRequest.type,
        parameters={"url": "{{ json.url }}", "full_response": False, "max_retries": 0},
        on_error="continue",
    )
    items: Items = [{"url": f"{server.base}/status/500"}, {"url": f"{server.base}/object"}]
    ctx = NodeContext(node=spec, inputs={"main": items}, services=Services())
    out = await HttpRequest().run(ctx)
    assert out["main"] == [{"id": 1, "name": "Ada"}]
    [(index, error)] = ctx.item_failures
    assert index == 0
    assert isinstance(error, HttpStatusError)
    assert error.item_index == 0


async def test_retries_on_503_then_success(server: Server) -> None:
    k = key()
    services = Services()
    [out] = await run_http(
        {"url": f"{server.base}/flaky/{k}?fail=2", "retry_backoff_s": 0.5}, services=services
    )
    assert out["body"] == {"ok": True, "hits": 3}
    assert server.hits[f"/flaky/{k}"] == 3
    assert services.sleeps == [0.5, 1.0]  # exponential backoff through the runtime's sleep


async def test_retries_with_the_real_sleep_when_the_runtime_has_none(server: Server) -> None:
    @dataclass
    class PolicyOnly:
        ssrf_policy: SsrfPolicy = LOCAL

    k = key()
    started = time.monotonic()
    [out] = await run_http(
        {"url": f"{server.base}/flaky/{k}?fail=1&status=502", "retry_backoff_s": 0.05}, services=PolicyOnly()
    )
    assert out["status"] == 200
    assert time.monotonic() - started >= 0.05


async def test_retry_after_is_honoured(server: Server) -> None:
    k = key()
    services = Services()
    [out] = await run_http(
        {"url": f"{server.base}/flaky/{k}?fail=1&status=429&retry_after=2", "retry_backoff_s": 0.01},
        services=services,
    )
    assert out["status"] == 200
    assert services.sleeps == [2.0]


async def test_a_retry_after_beyond_the_bound_is_not_waited_for(server: Server) -> None:
    k = key()
    services = Services()
    with pytest.raises(HttpStatusError, match="asked to retry after 3600 s") as caught:
        await run_http(
            {"url": f"{server.base}/flaky/{k}?fail=5&status=429&retry_after=3600"}, services=services
        )
    assert caught.value.status == 429
    assert services.sleeps == []


def test_retry_after_parsing() -> None:
    now = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
    assert _retry_after("3", now) == 3.0
    assert _retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert _retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0
    assert _retry_after("soon", now) is None
    assert _retry_after(None, now) is None


async def test_retries_give_up_with_the_last_status(server: Server) -> None:
    k = key()
    services = Services()
    with pytest.raises(HttpStatusError, match="failed with status 503") as caught:
        await run_http({"url": f"{server.base}/flaky/{k}?fail=99", "max_retries": 3}, services=services)
    assert caught.value.retryable is True
    assert server.hits[f"/flaky/{k}"] == 4
    assert len(services.sleeps) == 3


async def test_connection_errors_are_retried_then_reported(server: Server) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    services = Services()
    with pytest.raises(HttpRequestFailed, match="could not connect") as caught:
        await run_http({"url": f"http://127.0.0.1:{port}/"}, services=services)
    assert caught.value.message.startswith(f"GET http://127.0.0.1:{port}/: could not connect")
    assert len(services.sleeps) == 2


async def test_timeout(server: Server) -> None:
    with pytest.raises(HttpRequestFailed, match=r"timed out after 0\.2 s"):
        await run_http({"url": f"{server.base}/slow?s=1", "timeout_s": 0.2, "max_retries": 0})


async def test_response_size_cap(server: Server) -> None:
    [ok] = await run_http({"url": f"{server.base}/big?size=1000", "max_response_bytes": 1000})
    assert len(ok["body"]) == 1000
    with pytest.raises(HttpRequestFailed, match=r"larger than 1000 bytes \(max_response_bytes\)"):
        await run_http({"url": f"{server.base}/big?size=5000", "max_response_bytes": 1000})


async def test_too_many_redirects(server: Server) -> None:
    loop = f"{server.base}/redirect?to=/redirect%3Fto%3D/echo"
    [out] = await run_http({"url": loop, "full_response": False})
    assert out["path"] == "/echo"
    with pytest.raises(HttpRequestFailed, match="more than 1 redirects"):
        await run_http({"url": loop, "max_redirects": 1})
    [raw] = await run_http({"url": loop, "follow_redirects": False})
    assert raw["status"] == 302
    assert raw["headers"]["location"] == "/redirect?to=/echo"


# -- pagination ----------------------------------------------------------------------------


async def test_pagination_by_page_parameter(server: Server) -> None:
    k = key()
    out = await run_http(
        {
            "url": f"{server.base}/pages/{k}",
            "pagination": "page_param",
            "page_param": "page",
            "items_field": "data",
            "full_response": False,
        }
    )
    assert [(o["page"], o["i"]) for o in out] == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert server.hits[f"/pages/{k}"] == 4  # the empty fourth page stops it


@pytest.mark.parametrize("next_url", ["{{ response.body.next }}", "body.next"])
async def test_pagination_by_next_url(server: Server, next_url: str) -> None:
    k = key()
    out = await run_http(
        {
            "url": f"{server.base}/cursor/{k}",
            "pagination": "next_url",
            "next_url": next_url,
            "items_field": "items",
            "full_response": False,
        }
    )
    assert out == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert server.hits[f"/cursor/{k}"] == 3


async def test_max_pages_caps_pagination(server: Server) -> None:
    k = key()
    out = await run_http(
        {
            "url": f"{server.base}/forever/{k}",
            "pagination": "next_url",
            "next_url": "{{ response.body.next if response.status == 200 else '' }}",
            "max_pages": 4,
        }
    )
    assert [o["body"]["n"] for o in out] == [0, 1, 2, 3]
    assert server.hits[f"/forever/{k}"] == 4
    k = key()
    pages = await run_http(
        {
            "url": f"{server.base}/forever/{k}",
            "pagination": "page_param",
            "max_pages": 2,
            "full_response": False,
        }
    )
    assert len(pages) == 2


# -- the SSRF guard through the node -------------------------------------------------------


async def test_loopback_is_refused_by_default_with_a_clear_message(server: Server) -> None:
    k = key()
    for services in (None, Services(ssrf_policy=SsrfPolicy())):
        spec = NodeSpec(
            id="h", name="HTTP", type=HttpRequest.type, parameters={"url": f"{server.base}/echo/{k}"}
        )
        ctx = NodeContext(node=spec, inputs={"main": [{}]}, services=services)
        with pytest.raises(HttpRequestRefused) as caught:
            await HttpRequest().run(ctx)
        assert caught.value.message == (
            f"Refused to call {server.base}/echo/{k}: 127.0.0.1 is a loopback address. "
            "Allow it with WIREWORK_HTTP_ALLOW_HOSTS if you mean it."
        )
        assert caught.value.retryable is False
    assert server.hits[f"/echo/{k}"] == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local/metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "is a cloud metadata service"),
        ("file:///etc/passwd", "only http and https URLs are allowed, not file"),
        ("ftp://127.0.0.1/", "only http and https URLs are allowed, not ftp"),
        ("gopher://127.0.0.1:{port}/", "only http and https URLs are allowed"),
    ],
)
async def test_refused_urls_even_when_loopback_is_allowed(server: Server, url: str, reason: str) -> None:
    with pytest.raises(HttpRequestRefused, match="Refused to call") as caught:
        await run_http({"url": url.format(port=server.server_port)})
    assert reason in caught.value.message


async def test_ipv4_mapped_loopback_is_refused(server: Server) -> None:
    url = f"http://[::ffff:127.0.0.1]:{server.server_port}/echo"
    with pytest.raises(HttpRequestRefused) as caught:
        await run_http({"url": url}, services=Services(SsrfPolicy()))
    assert caught.value.message.startswith(
        f"Refused to call {url}: ::ffff:127.0.0.1 is an IPv4-mapped address of 127.0.0.1, a loopback address."
    )
    [allowed] = await run_http({"url": url})  # allowing 127.0.0.0/8 allows its mapped form
    assert allowed["status"] == 200


async def test_localhost_resolves_to_loopback_and_is_refused(server: Server) -> None:
    with pytest.raises(HttpRequestRefused, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback"):
        await run_http(
            {"url": f"http://localhost:{server.server_port}/echo"}, services=Services(SsrfPolicy())
        )


async def test_a_redirect_to_a_blocked_address_is_refused(server: Server) -> None:
    k = key()
    target = "http://169.254.169.254/latest/meta-data/iam"
    with pytest.raises(HttpRequestRefused) as caught:
        await run_http({"url": f"{server.base}/redirect?to={target}&k={k}"})
    assert caught.value.message.startswith(f"Refused to call {target}: 169.254.169.254 is a link-local")
    refused_loopback = f"{server.base}/redirect?to=http://localhost:{server.server_port}/echo"
    only_this_port = SsrfPolicy(frozenset({"127.0.0.1"}))
    with pytest.raises(HttpRequestRefused, match="localhost resolves to"):
        await run_http({"url": refused_loopback}, services=Services(only_this_port))


async def test_a_pagination_link_to_a_blocked_address_is_refused(server: Server) -> None:
    with pytest.raises(HttpRequestRefused, match=r"169\.254\.169\.254 is a link-local"):
        await run_http(
            {
                "url": f"{server.base}/object",
                "pagination": "next_url",
                "next_url": "http://169.254.169.254/{{ response.body.id }}",
            }
        )


async def test_the_token_request_passes_the_guard_too(server: Server) -> None:
    services = Services(
        store={"o": {"token_url": "http://10.0.0.7/token", "client_id": "a", "client_secret": "b"}}
    )
    with pytest.raises(
        HttpRequestRefused, match=r"http://10\.0\.0\.7/token: 10\.0\.0\.7 is a private address"
    ):
        await run_http(
            {"url": f"{server.base}/echo", "authentication": "oauth2_client_credentials"},
            services=services,
            credentials={"oauth2": "o"},
        )


# -- parameters and the engine -------------------------------------------------------------


def test_parameters_are_checked_on_save_with_expressions_deferred() -> None:
    assert (
        parameter_errors(HttpRequest, {"url": "{{ json.url }}", "body_type": "form", "body": "{{ json.f }}"})
        == []
    )
    assert (
        parameter_errors(HttpRequest, {"url": "x", "pagination": "next_url", "next_url": "{{ response.x }}"})
        == []
    )
    problems = dict(parameter_errors(HttpRequest, {"url": "x", "method": "FETCH", "max_pages": 5000}))
    assert set(problems) == {"method", "max_pages"}
    assert parameter_errors(HttpRequest, {"url": "x", "body_type": "form", "body": "a=b"})
    assert parameter_errors(HttpRequest, {"url": "x", "pagination": "next_url"})
    assert parameter_errors(HttpRequest, {"url": "x", "headers": {"Bad Name": "v"}})


async def test_bad_rendered_parameters_name_the_item(server: Server) -> None:
    with pytest.raises(ParameterError, match=r"invalid parameters \(item 1\): max_retries"):
        await run_http(
            {"url": f"{server.base}/echo", "max_retries": "{{ json.n }}"}, [{"n": 1}, {"n": "many"}]
        )


async def test_runs_in_a_workflow_with_the_runtime_services(server: Server) -> None:
    registry = load_builtin_nodes(NodeRegistry())
    assert registry.get("core.http_request") is HttpRequest
    assert {s["name"] for s in HttpRequest.describe()["credential_slots"]} == {
        "basic",
        "bearer",
        "header",
        "oauth2",
    }
    services = Services(store={"tok": {"token": TOKEN}})
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node(
                "h",
                "core.http_request",
                parameters={"url": f"{server.base}/echo", "authentication": "bearer", "full_response": False},
                credentials={"bearer": "tok"},
            ),
        ],
        chain("t", "h"),
    )
    result = await run_workflow(wf, [{}], registry=registry, services=services)
    assert result.status == "completed"
    assert result.output("h")[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
