"""HTTP routes: /api/v1/bots (+ config, config.csv, memories, the REST channel), /api/v1/sessions,
/api/v1/messages. Every query is scoped to the caller's organization (another org's id is 404)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import delete, or_, select

from wirework.accounts.deps import ActiveOrgId, CurrentPrincipal, require_role
from wirework.accounts.models import OrgRole, User
from wirework.accounts.schemas import Page
from wirework.bots import service
from wirework.bots.models import Bot, BotConfiguration, BotMemory, Message, MessageRole, UserSession
from wirework.bots.schemas import (
    DIALOG_KINDS,
    BotCreate,
    BotDetail,
    BotOut,
    BotUpdate,
    CommandOut,
    ConfigEntry,
    ConfigImported,
    DialogKind,
    InboundMessage,
    MemoryIn,
    MemoryOut,
    MessageOut,
    OperatorMessage,
    RestMessageIn,
    RestMessageOut,
    SessionDetail,
    SessionOut,
)
from wirework.channels.models import PlatformUser
from wirework.db.pagination import paginate
from wirework.db.scoping import get_scoped, scoped
from wirework.deps import Cursor, Limit, SessionDep
from wirework.errors import NotFound, ValidationFailed
from wirework.problems import problem_responses
from wirework.queue.waiting import Completions

COMMON = problem_responses(400, 401, 403, 404, 422)
UserKey = Annotated[
    str,
    Query(
        max_length=100,
        description="'' (default) for the bot's own memory, or 'user:…', 'platform:…', 'visitor:…'.",
    ),
]

bots_router = APIRouter(prefix="/api/v1/bots", tags=["bots"], responses=COMMON)
sessions_router = APIRouter(prefix="/api/v1/sessions", tags=["bots"], responses=COMMON)
messages_router = APIRouter(prefix="/api/v1/messages", tags=["bots"], responses=COMMON)
routers = [bots_router, sessions_router, messages_router]


def _writer(principal: Any) -> None:
    require_role(principal, OrgRole.member)


async def _detail(session: SessionDep, bot: Bot) -> BotDetail:
    commands = await service.commands_of(session, bot)
    out = BotDetail.model_validate(
        {
            **BotOut.model_validate(
                {
                    **{c: getattr(bot, c) for c in BotOut.model_fields},
                    "settings": service.bot_settings(bot.settings),
                }
            ).model_dump(),
            "commands": [CommandOut.model_validate(c) for c in commands],
        }
    )
    return out


def _bot_out(bot: Bot) -> BotOut:
    return BotOut.model_validate(
        {**{c: getattr(bot, c) for c in BotOut.model_fields}, "settings": service.bot_settings(bot.settings)}
    )


# ---------------------------------------------------------------- bots


@bots_router.get("", response_model=Page[BotOut])
async def list_bots(
    org_id: ActiveOrgId, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[BotOut]:
    """The organization's bots, oldest first."""
    rows, next_cursor = await paginate(session, scoped(Bot, org_id), Bot.id, limit=limit, cursor=cursor)
    return Page(items=[_bot_out(b) for b in rows], next_cursor=next_cursor)


@bots_router.get("/dialog-kinds", response_model=list[DialogKind])
async def dialog_kinds(_: ActiveOrgId) -> list[DialogKind]:
    """What can run a bot's dialog on this instance."""
    return [DialogKind(kind=k, description=d) for k, d in DIALOG_KINDS.items()]


@bots_router.post("", response_model=BotDetail, status_code=status.HTTP_201_CREATED)
async def create_bot(
    body: BotCreate, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> BotDetail:
    """A new bot. Its dialog is a workflow of this organization (with a Chat trigger node)."""
    _writer(principal)
    service.check_dialog_kind(body.dialog_kind)
    await service.check_workflow(session, org_id, body.dialog_workflow_id, "dialog_workflow_id")
    await service.check_llm(session, org_id, body.ai_model_id)
    bot = Bot(
        org_id=org_id,
        name=body.name,
        description=body.description,
        avatar_url=body.avatar_url,
        welcome_message=body.welcome_message,
        public_id=service.new_public_id(),
        dialog_kind=body.dialog_kind,
        dialog_workflow_id=body.dialog_workflow_id,
        ai_model_id=body.ai_model_id,
        is_active=body.is_active,
        settings=body.settings.model_dump(),
    )
    session.add(bot)
    await session.flush()
    if body.commands:
        await service.replace_commands(session, bot, body.commands)
    await session.commit()
    return await _detail(session, bot)


@bots_router.get("/{bot_id}", response_model=BotDetail)
async def get_bot(bot_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> BotDetail:
    return await _detail(session, await get_scoped(session, Bot, bot_id, org_id))


@bots_router.patch("/{bot_id}", response_model=BotDetail)
async def update_bot(
    bot_id: uuid.UUID, body: BotUpdate, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> BotDetail:
    """Change what is given; `commands` replaces the bot's commands."""
    _writer(principal)
    bot = await get_scoped(session, Bot, bot_id, org_id)
    given = body.model_fields_set
    if "dialog_kind" in given and body.dialog_kind is not None:
        service.check_dialog_kind(body.dialog_kind)
        bot.dialog_kind = body.dialog_kind
    if "dialog_workflow_id" in given:
        await service.check_workflow(session, org_id, body.dialog_workflow_id, "dialog_workflow_id")
        bot.dialog_workflow_id = body.dialog_workflow_id
    if "ai_model_id" in given:
        await service.check_llm(session, org_id, body.ai_model_id)
        bot.ai_model_id = body.ai_model_id
    for name in ("description", "avatar_url", "welcome_message"):
        if name in given:
            setattr(bot, name, getattr(body, name))
    if body.name is not None:
        bot.name = body.name
    if body.is_active is not None:
        bot.is_active = body.is_active
    if body.settings is not None:
        bot.settings = body.settings.model_dump()
    if body.commands is not None:
        await service.replace_commands(session, bot, body.commands)
    await session.commit()
    await session.refresh(bot)
    return await _detail(session, bot)


@bots_router.delete("/{bot_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_bot(
    bot_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> Response:
    """Delete a bot with its conversations, messages, settings, memories and connections."""
    _writer(principal)
    bot = await get_scoped(session, Bot, bot_id, org_id)
    # Messages first: a large history goes in one statement, not through the ORM.
    await session.execute(delete(Message).where(Message.bot_id == bot.id))
    await session.delete(bot)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- configuration


async def _config(session: SessionDep, bot: Bot) -> list[BotConfiguration]:
    rows = await session.execute(
        scoped(BotConfiguration, bot.org_id)
        .where(BotConfiguration.bot_id == bot.id)
        .order_by(BotConfiguration.name)
    )
    return list(rows.scalars())


@bots_router.get("/{bot_id}/config", response_model=list[ConfigEntry])
async def get_config(bot_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> list[ConfigEntry]:
    """The bot's settings (`bot_configuration`), by name."""
    bot = await get_scoped(session, Bot, bot_id, org_id)
    return [ConfigEntry(name=c.name, value=c.value) for c in await _config(session, bot)]


@bots_router.put("/{bot_id}/config", response_model=list[ConfigEntry])
async def put_config(
    bot_id: uuid.UUID,
    body: list[ConfigEntry],
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> list[ConfigEntry]:
    """Replace the bot's settings with these."""
    _writer(principal)
    bot = await get_scoped(session, Bot, bot_id, org_id)
    names = [e.name for e in body]
    if len(set(names)) != len(names):
        raise ValidationFailed("A setting name appears twice.")
    await service.import_config(session, bot, [(e.name, e.value) for e in body], replace=True)
    await session.commit()
    return [ConfigEntry(name=c.name, value=c.value) for c in await _config(session, bot)]


@bots_router.get(
    "/{bot_id}/config.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
async def export_config(bot_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> Response:
    """The settings as config.csv (`name,value`), as General Bots packages carry them."""
    bot = await get_scoped(session, Bot, bot_id, org_id)
    return Response(
        service.config_csv(await _config(session, bot)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="config.csv"'},
    )


@bots_router.post(
    "/{bot_id}/config.csv",
    response_model=ConfigImported,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_config(
    bot_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    replace: Annotated[bool, Query(description="Delete settings the file does not name.")] = False,
) -> ConfigImported:
    """Import a config.csv (the request body, `name,value` rows, UTF-8)."""
    _writer(principal)
    bot = await get_scoped(session, Bot, bot_id, org_id)
    entries = service.parse_config_csv(await request.body())
    await service.import_config(session, bot, entries, replace=replace)
    await session.commit()
    return ConfigImported(
        imported=len(entries),
        entries=[ConfigEntry(name=c.name, value=c.value) for c in await _config(session, bot)],
    )


# ---------------------------------------------------------------- memories


def _memory_out(row: BotMemory) -> MemoryOut:
    return MemoryOut(user_key=row.user_key, key=row.key, value=row.value, updated_at=row.updated_at)


@bots_router.get("/{bot_id}/memories", response_model=Page[MemoryOut])
async def list_memories(
    bot_id: uuid.UUID,
    org_id: ActiveOrgId,
    session: SessionDep,
    user_key: Annotated[
        str | None, Query(max_length=100, description="Only this owner's ('' = the bot's).")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[MemoryOut]:
    """What the bot remembers: its own memory and each person's."""
    await get_scoped(session, Bot, bot_id, org_id)
    stmt = scoped(BotMemory, org_id).where(BotMemory.bot_id == bot_id)
    if user_key is not None:
        stmt = stmt.where(BotMemory.user_key == user_key)
    rows, next_cursor = await paginate(session, stmt, BotMemory.id, limit=limit, cursor=cursor)
    return Page(items=[_memory_out(r) for r in rows], next_cursor=next_cursor)


@bots_router.put("/{bot_id}/memories/{key}", response_model=MemoryOut)
async def put_memory(
    bot_id: uuid.UUID,
    key: str,
    body: MemoryIn,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    request: Request,
    user_key: UserKey = "",
) -> MemoryOut:
    """Set a memory (a null value deletes it)."""
    _writer(principal)
    if not 1 <= len(key) <= 200:
        raise ValidationFailed("A memory key has 1 to 200 characters.")
    await get_scoped(session, Bot, bot_id, org_id)
    await service.set_memory(
        request.app.state.db, org_id=org_id, bot_id=bot_id, user_key=user_key, key=key, value=body.value
    )
    row = (
        await session.execute(
            scoped(BotMemory, org_id).where(
                BotMemory.bot_id == bot_id, BotMemory.user_key == user_key, BotMemory.key == key
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Memory {key!r} was deleted (null value)")
    return _memory_out(row)


@bots_router.delete("/{bot_id}/memories/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_memory(
    bot_id: uuid.UUID,
    key: str,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
    user_key: UserKey = "",
) -> Response:
    _writer(principal)
    await get_scoped(session, Bot, bot_id, org_id)
    row = (
        await session.execute(
            scoped(BotMemory, org_id).where(
                BotMemory.bot_id == bot_id, BotMemory.user_key == user_key, BotMemory.key == key
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Memory {key!r} not found")
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- the REST channel


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@bots_router.post(
    "/{bot_id}/messages",
    response_model=RestMessageOut,
    responses={**problem_responses(409, 413, 429), 200: {"content": {"text/event-stream": {}}}},
)
async def send_message(
    bot_id: uuid.UUID,
    body: RestMessageIn,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> Any:
    """Talk to a bot as yourself (the REST channel): the message is stored and routed before
    this answers. With `wait_s`, the answer holds the bot's replies once its dialog finished or
    asked (or the time ran out); with `Accept: text/event-stream`, replies stream as `message`
    events as they are stored (and `partial` events {id, text} while an AI node streams an
    answer in this process), then a `done` event."""
    _writer(principal)
    await get_scoped(session, Bot, bot_id, org_id)
    await session.commit()  # the session's reads end here; receive writes through the group commit
    db = request.app.state.db
    accepted: list[uuid.UUID] = []
    received = await service.receive(
        db,
        platform_bot=None,
        bot_id=bot_id,
        org_id=org_id,
        inbound=InboundMessage(
            channel="rest",
            platform_message_id=f"{principal.user.id}:{body.message_id}" if body.message_id else None,
            chat_id=body.chat_id,
            chat_name=None,
            chat_kind="direct",
            user_id=str(principal.user.id),
            user_name=principal.user.username,
            text=body.text,
        ),
        submit=accepted.append,
        user_id=principal.user.id,
    )
    completions: Completions = request.app.state.platform.completions
    executor = request.app.state.executor
    expected = [(e, completions.expect(e)) for e in accepted]
    for execution_id in accepted:
        executor.submit(execution_id)
    assert received.session_id is not None

    async def settle(seconds: float) -> None:
        if seconds <= 0 or not expected:
            return
        await asyncio.gather(
            *(completions.wait(db, e, seconds, f, runs_here=executor.runs_here) for e, f in expected)
        )

    if "text/event-stream" in request.headers.get("accept", ""):
        seconds = body.wait_s or 30.0
        return StreamingResponse(
            _stream(db, org_id, received, settle(seconds), seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    await settle(body.wait_s)
    replies = await _replies(db, org_id, received)
    return RestMessageOut(
        session_id=received.session_id,
        message_id=received.message_id,
        duplicate=received.duplicate,
        routed_to=received.routed_to,
        replies=replies,
        waiting=await _waiting(db, org_id, received.session_id),
    )


async def _replies(db: Any, org_id: uuid.UUID, received: Any) -> list[MessageOut]:
    if received.message_id is None or received.duplicate:
        return []
    from wirework.engine import executions

    rows = await executions.read(
        db,
        lambda c: c.execute(
            select(Message.__table__)
            .where(
                Message.session_id == received.session_id,
                Message.org_id == org_id,
                Message.id > received.message_id,
                Message.role != MessageRole.user,
            )
            .order_by(Message.id)
            .limit(100)
        ).all(),
    )
    return [MessageOut.model_validate(service.message_dict(r)) for r in rows]


async def _waiting(db: Any, org_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    row = await service.session_of(db, org_id, session_id)
    return row.waiting_node_id is not None


async def _stream(
    db: Any, org_id: uuid.UUID, received: Any, settled: Any, seconds: float
) -> AsyncIterator[bytes]:
    yield _sse(
        "stored",
        {
            "session_id": str(received.session_id),
            "message_id": str(received.message_id),
            "duplicate": received.duplicate,
        },
    )
    if received.duplicate:
        yield _sse("done", {"waiting": False})
        return
    done = asyncio.ensure_future(settled)
    sent: set[str] = set()
    replies = service.stream_session(
        db, org_id, received.session_id, received.message_id, poll_s=0.25, partials=True
    )
    try:
        async with asyncio.timeout(seconds + 1):
            while True:
                nxt = asyncio.ensure_future(anext(replies))
                finished, _ = await asyncio.wait({nxt, done}, return_when=asyncio.FIRST_COMPLETED)
                if nxt in finished:
                    if nxt.result().get("type") == "partial":  # an AI answer being written here
                        yield _sse("partial", nxt.result()["partial"])
                        continue
                    sent.add(nxt.result()["id"])
                    yield _sse("message", nxt.result())
                    continue
                nxt.cancel()
                # The dialog settled: what it stored is in the transcript; send the rest.
                for message in await _replies(db, org_id, received):
                    if str(message.id) not in sent:
                        yield _sse("message", message.model_dump(mode="json"))
                break
    except TimeoutError:
        pass
    finally:
        done.cancel()
        await replies.aclose()
    yield _sse("done", {"waiting": await _waiting(db, org_id, received.session_id)})


# ---------------------------------------------------------------- sessions


async def _session_out(session: SessionDep, row: UserSession, detail: bool = False) -> SessionOut:
    values = {c: getattr(row, c) for c in SessionOut.model_fields if c != "waiting"}
    values["waiting"] = row.waiting_node_id is not None
    if not detail:
        return SessionOut.model_validate(values)
    name = row.visitor_id and f"visitor {row.visitor_id[:8]}"
    if row.user_id is not None:
        user = await session.get(User, row.user_id)
        name = user.username if user else name
    elif row.platform_user_id is not None:
        platform_user = await session.get(PlatformUser, row.platform_user_id)
        name = (platform_user.name or platform_user.username) if platform_user else name
    return SessionDetail.model_validate({**values, "context": row.context or {}, "user_name": name})


@sessions_router.get("", response_model=Page[SessionOut])
async def list_sessions(
    org_id: ActiveOrgId,
    session: SessionDep,
    bot_id: uuid.UUID | None = None,
    channel: Annotated[str | None, Query(max_length=30)] = None,
    open: Annotated[bool | None, Query(description="Only open (true) or closed (false) ones.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SessionOut]:
    """Conversations, newest first."""
    stmt = scoped(UserSession, org_id)
    if bot_id is not None:
        stmt = stmt.where(UserSession.bot_id == bot_id)
    if channel:
        stmt = stmt.where(UserSession.channel == channel)
    if open is not None:
        stmt = stmt.where(UserSession.closed_at.is_(None) if open else UserSession.closed_at.is_not(None))
    rows, next_cursor = await paginate(
        session, stmt, UserSession.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(items=[await _session_out(session, r) for r in rows], next_cursor=next_cursor)


@sessions_router.get("/{session_id}", response_model=SessionDetail)
async def get_session(session_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep) -> SessionOut:
    return await _session_out(
        session, await get_scoped(session, UserSession, session_id, org_id), detail=True
    )


@sessions_router.get("/{session_id}/messages", response_model=Page[MessageOut])
async def session_messages(
    session_id: uuid.UUID, org_id: ActiveOrgId, session: SessionDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[MessageOut]:
    """The transcript, oldest first."""
    await get_scoped(session, UserSession, session_id, org_id)
    stmt = scoped(Message, org_id).where(Message.session_id == session_id)
    rows, next_cursor = await paginate(session, stmt, Message.id, limit=limit, cursor=cursor)
    return Page(items=[MessageOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@sessions_router.post("/{session_id}/takeover", response_model=SessionDetail)
async def take_over(
    session_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> SessionOut:
    """Answer this conversation by hand: its dialog pauses (new messages are stored, not routed)
    until you hand it back."""
    _writer(principal)
    row = await get_scoped(session, UserSession, session_id, org_id)
    await service.take_over(session, row, principal.user.id)
    await session.commit()
    return await _session_out(session, row, detail=True)


@sessions_router.delete("/{session_id}/takeover", response_model=SessionDetail)
async def hand_back(
    session_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> SessionOut:
    """Hand the conversation back to the bot's dialog."""
    _writer(principal)
    row = await get_scoped(session, UserSession, session_id, org_id)
    await service.take_over(session, row, None)
    await session.commit()
    return await _session_out(session, row, detail=True)


@sessions_router.post(
    "/{session_id}/messages", response_model=MessageOut, status_code=status.HTTP_201_CREATED
)
async def operator_message(
    session_id: uuid.UUID,
    body: OperatorMessage,
    request: Request,
    principal: CurrentPrincipal,
    org_id: ActiveOrgId,
    session: SessionDep,
) -> MessageOut:
    """Send a message as the bot, written by you (taking over first is up to you)."""
    _writer(principal)
    await get_scoped(session, UserSession, session_id, org_id)
    await session.commit()
    sent = await service.reply(
        request.app.state.db,
        org_id=org_id,
        session_id=session_id,
        text=body.text,
        reply_key=None,
        sender=principal.user.username,
        vault=request.app.state.vault,
    )
    return MessageOut.model_validate(sent.message)


@sessions_router.post("/{session_id}/close", response_model=SessionDetail)
async def close_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, org_id: ActiveOrgId, session: SessionDep
) -> SessionOut:
    """End the conversation: the person's next message opens a new one."""
    _writer(principal)
    row = await get_scoped(session, UserSession, session_id, org_id)
    if row.closed_at is None:
        from wirework.db.types import utcnow

        row.closed_at = utcnow()
        row.open_chat_key = None
        row.waiting_execution_id = row.waiting_node_id = None
    await session.commit()
    return await _session_out(session, row, detail=True)


# ---------------------------------------------------------------- messages


@messages_router.get("", response_model=Page[MessageOut])
async def search_messages(
    org_id: ActiveOrgId,
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Text the message contains (case-insensitive).")
    ] = None,
    bot_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    role: MessageRole | None = None,
    channel: Annotated[str | None, Query(max_length=30)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MessageOut]:
    """Messages of every conversation, newest first, with a text search. The search is a
    substring match (LIKE): it reads each message of the filtered range, which is fine for
    thousands of messages and slow for millions."""
    stmt = scoped(Message, org_id)
    if bot_id is not None:
        stmt = stmt.where(Message.bot_id == bot_id)
    if session_id is not None:
        stmt = stmt.where(Message.session_id == session_id)
    if role is not None:
        stmt = stmt.where(Message.role == role)
    if channel:
        stmt = stmt.where(Message.channel == channel)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            or_(
                Message.content.ilike(f"%{escaped}%", escape="\\"),
                Message.sender.ilike(f"%{escaped}%", escape="\\"),
            )
        )
    rows, next_cursor = await paginate(
        session, stmt, Message.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(items=[MessageOut.model_validate(r) for r in rows], next_cursor=next_cursor)
