"""Channel connections of a bot (`/api/v1/bots/{bot_id}/channels`) and the public inbound URL the
platforms call (`/channels/{platform}/{inbound_token}`).

The inbound route answers the platform only after `bots.service.receive` has committed each
message, so a 200 means the message is stored; a failure before that is an error answer and the
platform delivers again (duplicates are dropped by message id). A delivery whose signature does not
verify is 401 and nothing of it is stored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole
from wirework.accounts.service import Principal
from wirework.bots import service as bots_service
from wirework.bots.models import Bot
from wirework.bots.schemas import InboundMessage
from wirework.channels import registry, service
from wirework.channels.base import BadSignature, Incoming
from wirework.channels.models import PlatformBot
from wirework.channels.schemas import (
    ActionResult,
    ConnectionCreate,
    ConnectionCreated,
    ConnectionOut,
    ConnectionUpdate,
    PlatformOut,
)
from wirework.db.engine import Database
from wirework.db.health import is_disconnect
from wirework.db.scoping import get_scoped
from wirework.db.types import utcnow
from wirework.deps import SessionDep
from wirework.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    WireworkError,
)
from wirework.problems import error_response, problem_responses
from wirework.security.bodies import parse_json
from wirework.security.headers import WEBHOOK_HEADERS
from wirework.security.vault import Vault

log = structlog.get_logger("wirework.channels")

COMMON = problem_responses(400, 401, 403, 404, 422)
connections_router = APIRouter(prefix="/api/v1/bots/{bot_id}", tags=["bots"], responses=COMMON)
inbound_router = APIRouter(prefix="/channels", tags=["channels"])
routers = [connections_router, inbound_router]

LAST_INBOUND_EVERY_S = 60
"""`last_inbound_at` is written at most this often per connection (not once per message)."""


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _endpoints(request: Request) -> service.Endpoints:
    return service.Endpoints.from_settings(request.app.state.settings)


def _out(endpoints: service.Endpoints, connection: PlatformBot) -> dict[str, Any]:
    fields = ConnectionOut.model_fields
    values = {name: getattr(connection, name) for name in fields if name != "inbound_url"}
    return {**values, "inbound_url": endpoints.inbound_url(connection)}


async def _bot(session: SessionDep, org_id: uuid.UUID, bot_id: uuid.UUID) -> Bot:
    return await get_scoped(session, Bot, bot_id, org_id)


def _writer(principal: Principal) -> None:
    require_role(principal, OrgRole.member)


# ---------------------------------------------------------------- connections (authenticated)


@connections_router.get("/platforms", response_model=list[PlatformOut])
async def list_platforms(
    bot_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> list[dict[str, Any]]:
    """The platforms a bot can connect to, with the set-up form and steps of each."""
    await _bot(session, org_id, bot_id)
    return [registry.describe(adapter) for adapter in registry.ADAPTERS.values()]


@connections_router.get("/channels", response_model=list[ConnectionOut])
async def list_connections(
    bot_id: uuid.UUID, request: Request, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> list[dict[str, Any]]:
    await _bot(session, org_id, bot_id)
    endpoints = _endpoints(request)
    return [_out(endpoints, c) for c in await service.list_connections(session, org_id, bot_id)]


@connections_router.post("/channels", status_code=status.HTTP_201_CREATED, response_model=ConnectionCreated)
async def create_connection(
    bot_id: uuid.UUID,
    body: ConnectionCreate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    """Connect the bot to a platform. The answer holds the inbound URL to paste into the platform,
    and the generated secrets, shown this once."""
    _writer(principal)
    await _bot(session, org_id, bot_id)
    connection, secrets = await service.create_connection(
        session,
        _vault(request),
        org_id=org_id,
        user_id=principal.user.id,
        bot_id=bot_id,
        platform=body.platform,
        name=body.name,
        values=body.values,
    )
    await session.commit()
    adapter = registry.ADAPTERS[connection.platform]
    generated = {f.name for f in adapter.fields if f.generated}
    shown = {k: v for k, v in secrets.items() if k in generated}
    return {**_out(_endpoints(request), connection), "secrets": shown}


@connections_router.get("/channels/{connection_id}", response_model=ConnectionOut)
async def get_connection(
    bot_id: uuid.UUID,
    connection_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    connection = await service.get_connection(session, org_id, bot_id, connection_id)
    return _out(_endpoints(request), connection)


@connections_router.patch("/channels/{connection_id}", response_model=ConnectionOut)
async def update_connection(
    bot_id: uuid.UUID,
    connection_id: uuid.UUID,
    body: ConnectionUpdate,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    _writer(principal)
    connection = await service.get_connection(session, org_id, bot_id, connection_id)
    await service.update_connection(
        session, _vault(request), connection, name=body.name, values=body.values, is_active=body.is_active
    )
    await session.commit()
    return _out(_endpoints(request), connection)


@connections_router.delete("/channels/{connection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_connection(
    bot_id: uuid.UUID,
    connection_id: uuid.UUID,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Response:
    """Disconnect: the inbound URL stops working and the connection's credential is deleted."""
    _writer(principal)
    connection = await service.get_connection(session, org_id, bot_id, connection_id)
    await service.delete_connection(session, connection)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@connections_router.post("/channels/{connection_id}/test", response_model=ActionResult)
async def test_connection(
    bot_id: uuid.UUID,
    connection_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    """Call the platform with the connection's secrets (Telegram getMe, Slack auth.test, …)."""
    _writer(principal)
    connection = await service.get_connection(session, org_id, bot_id, connection_id)
    result = await service.test_connection(session, _vault(request), _endpoints(request), connection)
    await session.commit()
    return result


@connections_router.post("/channels/{connection_id}/register", response_model=ActionResult)
async def register_connection(
    bot_id: uuid.UUID,
    connection_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> dict[str, Any]:
    """Tell the platform the inbound URL (Telegram's setWebhook); others take it in their settings."""
    _writer(principal)
    connection = await service.get_connection(session, org_id, bot_id, connection_id)
    result = await service.register_connection(session, _vault(request), _endpoints(request), connection)
    await session.commit()
    return result


# ---------------------------------------------------------------- inbound (public, signed)

_INBOUND_DOC = {
    "responses": {
        **problem_responses(400, 401, 403, 404, 413, 503),
        200: {"description": "Stored (or a duplicate, or politely dropped); the platform's expected answer."},
    }
}


def _inert(response: Response) -> Response:
    """The answer as webhook answers are served: inert on the app's origin."""
    for name, value in WEBHOOK_HEADERS:
        response.headers[name.decode("latin-1")] = value.decode("latin-1")
    return response


@inbound_router.get("/{platform}/{inbound_token}", **_INBOUND_DOC)  # type: ignore[arg-type]
async def inbound_check(platform: str, inbound_token: str, request: Request) -> Response:
    """WhatsApp's subscription check (`hub.mode`, `hub.verify_token`, `hub.challenge`): the
    challenge as text when the verify token matches, else 403 (what Meta expects)."""
    try:
        db: Database = request.app.state.db
        async with db.session() as session:
            connection = await _connection(session, platform, inbound_token)
            secrets = await service.connection_secrets(session, _vault(request), connection)
    except WireworkError as exc:
        return _inert(error_response(request, exc))
    challenge = getattr(registry.ADAPTERS[platform], "challenge", None)
    answer = challenge(dict(request.query_params), secrets) if challenge else None
    if answer is None:
        log.warning("channel_verify_refused", platform=platform, connection=str(connection.id))
        return _inert(PlainTextResponse("The verify token does not match.", status_code=403))
    return _inert(PlainTextResponse(answer))


@inbound_router.post("/{platform}/{inbound_token}", **_INBOUND_DOC)  # type: ignore[arg-type]
async def inbound(platform: str, inbound_token: str, request: Request) -> Response:
    """A platform delivers updates here; signed, verified, stored, then answered."""
    try:
        return _inert(await _inbound(platform, inbound_token, request))
    except WireworkError as exc:
        return _inert(error_response(request, exc))
    except Exception as exc:
        if not is_disconnect(exc):
            raise
        # The database is away: nothing was answered 200, so the platform delivers again later.
        request.app.state.db.health.lost(exc, "channel inbound")
        unavailable = ServiceUnavailable(
            "The database is unreachable; deliver again in a moment.", headers={"Retry-After": "5"}
        )
        return _inert(error_response(request, unavailable))


async def _connection(session: AsyncSession, platform: str, token: str) -> PlatformBot:
    connection = None
    if platform in registry.ADAPTERS:
        connection = await service.find_inbound(session, platform, token)
    if connection is None:
        raise NotFound("No active chat platform connection has this URL.")
    return connection


async def _inbound(platform: str, token: str, request: Request) -> Response:
    settings = request.app.state.settings
    limit = settings.channel_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"A delivery may be at most {limit} bytes.")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"A delivery may be at most {limit} bytes.")
    db: Database = request.app.state.db
    async with db.session() as session:
        connection = await _connection(session, platform, token)
        secrets = await service.connection_secrets(session, _vault(request), connection)
    adapter = registry.ADAPTERS[platform]
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        adapter.verify(headers, body, secrets, time.time())
    except BadSignature as exc:
        # the same bad sender logs one line per 10 s (observability.ErrorDedup)
        log.warning(
            "channel_signature_refused", platform=platform, connection=str(connection.id), reason=str(exc)
        )
        raise Unauthorized(f"The delivery's signature does not verify: {exc}.") from None
    payload = parse_json(body)
    try:
        parsed = adapter.parse(payload, connection.settings)
    except ValueError as exc:
        raise BadRequest(f"The delivery is not understood: {exc}.") from None
    results: list[dict[str, Any]] = []
    submit = request.app.state.executor.submit
    for message in parsed.messages:
        results.append(await _receive(db, connection, message, submit))
    if parsed.messages:
        await _touch(db, connection)
    refused = [r for r in results if r["status"] == "refused"]
    answer = parsed.answer
    if platform == "discord" and refused:
        answer = {"type": 4, "data": {"content": refused[0]["reason"], "flags": 1 << 6}}
    if platform == "webhook":
        answer = {"ok": True, "messages": results}
    return JSONResponse(answer if answer is not None else {"ok": True})


async def _receive(
    db: Database, connection: PlatformBot, message: Incoming, submit: Callable[[uuid.UUID], Any]
) -> dict[str, Any]:
    """Store and route one message. A refusal (too long, a flood) is answered 200 to the platform:
    Telegram, Slack and WhatsApp would deliver a refused message again and again (WhatsApp for 7
    days), and the refusal would not change; the generic webhook's caller reads it in the answer and
    Discord's user sees it."""
    inbound = InboundMessage(**asdict(message))
    try:
        received = await bots_service.receive(
            db,
            platform_bot=connection,
            bot_id=connection.bot_id,
            org_id=connection.org_id,
            inbound=inbound,
            submit=submit,
        )
    except bots_service.Refused as exc:
        log.info(
            "channel_message_refused",
            platform=connection.platform,
            connection=str(connection.id),
            chat=message.chat_id,
            reason=exc.reason,
        )
        return {"message_id": message.platform_message_id, "status": "refused", "reason": exc.reason}
    status_ = "duplicate" if received.duplicate else "stored"
    return {"message_id": message.platform_message_id, "status": status_}


async def _touch(db: Database, connection: PlatformBot) -> None:
    now = utcnow()
    last = connection.last_inbound_at
    if last is not None and (now - last).total_seconds() < LAST_INBOUND_EVERY_S:
        return
    async with db.session() as session:
        await session.execute(
            update(PlatformBot).where(PlatformBot.id == connection.id).values(last_inbound_at=now)
        )
        await session.commit()
