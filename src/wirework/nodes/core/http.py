"""The HTTP request node (`core.http_request`): calls a URL for each item, with auth, retries and pages.

Every request the node makes — each redirect hop, each page, each OAuth2 token
request — goes through the SSRF guard (`wirework.security.ssrf`) with the policy the
runtime puts in `ctx.services.ssrf_policy`; without one, every non-public address is
refused. One guarded `httpx.AsyncClient` serves the whole node run.

Secrets come from credentials (see `HttpServices.credential`). They are masked in
every error message and log line the node writes, and they do not follow a redirect
or a `next_url` page to another origin. Response bodies are the user's data and are
output as received.

A request that changes something (POST, PUT, PATCH, DELETE) carries an `Idempotency-Key`
header by default: the node may be sent again after a crash (executions are at-least-once
per node), and a server that honours the header then does the work once. The key is derived
from the execution id, the node id, the item's index and the item itself, so it is the same
when a resumed execution sends the request again, and differs per item, per loop batch and
per page. Retries inside one run (429, 5xx) send the same key too.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote, quote_plus

import httpx
from pydantic import Field, ValidationError, ValidationInfo, model_validator

from wirework.engine.definition import NodeSpec
from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.expressions import is_expression, render_value
from wirework.engine.items import MISSING, Item, Items, NodeOutputs, get_path, to_items
from wirework.engine.nodes import CredentialSlot, Node, NodeContext, NodeParameters
from wirework.security.ssrf import SsrfBlocked, SsrfPolicy, check_url, guarded_client

MAX_RESPONSE_BYTES: Final = 50 * 1024 * 1024
MAX_PAGES: Final = 1000
MAX_BACKOFF_S: Final = 30.0
MAX_RETRY_AFTER_S: Final = 120.0
"""A longer Retry-After is not waited for: the node gives up with that response."""
ERROR_BODY_CHARS: Final = 300
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: they get no idempotency key."""
_IDEMPOTENCY_NAMESPACE: Final = uuid.UUID("6f0f2a4e-3c1b-5d7a-9a51-0c2a7e1f4b3d")
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PUBLIC_CREDENTIAL_FIELDS: Final = frozenset(
    {"username", "name", "token_url", "client_id", "scope", "audience", "client_auth"}
)
"""Credential fields that are not masked; every other string value of a credential is."""

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
Authentication = Literal["none", "basic", "bearer", "header", "oauth2_client_credentials"]
Scalar = str | int | float | bool | None
QueryValue = Scalar | list[str | int | float | bool]

CREDENTIAL_SLOTS: Final = (
    CredentialSlot("basic", "http_basic_auth", False, "authentication basic: username, password"),
    CredentialSlot("bearer", "http_bearer_token", False, "authentication bearer: token"),
    CredentialSlot("header", "http_header_auth", False, "authentication header: name, value"),
    CredentialSlot(
        "oauth2",
        "oauth2_client_credentials",
        False,
        "authentication oauth2_client_credentials: token_url, client_id, client_secret; "
        "optional scope, audience, client_auth (basic | body)",
    ),
)
_SLOT_FOR: Final[dict[str, str]] = {
    "basic": "basic",
    "bearer": "bearer",
    "header": "header",
    "oauth2_client_credentials": "oauth2",
}


class HttpServices(Protocol):
    """What `core.http_request` uses from `ctx.services`. A runtime may leave any member
    out: without `ssrf_policy` every non-public address is refused, without `sleep`
    retries wait with asyncio.sleep, without `credential` only `authentication: none` works.
    """

    ssrf_policy: SsrfPolicy

    async def credential(self, node: NodeSpec, slot: str) -> Mapping[str, Any]:
        """The decrypted values of the credential chosen for `node` in `slot`
        (`node.credentials[slot]` is its id), scoped to the execution's organization."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait between retries (the runner's injectable sleep)."""
        ...


class HttpRequestParameters(NodeParameters):
    method: Method = "GET"
    url: str = Field(min_length=1, description="http or https URL; may use expressions per item.")
    headers: dict[str, str | int | float | bool] = Field(default_factory=dict)
    query: dict[str, QueryValue] = Field(
        default_factory=dict, description="Query parameters, added to those in the URL; lists repeat the key."
    )
    body_type: Literal["none", "json", "form", "raw"] = "none"
    body: Any = Field(None, description="json: any JSON value; form: an object of fields; raw: a string.")
    content_type: str | None = Field(
        None, description="body_type raw: the Content-Type (default text/plain)."
    )
    authentication: Authentication = Field(
        "none", description="The secret comes from the credential in the slot of the same name."
    )
    response_format: Literal["auto", "json", "text", "binary"] = Field(
        "auto", description="binary gives {data: base64, mime_type, size}."
    )
    full_response: bool = Field(
        True,
        description=(
            "Output {status, headers, body}; false outputs the body: an object is the item, a list "
            "gives one item per element ({value: element} for non-objects), other bodies {data: body}."
        ),
    )
    items_field: str | None = Field(
        None, description="Dotted path of the list in the response body that holds the items (pages)."
    )
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Per request (each hop and page).")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on 429, 5xx and connection errors.")
    retry_backoff_s: float = Field(
        1.0, ge=0, le=60, description="First wait between retries, doubled each time (Retry-After wins)."
    )
    fail_on_error_status: bool = Field(True, description="4xx/5xx (after retries) fail the item.")
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=20)
    pagination: Literal["none", "next_url", "page_param"] = "none"
    next_url: str | None = Field(
        None,
        description=(
            "pagination next_url: the next page's URL, as an expression over `response` "
            "({{ response.body.next }}) or a dotted path in it (body.links.next); empty stops."
        ),
    )
    page_param: str = Field("page", min_length=1, description="pagination page_param: the query parameter.")
    page_start: int = Field(1, description="pagination page_param: the first page number.")
    max_pages: int = Field(10, ge=1, le=MAX_PAGES)
    max_response_bytes: int = Field(MAX_RESPONSE_BYTES, ge=1, le=MAX_RESPONSE_BYTES)
    idempotency_header: str = Field(
        "Idempotency-Key",
        max_length=100,
        description=(
            "POST, PUT, PATCH and DELETE send this header with a key that stays the same when the "
            "execution is resumed after a crash and sends the request again; empty sends none."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HttpRequestParameters:
        static = bool(info.context and info.context.get("static"))
        if self.pagination == "next_url" and not self.next_url:
            raise ValueError("pagination next_url needs next_url (e.g. {{ response.body.next }})")
        if not (static and is_expression(self.body)):
            if self.body_type == "form":
                _check_form(self.body)
            elif self.body_type == "raw" and not isinstance(self.body, str | None):
                raise ValueError("body_type raw needs a string body")
        for name, value in self.headers.items():
            if static and (is_expression(name) or is_expression(value)):
                continue
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if isinstance(value, str) and ("\r" in value or "\n" in value):
                raise ValueError(f"header {name!r} cannot contain line breaks")
        name = self.idempotency_header
        if name and not (static and is_expression(name)) and not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"idempotency_header {name!r} is not a valid header name")
        return self


def _check_form(body: Any) -> None:
    if body is None:
        return
    if not isinstance(body, dict):
        raise ValueError("body_type form needs an object of fields")
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, dict | list) for v in values):
            raise ValueError(f"form field {key!r} must be text, a number, a boolean or a list of those")


class HttpRequestFailed(NodeError):
    """The request could not be made or its response could not be used."""


class HttpRequestRefused(HttpRequestFailed):
    """The SSRF guard refused the URL (or a redirect, page or token URL)."""

    retryable = False


class HttpStatusError(HttpRequestFailed):
    """The server answered 4xx or 5xx (after retries) and fail_on_error_status is on."""

    def __init__(self, message: str, *, status: int, item_index: int | None = None) -> None:
        super().__init__(message, item_index=item_index)
        self.status = status
        self.retryable = status in RETRY_STATUSES


class HttpRequest(Node):
    type = "core.http_request"
    display_name = "HTTP request"
    description = "Calls a URL for each item: any method, body and authentication, with retries and pages."
    category = "Core"
    icon = "globe"
    Parameters = HttpRequestParameters
    credential_slots = CREDENTIAL_SLOTS

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        policy = getattr(ctx.services, "ssrf_policy", None)
        if not isinstance(policy, SsrfPolicy):
            policy = SsrfPolicy()
        out: Items = []
        async with guarded_client(policy) as client:
            session = _Session(ctx, client, policy)
            for index in range(len(ctx.items)):
                with ctx.item_guard(index):
                    try:
                        out.extend(await session.run_item(index))
                    except NodeError as exc:
                        if exc.item_index is None:
                            exc.item_index = index
                        raise
        return {"main": out}


def item_parameters(ctx: NodeContext, index: int) -> HttpRequestParameters:
    """The parameters rendered for item `index`; `next_url` stays unrendered (it is
    rendered per page, with `response` in scope)."""
    raw = ctx.parameters
    rest = {k: v for k, v in raw.items() if k != "next_url"}
    values = ctx.evaluate(rest, index)
    if "next_url" in raw:
        values = {**values, "next_url": raw["next_url"]}
    try:
        return HttpRequestParameters.model_validate(values, context={"static": False})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ParameterError(f"invalid parameters (item {index}): {problems}", item_index=index) from None


class _Secrets:
    """Credential values (and their encodings) to mask in messages."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if value:
            self._values.update({value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]})

    def mask(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


@dataclass(slots=True)
class _Fetched:
    """A response read in full (up to the size cap)."""

    method: str
    url: httpx.URL
    status: int
    reason: str
    headers: httpx.Headers
    content: bytes
    retry_after: float | None = None


@dataclass(slots=True)
class _Decoded:
    status: int
    headers: dict[str, str]
    body: Any = None
    binary: dict[str, Any] | None = None

    def as_response(self) -> dict[str, Any]:
        """`response` in a next_url expression, and the full-response item."""
        out: dict[str, Any] = {"status": self.status, "headers": self.headers}
        if self.binary is not None:
            out["binary"] = self.binary
        else:
            out["body"] = self.body
        return out


@dataclass(slots=True)
class _Session:
    """One node run: the shared client, credentials, cached OAuth2 tokens, secrets to mask."""

    ctx: NodeContext
    client: httpx.AsyncClient
    policy: SsrfPolicy
    secrets: _Secrets = field(default_factory=_Secrets)
    credentials: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    tokens: dict[tuple[str, ...], tuple[str, float]] = field(default_factory=dict)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        custom = getattr(self.ctx.services, "sleep", None)
        if callable(custom):
            self.sleep = custom

    async def run_item(self, index: int) -> Items:
        params = item_parameters(self.ctx, index)
        key = idempotency_key(self.ctx, index) if _wants_key(params) else None
        if params.pagination == "none":
            fetched = await self._request(params, params.url, query=params.query, key=key)
            return _output_items(params, self._decoded(params, fetched))
        if params.pagination == "page_param":
            return await self._pages_by_param(params, key)
        return await self._pages_by_next_url(params, index, key)

    async def _pages_by_param(self, params: HttpRequestParameters, key: str | None) -> Items:
        out: Items = []
        for page, number in enumerate(range(params.page_start, params.page_start + params.max_pages)):
            query = {**params.query, params.page_param: number}
            fetched = await self._request(params, params.url, query=query, key=_page_key(key, page))
            decoded = self._decoded(params, fetched)
            if not _page_items(params, decoded):
                break
            out.extend(_output_items(params, decoded))
            if decoded.status >= 400:
                break
        return out

    async def _pages_by_next_url(self, params: HttpRequestParameters, index: int, key: str | None) -> Items:
        out: Items = []
        first = _parse_url(params.url)
        url: str = params.url
        query: Mapping[str, QueryValue] | None = params.query
        seen: set[str] = set()
        for page in range(params.max_pages):
            fetched = await self._request(
                params,
                url,
                query=query,
                with_credentials=_same_origin(_parse_url(url), first),
                key=_page_key(key, page),
            )
            decoded = self._decoded(params, fetched)
            out.extend(_output_items(params, decoded))
            seen.add(str(fetched.url))
            following = self._next_url(params, index, decoded, fetched.url)
            if following is None or following in seen or decoded.status >= 400:
                break
            url, query = following, None
        return out

    def _next_url(
        self, params: HttpRequestParameters, index: int, decoded: _Decoded, current: httpx.URL
    ) -> str | None:
        source = params.next_url or ""
        response = decoded.as_response()
        if is_expression(source):
            context = {**self.ctx.expression_context(index), "response": response}
            value = render_value(source, context, "next_url")
        else:
            value = get_path(response, source)
        if value is MISSING or value is None or value == "":
            return None
        if not isinstance(value, str):
            raise HttpRequestFailed(f"next_url gave a {type(value).__name__}, not a URL")
        return str(current.join(value.strip()))

    async def _request(
        self,
        params: HttpRequestParameters,
        url: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        with_credentials: bool = True,
        key: str | None = None,
    ) -> _Fetched:
        """The node's request to `url` (with retries), checked against fail_on_error_status."""
        headers = {name: _header_text(value) for name, value in params.headers.items()}
        if key is not None and not any(k.lower() == params.idempotency_header.lower() for k in headers):
            headers[params.idempotency_header] = key  # a header the user set wins
        body: dict[str, Any] = {}
        if params.body_type == "json":
            body["json"] = params.body
        elif params.body_type == "form":
            body["data"] = params.body or {}
        elif params.body_type == "raw":
            body["content"] = (params.body or "").encode()
            if params.content_type or not any(k.lower() == "content-type" for k in headers):
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                headers["Content-Type"] = params.content_type or "text/plain; charset=utf-8"
        fetched = await self._fetch(
            params,
            params.method,
            url,
            query=query,
            headers=headers,
            body=body,
            credentials=with_credentials and params.authentication != "none",
            follow=params.follow_redirects,
        )
        if fetched.status >= 400 and params.fail_on_error_status:
            raise self._status_error(fetched)
        return fetched

    async def _fetch(
        self,
        params: HttpRequestParameters,
        method: str,
        url: str,
        *,
        query: Mapping[str, QueryValue] | None,
        headers: dict[str, str],
        body: dict[str, Any],
        credentials: bool,
        follow: bool,
    ) -> _Fetched:
        """Send with retries on 429/5xx and connection errors; renew an OAuth2 token once on 401."""
        retries = 0
        renewed = renew = False
        while True:
            auth = await self._credential_headers(params, renew=renew) if credentials else {}
            renew = False
            try:
                fetched = await self._send(
                    params,
                    method,
                    url,
                    query=query,
                    headers={**headers, **auth},
                    secret_headers={name.lower() for name in auth},
                    body=body,
                    follow=follow,
                )
            except httpx.TransportError as exc:
                if retries >= params.max_retries:
                    raise HttpRequestFailed(
                        self.secrets.mask(f"{method} {_shown(url)}: {_describe(exc, params.timeout_s)}")
                    ) from None
                delay = _backoff(params, retries)
                why = _describe(exc, params.timeout_s)
            except httpx.HTTPError as exc:  # e.g. a body that does not decompress
                raise _not_retryable(
                    self.secrets.mask(f"{method} {_shown(url)}: {type(exc).__name__}: {exc}")
                ) from None
            else:
                if (
                    fetched.status == 401
                    and credentials
                    and params.authentication == "oauth2_client_credentials"
                    and not renewed
                ):
                    renewed = renew = True  # the cached token may have been revoked: get a new one
                    continue
                if fetched.status not in RETRY_STATUSES or retries >= params.max_retries:
                    return fetched
                wait = _retry_after(fetched.headers.get("retry-after"), datetime.now(UTC))
                if wait is not None and wait > MAX_RETRY_AFTER_S:
                    fetched.retry_after = wait
                    return fetched
                delay = wait if wait is not None else _backoff(params, retries)
                why = f"status {fetched.status}"
            retries += 1
            self.ctx.logger.info(
                "%s", self.secrets.mask(f"HTTP {method} {_shown(url)}: {why}; retry {retries} in {delay:g} s")
            )
            await self.sleep(delay)

    async def _send(
        self,
        params: HttpRequestParameters,
        method: str,
        url: str,
        *,
        query: Mapping[str, QueryValue] | None,
        headers: dict[str, str],
        secret_headers: set[str],
        body: dict[str, Any],
        follow: bool,
    ) -> _Fetched:
        """One attempt: the request and its redirects, each hop through the guard."""
        target = _parse_url(url)
        if query:
            target = target.copy_merge_params(dict(query))
        try:
            check_url(target, self.policy)  # the transport checks again; this gives the clearest message
            request = self.client.build_request(
                method, target, headers=headers, timeout=httpx.Timeout(params.timeout_s), **body
            )
        except SsrfBlocked as exc:
            raise HttpRequestRefused(self.secrets.mask(str(exc))) from None
        origin = request.url
        hops = 0
        while True:
            try:
                response = await self.client.send(request, stream=True)
            except SsrfBlocked as exc:
                raise HttpRequestRefused(self.secrets.mask(str(exc))) from None
            try:
                following = response.next_request if follow and response.has_redirect_location else None
                if following is not None:
                    if hops >= params.max_redirects:
                        raise HttpRequestFailed(
                            f"{method} {_shown(origin)}: more than {params.max_redirects} redirects"
                        )
                    if not _same_origin(following.url, origin):
                        for name in secret_headers:  # credentials stay with their origin
                            following.headers.pop(name, None)
                    hops += 1
                    request = following
                    continue
                content = await self._read(response, params.max_response_bytes)
            finally:
                await response.aclose()
            self.ctx.logger.debug(
                "%s",
                self.secrets.mask(f"HTTP {request.method} {_shown(request.url)} -> {response.status_code}"),
            )
            return _Fetched(
                request.method,
                request.url,
                response.status_code,
                response.reason_phrase,
                response.headers,
                content,
            )

    async def _read(self, response: httpx.Response, limit: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(response, limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise self._too_large(response, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, response: httpx.Response, limit: int) -> HttpRequestFailed:
        error = HttpRequestFailed(
            self.secrets.mask(
                f"the response from {_shown(response.request.url)} is larger than {_size(limit)} "
                "(max_response_bytes); ask for less, e.g. with pagination"
            )
        )
        error.retryable = False
        return error

    def _status_error(self, fetched: _Fetched) -> HttpStatusError:
        text = " ".join(fetched.content[: ERROR_BODY_CHARS * 4].decode("utf-8", "replace").split())
        if len(text) > ERROR_BODY_CHARS:
            text = text[:ERROR_BODY_CHARS] + "…"
        message = f"{fetched.method} {_shown(fetched.url)} failed with status {fetched.status}"
        if fetched.reason:
            message += f" {fetched.reason}"
        if text:
            message += f": {text}"
        if fetched.retry_after is not None:
            message += (
                f" (the server asked to retry after {fetched.retry_after:g} s, "
                f"longer than the node waits: {MAX_RETRY_AFTER_S:g} s)"
            )
        return HttpStatusError(self.secrets.mask(message), status=fetched.status)

    def _decoded(self, params: HttpRequestParameters, fetched: _Fetched) -> _Decoded:
        try:
            return decode_response(fetched, params.response_format)
        except ValueError as exc:
            raise HttpRequestFailed(
                self.secrets.mask(f"{fetched.method} {_shown(fetched.url)}: {exc}")
            ) from None

    # -- credentials

    async def _credential(self, slot: str) -> Mapping[str, Any]:
        cached = self.credentials.get(slot)
        if cached is not None:
            return cached
        lookup = getattr(self.ctx.services, "credential", None)
        if lookup is None:
            raise _not_retryable(
                f"authentication needs the credential in slot {slot!r}, and none is available"
            )
        value = await lookup(self.ctx.node, slot)
        if not isinstance(value, Mapping):
            raise _not_retryable(f"the credential in slot {slot!r} is not a set of values")
        for key, item in value.items():
            if isinstance(item, str) and key not in _PUBLIC_CREDENTIAL_FIELDS:
                self.secrets.add(item)
        self.credentials[slot] = value
        return value

    async def _credential_headers(self, params: HttpRequestParameters, *, renew: bool) -> dict[str, str]:
        mode = params.authentication
        if mode == "none":
            return {}
        slot = _SLOT_FOR[mode]
        credential = await self._credential(slot)
        if mode == "basic":
            username = _field(credential, slot, "username")
            password = _field(credential, slot, "password", allow_empty=True)
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self.secrets.add(token)
            return {"Authorization": f"Basic {token}"}
        if mode == "bearer":
            return {"Authorization": f"Bearer {_field(credential, slot, 'token')}"}
        if mode == "header":
            name = _field(credential, slot, "name")
            if not _HEADER_NAME.fullmatch(name):
                raise _not_retryable(f"the header credential's name {name!r} is not a valid header name")
            return {name: _field(credential, slot, "value")}
        return {"Authorization": f"Bearer {await self._oauth2_token(params, credential, renew=renew)}"}

    async def _oauth2_token(
        self, params: HttpRequestParameters, credential: Mapping[str, Any], *, renew: bool
    ) -> str:
        """A client-credentials access token, cached for this node run until it expires."""
        token_url = _field(credential, "oauth2", "token_url")
        client_id = _field(credential, "oauth2", "client_id")
        client_secret = _field(credential, "oauth2", "client_secret")
        scope = str(credential.get("scope") or "")
        audience = str(credential.get("audience") or "")
        key = (token_url, client_id, scope, audience)
        now = asyncio.get_running_loop().time()
        cached = self.tokens.get(key)
        if cached is not None and not renew and cached[1] > now:
            return cached[0]
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        if audience:
            form["audience"] = audience
        headers = {"Accept": "application/json"}
        if credential.get("client_auth", "basic") == "body":
            form.update(client_id=client_id, client_secret=client_secret)
        else:
            basic = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()).decode()
            self.secrets.add(basic)
            headers["Authorization"] = f"Basic {basic}"
        fetched = await self._fetch(
            params,
            "POST",
            token_url,
            query=None,
            headers=headers,
            body={"data": form},
            credentials=False,
            follow=False,
        )
        where = f"could not get an OAuth2 access token from {_shown(token_url)}"
        if fetched.status >= 400:
            raise HttpStatusError(
                self.secrets.mask(f"{where}: {self._status_error(fetched).message}"), status=fetched.status
            )
        try:
            answer = json.loads(fetched.content)
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise _not_retryable(f"{where}: the answer has no access_token")
        self.secrets.add(token)
        for other in ("refresh_token", "id_token"):
            if isinstance(answer.get(other), str):
                self.secrets.add(answer[other])
        lifetime = answer.get("expires_in")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else math.inf
        self.tokens[key] = (token, now + seconds - min(30.0, seconds / 2))
        return token


def idempotency_key(ctx: NodeContext, index: int) -> str | None:
    """The key for item `index` of this node run: the same for the same execution, node and
    item (a resumed execution sends it again), another for another item or loop batch. None
    outside a recorded execution (no id to make it from)."""
    execution_id = ctx.execution.get("id")
    if not execution_id:
        return None
    items = ctx.items
    item = items[index] if 0 <= index < len(items) else {}
    identity = [str(execution_id), ctx.node.id, index]
    try:
        text = json.dumps([*identity, _canonical(item)], sort_keys=True, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):  # nested too deep to hash: the same each time
        text = json.dumps(identity)
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, text))


def _canonical(value: Any) -> Any:
    """`value` as every database gives it back: whole floats as ints (PostgreSQL reads 1e16
    back as an integer); key order is left to json.dumps(sort_keys)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _wants_key(params: HttpRequestParameters) -> bool:
    return bool(params.idempotency_header) and params.method not in IDEMPOTENT_METHODS


def _page_key(key: str | None, page: int) -> str | None:
    """The first page's request keeps the item's key; each later page gets its own."""
    if key is None or page == 0:
        return key
    return str(uuid.uuid5(uuid.UUID(key), f"page {page}"))


def decode_response(fetched: _Fetched, response_format: str) -> _Decoded:
    """The body as JSON, text or base64 per `response_format` (auto: by Content-Type)."""
    content_type = fetched.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    headers = dict(fetched.headers.items())
    decoded = _Decoded(fetched.status, headers)
    content = fetched.content
    fmt = response_format if response_format != "auto" else _auto_format(mime, content)
    if fmt == "binary":
        decoded.binary = {
            "data": base64.b64encode(content).decode("ascii"),
            "mime_type": mime or "application/octet-stream",
            "size": len(content),
        }
        return decoded
    text = _text(content, content_type)
    if fmt == "json" or (response_format == "auto" and fmt == "maybe_json"):
        if not text.strip():
            decoded.body = None
            return decoded
        try:
            decoded.body = json.loads(text, parse_constant=_no_constant)
            return decoded
        except ValueError as exc:
            if response_format == "json":
                raise ValueError(f"the response is not JSON ({mime or 'no content type'}): {exc}") from None
    decoded.body = text
    return decoded


def _auto_format(mime: str, content: bytes) -> str:
    if mime == "application/json" or mime.endswith("+json") or mime.endswith("/json"):
        return "maybe_json"
    if mime.startswith("text/") or mime.endswith(("+xml", "/xml", "/javascript", "/x-www-form-urlencoded")):
        return "text"
    if not mime:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
        return "maybe_json"
    return "binary"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _text(content: bytes, content_type: str) -> str:
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        return content.decode(charset, "replace")
    except LookupError:
        return content.decode("utf-8", "replace")


def _page_items(params: HttpRequestParameters, decoded: _Decoded) -> list[Any]:
    """What a page holds, to stop page_param pagination at the first empty page."""
    if decoded.binary is not None:
        return [decoded.binary] if decoded.binary["size"] else []
    body = decoded.body
    if params.items_field:
        found = get_path(body, params.items_field)
        if found is MISSING or found is None:
            return []
        if not isinstance(found, list):
            raise HttpRequestFailed(f"items_field {params.items_field!r} is not a list in the response")
        return found
    if isinstance(body, list):
        return body
    return [body] if body not in (None, "", {}) else []


def _output_items(params: HttpRequestParameters, decoded: _Decoded) -> Items:
    if params.full_response:
        return [decoded.as_response()]
    if decoded.binary is not None:
        return [{"binary": decoded.binary}]
    if params.items_field:
        return to_items(_page_items(params, decoded), where="response")
    body = decoded.body
    if isinstance(body, dict | list):
        return to_items(body, where="response")
    if body is None:
        empty: Item = {}
        return [empty]
    return [{"data": body}]


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - now).total_seconds(), 0.0)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _backoff(params: HttpRequestParameters, retries: int) -> float:
    return float(min(params.retry_backoff_s * 2**retries, MAX_BACKOFF_S))


def _describe(exc: httpx.TransportError, timeout_s: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout_s:g} s"
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    return f"the connection failed: {detail}"


def _field(credential: Mapping[str, Any], slot: str, name: str, *, allow_empty: bool = False) -> str:
    value = credential.get(name)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _not_retryable(f"the {slot} credential has no {name!r}")
    return value


def _not_retryable(message: str) -> HttpRequestFailed:
    error = HttpRequestFailed(message)
    error.retryable = False
    return error


def _header_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ParameterError(f"invalid URL {url!r}: {exc}") from None


def _shown(url: httpx.URL | str) -> str:
    """A URL for messages, without user:password."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except httpx.InvalidURL:
        return str(url)
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


def _size(count: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"
