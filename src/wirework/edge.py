"""The HTTP edge of the API and the UI: what every request passes before a route sees it, and
what every answer carries. (Webhook calls have their own door, `triggers.api.WebhookGateway`.)

- **Bodies** are read here, at most `WIREWORK_API_MAX_BODY_BYTES` (413 as soon as the
  Content-Length or the bytes streamed so far say more), and a JSON body is parsed by the one
  strict parser (`security.bodies`): malformed, too deep, NaN, lone surrogates are a 400
  problem+json here, before any route, with no traceback.
- **Headers**: the security headers of `security.headers` on every answer.
- **Client address** (`trusted_proxies`): `X-Forwarded-For`/`-Proto` are believed only from the
  proxies listed in `WIREWORK_TRUSTED_PROXIES`, by uvicorn's proxy middleware that `app.py` puts
  in front of everything (`wirework serve` turns off uvicorn's own default, which trusts
  127.0.0.1), so `request.client` is the resolved caller for every route, the webhook gateway
  and the rate limits.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wirework.errors import BadRequest, PayloadTooLarge, WireworkError
from wirework.problems import error_response
from wirework.security.bodies import parse_json
from wirework.security.headers import APP_HEADERS, DOCS_HEADERS

_DOCS = ("/docs", "/redoc")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and url_problem(scope) is not None:
            await send({"type": "websocket.close", "code": 1008})  # before accepting: a 403
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = DOCS_HEADERS if scope["path"].startswith(_DOCS) else APP_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in extra if h[0] not in present]
            await send(message)

        problem = url_problem(scope)
        if problem is not None:
            await error_response(Request(scope), problem)(scope, receive, send_with_headers)
            return
        if _has_body(scope):
            try:
                body = await self._read(scope, receive)
                if body is None:  # the client went away
                    return
                if body and _is_json(scope):
                    parse_json(body)
            except WireworkError as exc:  # the request log's line is the one line it gets
                response = error_response(Request(scope), exc)
                await response(scope, receive, send_with_headers)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_headers)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"The body is {declared} bytes; the API accepts at most {self.max_body}.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(
                    f"The body is larger than {self.max_body} bytes, the most the API accepts."
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def url_problem(scope: Scope) -> BadRequest | None:
    """A 400 for a path or query holding NUL (`%00`), else None. No database stores it as text
    (PostgreSQL refuses it in text and JSON alike), so a lookup or an item with one was a 500."""
    query = scope.get("query_string", b"")
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        return BadRequest("The URL holds a NUL character (%00), which is not text.")
    return None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1")).strip()
    return ""


def _has_body(scope: Scope) -> bool:
    return _header(scope, b"content-length") not in ("", "0") or bool(_header(scope, b"transfer-encoding"))


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON (`application/json` or `…+json`)."""
    kind = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then waits on the real one (disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def trusted_proxies(setting: str) -> list[str]:
    """The entries of WIREWORK_TRUSTED_PROXIES: IP addresses and networks (ValueError otherwise)."""
    entries = [entry.strip() for entry in setting.split(",") if entry.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"WIREWORK_TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return entries
