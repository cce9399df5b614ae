"""Webhook calls: find the webhook, check the caller, turn the request into an item, and
read the answer from the finished execution.

Test calls run the editor's draft: `listen` stores it in `webhook_test_listeners` under an
unguessable token, and `/webhook-test/{token}` runs it once within `TEST_LISTEN_S` seconds,
whichever server the call reaches.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from fastapi import Request
from sqlalchemy import Connection, CursorResult, Table, Uuid, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from wirework.db.engine import Database
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.engine import executions
from wirework.engine.items import canonical
from wirework.engine.models import Execution, ExecutionLog, NodeRunStatus, TriggerType
from wirework.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from wirework.nodes.core.triggers import RESPONSE_OUTPUT, WebhookParameters
from wirework.security import tokens
from wirework.security.bodies import check_text, parse_json
from wirework.security.vault import Vault
from wirework.triggers.models import ResponseMode, Webhook, WebhookAuth, WebhookMethod, WebhookTestListener
from wirework.triggers.service import DEFAULT_AUTH_HEADER
from wirework.workflows import service
from wirework.workflows.models import Credential, Workflow, WorkflowVersion

TEST_LISTEN_S = 120
# Never copied into the execution's items: they carry the caller's secrets.
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}


@dataclass
class Target:
    """What a call runs: a registered webhook, or a test listener's draft."""

    org_id: uuid.UUID
    workflow_id: uuid.UUID
    node_id: str
    auth_mode: WebhookAuth
    credential_id: uuid.UUID | None
    auth_header: str | None
    response_mode: ResponseMode
    timeout_s: int
    version_id: uuid.UUID | None = None
    draft: dict[str, Any] | None = None
    listener_id: uuid.UUID | None = None  # a test call: the listener it takes


def _draft_target(
    org_id: uuid.UUID, workflow_id: uuid.UUID, definition: dict[str, Any], node_id: str | None = None
) -> tuple[Target, str]:
    """What a test call of `definition` runs (its first enabled Webhook node, or `node_id`), and
    the method that node accepts."""
    node = next(
        (
            n
            for n in definition.get("nodes") or []
            if n.get("type") == "core.webhook" and not n.get("disabled") and node_id in (None, n.get("id"))
        ),
        None,
    )
    if node is None:
        raise BadRequest("The workflow has no enabled Webhook node to listen with.")
    params = WebhookParameters.model_validate(node.get("parameters") or {}, context={"static": False})
    auth = WebhookAuth(params.auth)
    credential = (node.get("credentials") or {}).get("auth")
    target = Target(
        org_id=org_id,
        workflow_id=workflow_id,
        node_id=node["id"],
        auth_mode=auth,
        credential_id=uuid.UUID(str(credential)) if credential else None,
        auth_header=params.auth_header or DEFAULT_AUTH_HEADER.get(auth),
        response_mode=ResponseMode(params.response_mode),
        timeout_s=params.timeout_s,
        draft=definition,
    )
    return target, params.method


async def listen(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID, definition: dict[str, Any]
) -> WebhookTestListener:
    """Await one test call of this draft at a new unguessable URL for `TEST_LISTEN_S` seconds;
    it replaces the workflow's earlier listener. Listeners expired for a while are deleted here."""
    target, method = _draft_target(org_id, workflow_id, definition)
    now = utcnow()
    await session.execute(
        delete(WebhookTestListener).where(
            (WebhookTestListener.expires_at < now - timedelta(seconds=TEST_LISTEN_S))
            | ((WebhookTestListener.org_id == org_id) & (WebhookTestListener.workflow_id == workflow_id))
        )
    )
    listener = WebhookTestListener(
        org_id=org_id,
        workflow_id=workflow_id,
        token=secrets.token_urlsafe(32),
        method=WebhookMethod(method),
        node_id=target.node_id,
        definition=definition,
        expires_at=now + timedelta(seconds=TEST_LISTEN_S),
    )
    session.add(listener)
    return listener


async def listener_of(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID
) -> WebhookTestListener | None:
    """The workflow's current test listener, if any (any server's)."""
    rows = await session.execute(
        scoped(WebhookTestListener, org_id).where(WebhookTestListener.workflow_id == workflow_id)
    )
    return rows.scalars().first()


_AWAITING = select(WebhookTestListener).where(
    WebhookTestListener.token == bindparam("token"), WebhookTestListener.received_at.is_(None)
)


async def find_test(db: Database, method: str, token: str) -> Target:
    """The draft awaiting a test call at /webhook-test/{token}: 404 unless it still awaits one."""
    async with db.session() as session:
        listener = (await session.execute(_AWAITING, {"token": token})).scalars().first()
    if listener is None or listener.expires_at <= utcnow():
        raise NotFound(
            "No test call is awaited at this URL: press 'Listen for test call' in the editor for a new "
            "one (a test URL takes one call, within two minutes)."
        )
    if listener.method.value != method:
        raise MethodNotAllowed(
            f"This test webhook accepts {listener.method.value}, not {method}.",
            headers={"Allow": listener.method.value},
        )
    target, _ = _draft_target(listener.org_id, listener.workflow_id, listener.definition, listener.node_id)
    target.listener_id = listener.id
    return target


async def take_test(session: AsyncSession, listener_id: uuid.UUID) -> None:
    """Take the listener's one call (a conditional update, so two servers cannot both take it)."""
    now = utcnow()
    taken = await session.execute(
        update(WebhookTestListener)
        .where(
            WebhookTestListener.id == listener_id,
            WebhookTestListener.received_at.is_(None),
            WebhookTestListener.expires_at > now,
        )
        .values(received_at=now)
    )
    if not cast(CursorResult[Any], taken).rowcount:
        raise NotFound("This test URL has already taken its one call, or it expired.")


async def test_started(session: AsyncSession, listener_id: uuid.UUID, execution_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookTestListener)
        .where(WebhookTestListener.id == listener_id)
        .values(execution_id=execution_id)
    )


class TargetCache:
    """Recently found webhooks of this process, for `CACHE_S` seconds: a hot webhook then costs
    no lookup. Activation changes in this process clear it; those made through another process
    are seen within `CACHE_S`. When an entry runs out under load, one lookup refills it and
    the calls that came meanwhile wait for that one instead of each making their own."""

    CACHE_S = 1.0

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Target]] = {}
        self._lookups: dict[tuple[str, str], asyncio.Future[Target]] = {}

    def get(self, method: str, path: str) -> Target | None:
        entry = self._entries.get((method, path))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    async def fill(self, method: str, path: str, lookup: Callable[[], Awaitable[Target]]) -> Target:
        key = (method, path)
        pending = self._lookups.get(key)
        if pending is None:
            pending = self._lookups[key] = asyncio.ensure_future(lookup())
            pending.add_done_callback(lambda done: self._filled(key, done))
        return await asyncio.shield(pending)  # a caller that goes away does not cancel the others'

    def _filled(self, key: tuple[str, str], done: asyncio.Future[Target]) -> None:
        del self._lookups[key]
        if not done.cancelled() and done.exception() is None:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.CACHE_S, done.result())

    def clear(self) -> None:
        self._entries.clear()


_TARGETS = (
    select(
        Webhook.method,
        Webhook.org_id,
        Webhook.workflow_id,
        Webhook.node_id,
        Webhook.auth_mode,
        Webhook.credential_id,
        Webhook.auth_header,
        Webhook.response_mode,
        Webhook.timeout_s,
        WorkflowVersion.id.label("version_id"),
    )
    .join(Workflow, Workflow.id == Webhook.workflow_id)
    .join(
        WorkflowVersion,
        (WorkflowVersion.workflow_id == Workflow.id) & (WorkflowVersion.version == Workflow.version),
    )
    .where(Webhook.path == bindparam("path"))
)


async def find(db: Database, method: str, path: str, cache: TargetCache) -> Target:
    """The active webhook on this path and method, with the workflow's current version:
    404 if no method has the path, 405 if another method does."""
    cached = cache.get(method, path)
    if cached is not None:
        return cached
    return await cache.fill(method, path, lambda: _lookup(db, method, path))


async def _lookup(db: Database, method: str, path: str) -> Target:
    # Plain statement on the engine's writer connection (`executions.read`): no thread hop on SQLite.
    rows = await executions.read(db, lambda connection: connection.execute(_TARGETS, {"path": path}).all())
    if not rows:
        raise NotFound(f"No active workflow listens on /webhook/{path}.")
    for row in rows:
        if row.method.value == method:
            return Target(
                org_id=row.org_id,
                workflow_id=row.workflow_id,
                node_id=row.node_id,
                auth_mode=row.auth_mode,
                credential_id=row.credential_id,
                auth_header=row.auth_header,
                response_mode=row.response_mode,
                timeout_s=row.timeout_s,
                version_id=row.version_id,
            )
    allowed = ", ".join(sorted(row.method.value for row in rows))
    raise MethodNotAllowed(f"/webhook/{path} accepts {allowed}, not {method}.", headers={"Allow": allowed})


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes (413) before reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; webhooks accept at most {limit}.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes, the most webhooks accept.")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # lets request.form() parse what was read
    return body


async def check_auth(db: Database, vault: Vault, target: Target, request: Request, body: bytes) -> None:
    if target.auth_mode == WebhookAuth.none:
        return
    secret = await _secret(db, vault, target)
    header = request.headers.get(target.auth_header or "authorization", "")
    if target.auth_mode == WebhookAuth.header:
        token = str(secret.get("token") or secret.get("value") or "")
        given = header[7:] if header.lower().startswith("bearer ") else header
        ok = bool(token) and (tokens.equals(header, token) or tokens.equals(given, token))
    elif target.auth_mode == WebhookAuth.basic:
        ok = _basic_ok(request.headers.get("authorization", ""), secret)
    else:
        key = str(secret.get("secret") or "").encode()
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        given = header.removeprefix("sha256=")
        ok = bool(key) and hmac.compare_digest(given.encode(), expected.encode())
    if not ok:
        raise Unauthorized(
            f"The webhook needs {target.auth_mode.value} authentication, which was missing or wrong."
        )


def _basic_ok(header: str, secret: dict[str, Any]) -> bool:
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    expected_user = str(secret.get("user") or secret.get("username") or "")
    expected_password = str(secret.get("password") or "")
    # Both compared, always, so timing says nothing about which was wrong.
    same_user = tokens.equals(user, expected_user)
    same_password = tokens.equals(password, expected_password)
    return bool(expected_password) and same_user and same_password


async def _secret(db: Database, vault: Vault, target: Target) -> dict[str, Any]:
    if target.credential_id is None:
        raise Unauthorized("The webhook's credential is missing; nobody can call it until one is chosen.")
    async with db.session() as session:
        try:
            credential = await get_scoped(session, Credential, target.credential_id, target.org_id)
        except NotFound:
            raise Unauthorized(
                "The webhook's credential was deleted; nobody can call it until one is chosen."
            ) from None
        return service.open_credential(vault, credential)


async def request_item(
    request: Request, path: str, body: bytes, max_part: int, target: Target
) -> dict[str, Any]:
    """The item a webhook node emits: method, path, headers (less those carrying secrets,
    the webhook's own auth header among them), query and the parsed body; uploaded files go
    under `binary` (n8n's convention) as base64 with name, type and size."""
    secret_headers = SECRET_HEADERS | {(target.auth_header or "authorization").lower()}
    item: dict[str, Any] = {
        "method": request.method,
        "path": path,
        "headers": {k: v for k, v in request.headers.items() if k.lower() not in secret_headers},
        "query": dict(request.query_params),
    }
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body:
        item["body"] = None
    elif kind == "application/json" or kind.endswith("+json"):
        item["body"] = parse_json(body)
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_part_size=max_part)
        except (HTTPException, MultiPartException) as exc:  # Starlette raises the first inside an app
            detail = exc.detail if isinstance(exc, HTTPException) else exc.message
            raise BadRequest(f"The form body is malformed: {detail}") from None
        fields: dict[str, Any] = {}
        binary: dict[str, Any] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                binary[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": len(data),
                    "data": base64.b64encode(data).decode(),
                }
            else:
                fields[name] = value
        # A part's charset may decode to anything (UTF-7 makes lone surrogates): refuse what is not text.
        check_text([fields, list(binary), [b["filename"] for b in binary.values()]], where="form body")
        item["body"] = fields
        if binary:
            item["binary"] = binary
    elif kind.startswith("text/") or kind in ("application/xml", ""):
        item["body"] = body.decode(errors="replace")
        check_text(item["body"], where="text body")  # a NUL byte: no database stores it as text
    else:
        item["body"] = None
        item["binary"] = {
            "body": {
                "filename": None,
                "content_type": kind,
                "size": len(body),
                "data": base64.b64encode(body).decode(),
            }
        }
    return item


_COMPLETED_OUTPUTS = (
    select(ExecutionLog.output_data)
    .where(
        ExecutionLog.execution_id == bindparam("execution_id", type_=Uuid()),
        ExecutionLog.status == NodeRunStatus.completed,
    )
    .order_by(ExecutionLog.id.desc())
)


def answer_of(connection: Connection, execution_id: uuid.UUID, mode: ResponseMode) -> dict[str, Any] | None:
    """respond_node: the `$response` a Respond to webhook node left; last_node: the last items.
    Plain statements, for `executions.read`."""
    if mode != ResponseMode.respond_node:
        return {"status": 200, "headers": {}, "body": executions.last_items(connection, execution_id)}
    for output in connection.execute(_COMPLETED_OUTPUTS, {"execution_id": execution_id}).scalars():
        response = (output or {}).get(RESPONSE_OUTPUT)
        if response:
            answer: dict[str, Any] = response[0]
            return answer
    return None


IDEMPOTENCY_KEY_MAX = 255
"""Characters of an Idempotency-Key header."""
REQUEST_DIGEST = "request"
"""Where a keyed call's execution keeps the digest of the request (its options): a repeat of
the key must be the same request."""

_EXECUTIONS = cast(Table, Execution.__table__)
_BY_KEY = select(_EXECUTIONS.c.id, _EXECUTIONS.c.created_at, _EXECUTIONS.c.options).where(
    _EXECUTIONS.c.workflow_id == bindparam("workflow_id", type_=Uuid()),
    _EXECUTIONS.c.idempotency_key == bindparam("key"),
)
_FORGET_KEY = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id", type_=Uuid()))
    .values(idempotency_key=None)
)
_SET_KEY = (
    update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == bindparam("execution_id", type_=Uuid()))
    .values(idempotency_key=bindparam("key"))
)


def idempotency_key(request: Request) -> str | None:
    """The caller's Idempotency-Key header, if any (400 if it is empty or too long)."""
    given = request.headers.get("idempotency-key")
    if given is None:
        return None
    if not given.strip() or len(given) > IDEMPOTENCY_KEY_MAX:
        raise BadRequest(
            f"The Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX} characters; "
            f"this one has {len(given)}."
        )
    return given


def stored_key(node_id: str, key: str) -> str:
    """The key as the execution row holds it: '<webhook node id>:<SHA-256 of the key>'. Hashed,
    it fits the column whatever the node id (64) and key (255) lengths, and compares byte for
    byte on every database (MariaDB's default collation took 'Key' for 'key ')."""
    return f"{node_id}:{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()}"


def request_digest(item: dict[str, Any]) -> str:
    """What makes two calls the same request: method, query and the parsed body (and files), so
    a retry that encodes the same body anew (another multipart boundary, other key order) is
    still the same request."""
    same = {name: item.get(name) for name in ("method", "query", "body", "binary")}
    return hashlib.sha256(canonical(same).encode("utf-8")).hexdigest()


def _same_request(options: Any, digest: str | None) -> bool:
    held = (options or {}).get(REQUEST_DIGEST) if isinstance(options, dict) else None
    return held is None or held == digest


def _key_reused() -> ValidationFailed:
    return ValidationFailed(
        "This Idempotency-Key was sent with another request to this webhook within the idempotency "
        "window; a key stands for one request: send a new key with a new request.",
        errors=[
            {"loc": ["header", "Idempotency-Key"], "msg": "used for another request", "type": "key_reused"}
        ],
    )


async def accept(
    db: Database,
    target: Target,
    item: dict[str, Any],
    key: str | None,
    window: timedelta,
    digest: str | None = None,
) -> tuple[uuid.UUID, bool]:
    """The execution a call of a registered webhook starts, and whether this call started it.

    Without `key` every call is a new pending execution. With one, a call repeating the key of
    a call to the same webhook accepted less than `window` ago gets that call's execution
    (False), if it is the same request (`digest`, of `request_digest`); another request with
    that key is a 422, so a caller who guesses a key neither reads the answer to someone
    else's call nor makes their call look done. An older holder of the key gives it up, and
    this call starts a new one. Two calls racing with the same key end with one execution: the
    unique index on (workflow, key) refuses the second insert, whose transaction is run again
    and then reads the first (no savepoint: MariaDB could lose it with the failed insert)."""
    if target.version_id is None:
        raise ValueError("a test call has no registered webhook to hold idempotency keys")
    version_id = target.version_id
    if key is None:
        execution_id = await executions.accept(
            db,
            org_id=target.org_id,
            workflow_id=target.workflow_id,
            version_id=version_id,
            trigger_type=TriggerType.webhook,
            input_items=[item],
            options={"start": target.node_id},
        )
        return execution_id, True
    stored = stored_key(target.node_id, key)
    options: dict[str, Any] = {"start": target.node_id}
    if digest is not None:
        options[REQUEST_DIGEST] = digest

    def job(connection: Connection) -> tuple[uuid.UUID, bool, bool]:
        """(execution, started by this call, the same request as the key's first)."""
        params = {"workflow_id": target.workflow_id, "key": stored}
        earlier = connection.execute(_BY_KEY, params).first()
        if earlier is not None:
            if earlier.created_at > utcnow() - window:
                return earlier.id, False, _same_request(earlier.options, digest)
            connection.execute(_FORGET_KEY, {"execution_id": earlier.id})
        execution_id = executions.insert_pending(
            connection,
            org_id=target.org_id,
            workflow_id=target.workflow_id,
            version_id=version_id,
            trigger_type=TriggerType.webhook,
            input_items=[item],
            options=options,
        )
        connection.execute(_SET_KEY, {**params, "execution_id": execution_id})
        return execution_id, True, True

    try:
        execution_id, first, same = await executions.write(db, job)
    except IntegrityError:  # a racing call took the key first; run again, it finds that call
        execution_id, first, same = await executions.write(db, job)
    if not same:
        raise _key_reused()
    return execution_id, first


def method_of(request: Request) -> str:
    method = request.method.upper()
    if method not in WebhookMethod.__members__:
        raise MethodNotAllowed(f"Webhooks accept GET, POST, PUT, PATCH and DELETE, not {method}.")
    return method
