"""What bots do: receive a message from any channel, route it, reply, deliver, remember.

The contract with the channels (web chat and REST here, the platform adapters in `channels/`):

- `receive(db, platform_bot=…, bot_id=…, org_id=…, inbound=InboundMessage(…))` stores the
  platform's user and chat, the session (a new one emits `session.started`) and the message,
  emits `message.received`, and routes it: a matching chat command runs its workflow, a
  `chat.ask` waiting in this conversation is resumed with it, else the bot's dialog workflow
  starts. All of that is ONE transaction, committed before `receive` returns: a channel answers
  its platform after the message is durable, and a crash loses nothing nor half-stores it. A
  message the platform sends again (same bot, channel and platform message id) is dropped:
  `Received(duplicate=True)`. Too long a message, a flood from one person, an inactive or
  unknown bot raise `Refused` (with an HTTP status and a reason) and store nothing.
- `register_sender(channel, send)`: how replies go out on a channel. `send(connection,
  secrets, chat_id, text)` returns the platform's message id, raises `SendLater(after_s)` for a
  429/5xx/network failure (tried again with back-off, at least `after_s` later) or
  `SendFailed(reason)` when it can never work.

Replies (`reply`, the `chat.reply` and `chat.ask` nodes, an operator's message) are rows first:
a reply carries a key (`<execution>:<node>:<pass>:<n>`), so an execution that resumes and runs
the node again inserts nothing new and sends nothing twice. Web and REST replies are delivered
by being stored (their clients read the transcript, pushed live to listeners in this process,
polled from others). Platform replies are sent at once, and the delivery pass (`BotJobs`) sends
what is still pending with back-off; a row is claimed (a short lease on `next_attempt_at`) before
it is sent, so two processes do not send it together. Delivery is at least once: a process
that dies after the platform accepted a message and before it recorded "sent" sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import random
import re
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, cast

import structlog
from pydantic import ValidationError
from sqlalchemy import Connection, Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.ai import service as ai_service
from wirework.ai.models import ModelType
from wirework.bots.models import (
    Bot,
    BotCommand,
    BotConfiguration,
    BotMemory,
    Delivery,
    Message,
    MessageRole,
    UserSession,
)
from wirework.bots.schemas import DIALOG_KINDS, BotSettings, InboundMessage, Received
from wirework.channels.models import (
    ChatKind,
    PlatformBot,
    PlatformChannel,
    PlatformChannelUser,
    PlatformUser,
)
from wirework.db.engine import Database
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow, uuid7
from wirework.engine import executions, jobs
from wirework.engine.models import TriggerType
from wirework.errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed, WireworkError
from wirework.security.bodies import check_text
from wirework.security.vault import Vault
from wirework.triggers import event_names, events
from wirework.workflows import service as workflows
from wirework.workflows.models import Credential, Workflow, WorkflowVersion

log = structlog.get_logger("wirework.bots")

LOCAL_CHANNELS: Final = frozenset({"web", "rest"})
"""Channels whose transcript is the delivery: a reply is 'sent' once stored."""
CHAT_TRIGGER: Final = "chat.trigger"
MAX_ATTEMPTS: Final = 8
CLAIM_S: Final = 60.0
"""A claimed pending reply is not tried by another process for this long (the send's lease)."""
BACKOFF_S: Final = (1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
MAX_ANSWERS: Final = 20
ID_MAX: Final = 200
"""Characters a platform's id of a chat, user or message may have (their columns hold 200)."""
NAME_MAX: Final = 200
MEMORY_MAX_BYTES: Final = 64 * 1024
"""Largest memory value (as compact JSON, UTF-8)."""
MEMORY_MAX_KEYS: Final = 1000
"""Keys one owner (the bot itself, or one person) may hold in a bot's memory."""


# ----------------------------------------------------------------------------- contract


class Refused(WireworkError):
    """A message that is not taken: nothing was stored. `status` is the HTTP status to answer."""

    title = "Message refused"

    def __init__(self, detail: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)} if retry_after else None)
        self.status = status
        self.reason = detail


class SendLater(Exception):
    """A send that may work later (429, 5xx, network): try again in at least `after_s`."""

    def __init__(self, after_s: float = 0.0, reason: str = "") -> None:
        super().__init__(reason or f"try again in {after_s:g} s")
        self.after_s = after_s
        self.reason = reason or str(self)


class SendFailed(Exception):
    """A send that can never work (bad token, unknown chat, blocked by the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Send(Protocol):
    def __call__(
        self, connection: PlatformBot | None, secrets: dict[str, Any], chat_id: str, text: str
    ) -> Awaitable[str | None]: ...


_senders: dict[str, Send] = {}


def register_sender(channel: str, send: Send) -> None:
    """How replies go out on `channel` (a platform adapter registers itself at import)."""
    _senders[channel] = send


def sender_for(channel: str) -> Send | None:
    return _senders.get(channel)


_submit: Callable[[uuid.UUID], Any] | None = None
_delivery_kick = asyncio.Event()


def use_executor(submit: Callable[[uuid.UUID], Any] | None) -> None:
    """Where executions that bots accept outside a request go (the app sets it at start);
    without it the executor's poll finds them."""
    global _submit
    _submit = submit


def _hand_over(ids: list[uuid.UUID], submit: Callable[[uuid.UUID], Any] | None) -> None:
    target = submit or _submit
    if target is not None:
        for execution_id in ids:
            target(execution_id)


# ----------------------------------------------------------------------------- live listeners
# A web-chat socket or an SSE stream of this process listens to its session: replies stored
# here are pushed at once. Listeners also poll the transcript, for replies stored elsewhere.

_listeners: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = {}


@contextlib.contextmanager
def listen(session_id: uuid.UUID) -> Iterator[asyncio.Queue[dict[str, Any]]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
    _listeners.setdefault(session_id, set()).add(queue)
    try:
        yield queue
    finally:
        group = _listeners.get(session_id)
        if group is not None:
            group.discard(queue)
            if not group:
                del _listeners[session_id]


def _publish(session_id: uuid.UUID, message: dict[str, Any]) -> None:
    for queue in _listeners.get(session_id, ()):
        with contextlib.suppress(asyncio.QueueFull):  # a stuck listener catches up from the transcript
            queue.put_nowait(message)


def publish_partial(session_id: uuid.UUID, stream_id: str, text: str) -> bool:
    """Push the text of an answer still being written (all of it so far) to this process's
    listeners of the conversation; the whole answer is stored and sent later as a message.
    Listeners of other processes see only that message. Empty text: the answer failed, drop
    what was shown of it. False when nobody here listens."""
    if session_id not in _listeners:
        return False
    _publish(session_id, {"type": "partial", "partial": {"id": stream_id, "text": text}})
    return True


def has_listeners(session_id: uuid.UUID) -> bool:
    """Someone in this process follows the conversation live (a web-chat socket, an SSE stream)."""
    return session_id in _listeners


# ----------------------------------------------------------------------------- statements

_BOTS = cast(Table, Bot.__table__)
_COMMANDS = cast(Table, BotCommand.__table__)
_MEMORIES = cast(Table, BotMemory.__table__)
_SESSIONS = cast(Table, UserSession.__table__)
_MESSAGES = cast(Table, Message.__table__)
_PBOTS = cast(Table, PlatformBot.__table__)
_PUSERS = cast(Table, PlatformUser.__table__)
_PCHANNELS = cast(Table, PlatformChannel.__table__)
_PMEMBERS = cast(Table, PlatformChannelUser.__table__)
_VERSIONS = cast(Table, WorkflowVersion.__table__)

_BOT = select(
    _BOTS.c.id,
    _BOTS.c.org_id,
    _BOTS.c.name,
    _BOTS.c.is_active,
    _BOTS.c.settings,
    _BOTS.c.dialog_kind,
    _BOTS.c.dialog_workflow_id,
    _BOTS.c.welcome_message,
).where(_BOTS.c.id == bindparam("bot_id"), _BOTS.c.org_id == bindparam("org_id"))
_DUPLICATE = select(_MESSAGES.c.id, _MESSAGES.c.session_id).where(
    _MESSAGES.c.bot_id == bindparam("bot_id"),
    _MESSAGES.c.channel == bindparam("channel"),
    _MESSAGES.c.platform_message_id == bindparam("pmid"),
)
_OPEN_SESSION = select(_SESSIONS).where(
    _SESSIONS.c.bot_id == bindparam("bot_id"),
    _SESSIONS.c.open_chat_key == bindparam("chat_key"),
)
_RECENT_FROM_USER = select(func.count()).where(
    _MESSAGES.c.session_id == bindparam("session_id"),
    _MESSAGES.c.id > bindparam("since_id"),
    _MESSAGES.c.role == MessageRole.user,
)
_CLOSE_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(closed_at=bindparam("now"), open_chat_key=None)
)
_TOUCH_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(
        message_count=_SESSIONS.c.message_count + bindparam("added"),
        last_activity_at=bindparam("now"),
        expires_at=bindparam("expires_at"),
        updated_at=bindparam("now"),
    )
)
_COUNT_MESSAGE = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(message_count=_SESSIONS.c.message_count + 1, last_activity_at=bindparam("now"))
)
_COMMANDS_OF = select(_COMMANDS.c.command, _COMMANDS.c.workflow_id).where(
    _COMMANDS.c.bot_id == bindparam("bot_id")
)
_HAS_COMMANDS: dict[uuid.UUID, tuple[float, list[tuple[str, uuid.UUID]]]] = {}
_DEFINITION = select(_VERSIONS.c.definition).where(_VERSIONS.c.id == bindparam("version_id"))
_REPLY_OF = select(_MESSAGES).where(
    _MESSAGES.c.bot_id == bindparam("bot_id"), _MESSAGES.c.reply_key == bindparam("key")
)
_SESSION_FOR_REPLY = (
    select(
        _SESSIONS.c.id,
        _SESSIONS.c.org_id,
        _SESSIONS.c.bot_id,
        _SESSIONS.c.channel,
        _SESSIONS.c.context,
        _SESSIONS.c.taken_over_by,
        _BOTS.c.name.label("bot_name"),
    )
    .join(_BOTS, _BOTS.c.id == _SESSIONS.c.bot_id)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.org_id == bindparam("org_id"))
)
_INSERT_MESSAGE = insert(_MESSAGES)
_LAST_FROM_USER = (
    select(_MESSAGES.c.created_at)
    .where(_MESSAGES.c.session_id == bindparam("session_id"), _MESSAGES.c.role == MessageRole.user)
    .order_by(_MESSAGES.c.id.desc())
    .limit(1)
)
_SET_WAITING = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(
        waiting_execution_id=bindparam("execution_id"),
        waiting_node_id=bindparam("node_id"),
        context=bindparam("context", type_=_SESSIONS.c.context.type),
    )
)
_TAKE_ANSWER = (  # conditional: of two messages racing for one question, one answers it
    update(_SESSIONS)
    .where(
        _SESSIONS.c.id == bindparam("session_id"),
        _SESSIONS.c.waiting_execution_id == bindparam("execution_id"),
        _SESSIONS.c.waiting_node_id == bindparam("node_id"),
    )
    .values(waiting_node_id=None, context=bindparam("context", type_=_SESSIONS.c.context.type))
)
_WOKEN = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.waiting_node_id.is_(None))
    .values(waiting_execution_id=None)
)
_ANSWERED_UNWOKEN = (
    select(_SESSIONS.c.id, _SESSIONS.c.waiting_execution_id)
    .where(_SESSIONS.c.waiting_execution_id.is_not(None), _SESSIONS.c.waiting_node_id.is_(None))
    .limit(100)
)
_CONTEXT = select(_SESSIONS.c.context).where(
    _SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.org_id == bindparam("org_id")
)


# ----------------------------------------------------------------------------- helpers


def bot_settings(raw: dict[str, Any] | None) -> BotSettings:
    """A bot's settings with defaults; a stored value that no longer validates falls back."""
    try:
        return BotSettings.model_validate(raw or {})
    except ValidationError:
        return BotSettings()


def _uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUID v7 of `moment`'s millisecond: ids after it were made after it."""
    ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0x2 << 62))


def chat_key(channel: str, platform_bot_id: uuid.UUID | None, chat_id: str, user_id: str) -> str:
    """One person's conversation in one chat of one channel connection."""
    key = f"{channel}:{platform_bot_id or '-'}:{chat_id}:{user_id}"
    if len(key) > 300:
        key = f"{channel}:{platform_bot_id or '-'}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def checked_inbound(inbound: InboundMessage) -> InboundMessage:
    """The message as the tables hold it, for every channel alike; `Refused` (400) when it cannot
    be. A chat or user id longer than its column is refused (replies go to that id, so it cannot
    be shortened); a longer message id is kept as its SHA-256 (it only finds repeats: the REST
    channel's `<user>:<message_id>` reaches 237 characters); names are cut to 200 characters.
    Text no database stores (NUL, lone surrogates) is refused: PostgreSQL answered 500."""
    for name, value in (("chat_id", inbound.chat_id), ("user_id", inbound.user_id)):
        if not isinstance(value, str) or not value or len(value) > ID_MAX:
            raise Refused(f"The message's {name} must be text of 1 to {ID_MAX} characters.", 400)
    if not isinstance(inbound.text, str) or not isinstance(inbound.platform_message_id, str | None):
        raise Refused("The message's text and id must be text.", 400)
    try:
        check_text(
            [
                inbound.text,
                inbound.chat_id,
                inbound.user_id,
                inbound.platform_message_id,
                inbound.chat_name,
                inbound.user_name,
            ],
            where="message",
        )
    except BadRequest as exc:
        raise Refused(exc.detail, 400) from None
    message_id = inbound.platform_message_id
    if message_id is not None and len(message_id) > ID_MAX:
        message_id = "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    chat_name, user_name = _name(inbound.chat_name), _name(inbound.user_name)
    if (message_id, chat_name, user_name) == (
        inbound.platform_message_id,
        inbound.chat_name,
        inbound.user_name,
    ):
        return inbound
    return InboundMessage(
        channel=inbound.channel,
        platform_message_id=message_id,
        chat_id=inbound.chat_id,
        chat_name=chat_name,
        chat_kind=inbound.chat_kind,
        user_id=inbound.user_id,
        user_name=user_name,
        text=inbound.text,
        raw=inbound.raw,
    )


def _name(value: Any) -> str | None:
    return value[:NAME_MAX] if isinstance(value, str) and value else None


def memory_owner(session: Any) -> str:
    """The user key of a session's person in `bot_memories`."""
    if session.user_id is not None:
        return f"user:{session.user_id}"
    if session.platform_user_id is not None:
        return f"platform:{session.platform_user_id}"
    if session.visitor_id:
        return f"visitor:{session.visitor_id}"
    return f"session:{session.id}"


def message_dict(row: Any) -> dict[str, Any]:
    """A message as the APIs and the live listeners show it."""
    return {
        "id": str(row.id),
        "session_id": str(row.session_id),
        "bot_id": str(row.bot_id),
        "role": str(getattr(row.role, "value", row.role)),
        "sender": row.sender,
        "content": row.content,
        "channel": row.channel,
        "platform_message_id": row.platform_message_id,
        "delivery": str(getattr(row.delivery, "value", row.delivery)),
        "attempts": row.attempts,
        "error": row.error,
        "tokens": row.tokens,
        "latency_ms": row.latency_ms,
        "model": row.model,
        "created_at": row.created_at.isoformat(),
    }


_TRIGGER_OF_VERSION: dict[uuid.UUID, str | None] = {}


def _chat_trigger(connection: Connection, version_id: uuid.UUID) -> str | None:
    """The Chat trigger node of a version (versions are immutable: cached per process)."""
    if version_id not in _TRIGGER_OF_VERSION:
        definition = connection.execute(_DEFINITION, {"version_id": version_id}).scalar_one_or_none() or {}
        found = next(
            (
                n["id"]
                for n in definition.get("nodes") or []
                if n.get("type") == CHAT_TRIGGER and not n.get("disabled")
            ),
            None,
        )
        if len(_TRIGGER_OF_VERSION) > 1000:
            _TRIGGER_OF_VERSION.clear()
        _TRIGGER_OF_VERSION[version_id] = found
    return _TRIGGER_OF_VERSION[version_id]


def _start_workflow(
    connection: Connection, org_id: uuid.UUID, workflow_id: uuid.UUID, item: dict[str, Any]
) -> uuid.UUID | None:
    """Accept a run of the workflow's current version from its Chat trigger (else its
    trigger roots), in the caller's transaction; None if it has no version."""
    version_id = workflows.current_version_id(connection, org_id, workflow_id)
    if version_id is None:
        return None
    trigger = _chat_trigger(connection, version_id)
    return executions.insert_pending(
        connection,
        org_id=org_id,
        workflow_id=workflow_id,
        version_id=version_id,
        trigger_type=TriggerType.event,
        input_items=[item],
        options={"start": trigger} if trigger else {},
    )


# ----------------------------------------------------------------------------- commands

ARG_TYPES: Final = ("string", "text", "int", "number", "bool")
_ARG = re.compile(r"^\[(\w+)(?::(\w+))?\]$")


@dataclass(frozen=True, slots=True)
class CommandSpec:
    words: tuple[str, ...]
    args: tuple[tuple[str, str], ...]  # (name, type)


def parse_command(declaration: str) -> CommandSpec:
    """`todo add [string]` or `remind [int:minutes] [text:what]`: words, then typed arguments
    (`[type]` or `[type:name]`; `text` takes the rest of the message and comes last)."""
    words: list[str] = []
    args: list[tuple[str, str]] = []
    for part in declaration.split():
        found = _ARG.match(part)
        if found is None:
            if args:
                raise ValueError(f"{declaration!r}: words come before the arguments")
            words.append(part.lower())
            continue
        kind, name = found.group(1).lower(), found.group(2) or f"arg{len(args) + 1}"
        if kind not in ARG_TYPES:
            raise ValueError(
                f"{declaration!r}: unknown argument type {kind!r}; use one of {', '.join(ARG_TYPES)}"
            )
        if args and args[-1][1] == "text":
            raise ValueError(f"{declaration!r}: a [text] argument takes the rest and must come last")
        if any(name == n for n, _ in args):
            raise ValueError(f"{declaration!r}: argument name {name!r} is used twice")
        args.append((name, kind))
    if not words:
        raise ValueError(f"{declaration!r}: a command starts with at least one word")
    return CommandSpec(tuple(words), tuple(args))


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def match_command(spec: CommandSpec, text: str) -> dict[str, Any] | None:
    """The parsed arguments if `text` is this command (a leading '/' is allowed), else None."""
    parts = text.strip().lstrip("/").split()
    if len(parts) < len(spec.words) or [p.lower() for p in parts[: len(spec.words)]] != list(spec.words):
        return None
    rest = parts[len(spec.words) :]
    values: dict[str, Any] = {}
    for index, (name, kind) in enumerate(spec.args):
        if kind == "text":
            if index >= len(rest):
                return None
            values[name] = " ".join(rest[index:])
            return values
        if index >= len(rest):
            return None
        raw = rest[index]
        try:
            if kind == "int":
                values[name] = int(raw)
            elif kind == "number":
                values[name] = float(raw)
            elif kind == "bool":
                if raw.lower() not in _TRUE | _FALSE:
                    return None
                values[name] = raw.lower() in _TRUE
            else:
                values[name] = raw
        except ValueError:
            return None
    if len(rest) != len(spec.args):
        return None
    return values


def _find_command(
    connection: Connection, bot_id: uuid.UUID, text: str
) -> tuple[str, uuid.UUID, dict[str, Any]] | None:
    cached = _HAS_COMMANDS.get(bot_id)
    if cached is None or time.monotonic() - cached[0] > 2.0:  # edits elsewhere show within 2 s
        rows = [(r.command, r.workflow_id) for r in connection.execute(_COMMANDS_OF, {"bot_id": bot_id})]
        cached = _HAS_COMMANDS[bot_id] = (time.monotonic(), rows)
    # Longest declarations first: `todo add [text]` before `todo [text]`.
    for declaration, workflow_id in sorted(cached[1], key=lambda c: -len(c[0].split())):
        try:
            spec = parse_command(declaration)
        except ValueError:
            continue
        args = match_command(spec, text)
        if args is not None:
            return " ".join(spec.words), workflow_id, args
    return None


# ----------------------------------------------------------------------------- receive


async def _write_again(db: Database, job: Callable[[Connection], Any]) -> Any:
    """`executions.write` (which already runs a job again after a deadlock), run once more when
    a unique row (platform user, chat, open conversation, reply key, message id) was stored a
    moment ago by someone else: the second run finds it."""
    try:
        return await executions.write(db, job)
    except IntegrityError:
        return await executions.write(db, job)


def _upsert(connection: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any]) -> uuid.UUID:
    """Find a row by `keys`, updating `values` that changed, or insert it; its id."""
    where = and_(*(table.c[k] == v for k, v in keys.items()))
    row = connection.execute(select(table.c.id, *(table.c[k] for k in values)).where(where)).first()
    now = utcnow()
    if row is None:
        new_id = uuid7()
        connection.execute(insert(table).values(id=new_id, created_at=now, updated_at=now, **keys, **values))
        return new_id
    changed = {k: v for k, v in values.items() if v is not None and getattr(row, k) != v}
    if changed:
        connection.execute(update(table).where(table.c.id == row.id).values(updated_at=now, **changed))
    return cast(uuid.UUID, row.id)


def _receive_job(
    *,
    platform_bot: PlatformBot | None,
    bot_id: uuid.UUID,
    org_id: uuid.UUID,
    inbound: InboundMessage,
    user_id: uuid.UUID | None,
    visitor_id: str | None,
) -> Callable[[Connection], Received | Refused]:
    def job(connection: Connection) -> Received | Refused:
        now = utcnow()
        bot = connection.execute(_BOT, {"bot_id": bot_id, "org_id": org_id}).first()
        if bot is None:
            return Refused("This bot does not exist.", 404)
        if not bot.is_active:
            return Refused("This bot is not active.", 409)
        limits = bot_settings(bot.settings)
        text = inbound.text
        if not text.strip():
            return Refused("The message is empty.", 400)
        if len(text) > limits.max_message_length:
            return Refused(
                f"The message is {len(text)} characters long; this bot takes at most "
                f"{limits.max_message_length}.",
                413,
            )
        if inbound.platform_message_id:
            found = connection.execute(
                _DUPLICATE,
                {"bot_id": bot_id, "channel": inbound.channel, "pmid": inbound.platform_message_id},
            ).first()
            if found is not None:
                return Received(duplicate=True, message_id=found.id, session_id=found.session_id)
        key = chat_key(
            inbound.channel, platform_bot.id if platform_bot else None, inbound.chat_id, inbound.user_id
        )
        session = connection.execute(_OPEN_SESSION, {"bot_id": bot_id, "chat_key": key}).first()
        if session is not None and session.expires_at is not None and session.expires_at < now:
            connection.execute(_CLOSE_SESSION, {"session_id": session.id, "now": now})
            session = None
        # Fewer messages in the conversation than the limit: no need to count the recent ones.
        if session is not None and session.message_count >= limits.flood_max_messages:
            recent = connection.execute(
                _RECENT_FROM_USER,
                {
                    "session_id": session.id,
                    "since_id": _uuid7_floor(now - timedelta(seconds=limits.flood_window_s)),
                },
            ).scalar_one()
            if recent >= limits.flood_max_messages:
                return Refused(
                    f"Too many messages: at most {limits.flood_max_messages} in "
                    f"{limits.flood_window_s} s. Wait a moment.",
                    429,
                    retry_after=min(limits.flood_window_s, 60),
                )

        # Nothing was written so far: every refusal above leaves no trace.
        platform_user_id = platform_channel_id = None
        if platform_bot is not None:
            platform_user_id = _upsert(
                connection,
                _PUSERS,
                {"platform_bot_id": platform_bot.id, "platform_user_id": inbound.user_id},
                {"org_id": org_id, "name": inbound.user_name},
            )
            kind = inbound.chat_kind if inbound.chat_kind in ChatKind.__members__ else ChatKind.direct.value
            platform_channel_id = _upsert(
                connection,
                _PCHANNELS,
                {"platform_bot_id": platform_bot.id, "platform_chat_id": inbound.chat_id},
                {"org_id": org_id, "name": inbound.chat_name, "kind": kind},
            )
            _upsert(
                connection,
                _PMEMBERS,
                {"platform_channel_id": platform_channel_id, "platform_user_id": platform_user_id},
                {"org_id": org_id},
            )
            connection.execute(
                update(_PBOTS).where(_PBOTS.c.id == platform_bot.id).values(last_inbound_at=now)
            )
        received = Received()
        started: list[uuid.UUID] = []
        expires_at = now + timedelta(minutes=limits.session_idle_minutes)
        if session is None:
            session_id = uuid7()
            connection.execute(
                insert(_SESSIONS).values(
                    id=session_id,
                    org_id=org_id,
                    bot_id=bot_id,
                    user_id=user_id,
                    visitor_id=visitor_id,
                    platform_user_id=platform_user_id,
                    platform_channel_id=platform_channel_id,
                    channel=inbound.channel,
                    chat_key=key,
                    open_chat_key=key,
                    title=text.strip().splitlines()[0][:200],
                    context={},
                    message_count=0,
                    tokens=0,
                    last_activity_at=now,
                    expires_at=expires_at,
                    created_at=now,
                    updated_at=now,
                )
            )
            received.session_started = True
            session = connection.execute(select(_SESSIONS).where(_SESSIONS.c.id == session_id)).one()
            started += events.emit(
                connection,
                org_id,
                event_names.SESSION_STARTED,
                {
                    "bot_id": str(bot_id),
                    "session_id": str(session_id),
                    "channel": inbound.channel,
                    "chat_id": inbound.chat_id,
                    "user_id": inbound.user_id,
                    "user_name": inbound.user_name,
                },
            )
        # The session row first: inserting a message takes a shared lock on it (its foreign key),
        # and taking the exclusive one after that deadlocks with a concurrent reply on MySQL.
        welcome = received.session_started and bool(bot.welcome_message)
        connection.execute(
            _TOUCH_SESSION,
            {"session_id": session.id, "added": 2 if welcome else 1, "now": now, "expires_at": expires_at},
        )
        message_id = uuid7()
        connection.execute(
            _INSERT_MESSAGE,
            {
                "id": message_id,
                "org_id": org_id,
                "session_id": session.id,
                "bot_id": bot_id,
                "role": MessageRole.user,
                "sender": (inbound.user_name or inbound.user_id)[:200],
                "content": text,
                "channel": inbound.channel,
                "platform_message_id": inbound.platform_message_id,
                "delivery": Delivery.received,
                "attempts": 0,
                "tokens": 0,
                "created_at": now,
            },
        )
        if welcome:
            _insert_reply(
                connection,
                session,
                text=bot.welcome_message,
                key=f"welcome:{session.id}",
                sender=bot.name,
                now=now,
                latency_ms=None,
            )
        item: dict[str, Any] = {
            "text": text,
            "message_id": str(message_id),
            "session_id": str(session.id),
            "bot_id": str(bot_id),
            "channel": inbound.channel,
            "chat_id": inbound.chat_id,
            "user": {"id": inbound.user_id, "name": inbound.user_name, "key": memory_owner(session)},
        }
        started += events.emit(connection, org_id, event_names.MESSAGE_RECEIVED, item)
        received.message_id, received.session_id = message_id, session.id

        if session.taken_over_by is not None:
            pass  # an operator answers by hand: the dialog pauses
        elif (command := _find_command(connection, bot_id, text)) is not None:
            name, workflow_id, args = command
            execution_id = _start_workflow(
                connection, org_id, workflow_id, {**item, "command": name, "args": args}
            )
            received.routed_to = "command"
            if execution_id is not None:
                started.append(execution_id)
        elif session.waiting_execution_id is not None and session.waiting_node_id is not None:
            context = dict(session.context or {})
            answers = dict(context.get("$answers") or {})
            answers[f"{session.waiting_execution_id}:{session.waiting_node_id}"] = {
                "text": text,
                "message_id": str(message_id),
                "at": now.isoformat(),
            }
            context["$answers"] = dict(list(answers.items())[-MAX_ANSWERS:])
            taken = connection.execute(
                _TAKE_ANSWER,
                {
                    "session_id": session.id,
                    "execution_id": session.waiting_execution_id,
                    "node_id": session.waiting_node_id,
                    "context": context,
                },
            ).rowcount
            if taken == 1:
                received.routed_to = "answer"
                # Still running (the question is out, its wait not yet recorded)? The delivery
                # pass wakes it once it waits (`_wake_answered`).
                if executions.wake(connection, session.waiting_execution_id):
                    connection.execute(_WOKEN, {"session_id": session.id})
                    started.append(session.waiting_execution_id)
        elif bot.dialog_kind == "workflow" and bot.dialog_workflow_id is not None:
            execution_id = _start_workflow(connection, org_id, bot.dialog_workflow_id, item)
            if execution_id is not None:
                received.routed_to = "dialog"
                started.append(execution_id)
        received.executions = started
        return received

    return job


async def receive(
    db: Database,
    *,
    platform_bot: PlatformBot | None,
    bot_id: uuid.UUID,
    org_id: uuid.UUID,
    inbound: InboundMessage,
    submit: Callable[[uuid.UUID], Any] | None = None,
    user_id: uuid.UUID | None = None,
    visitor_id: str | None = None,
) -> Received:
    """Store, emit and route one inbound message in one committed transaction (see the module
    doc). `user_id` is the Wirework user of a REST or test-chat message, `visitor_id` the web
    chat's anonymous visitor. Raises `Refused` when the message is not taken (nothing stored)."""
    try:
        inbound = checked_inbound(inbound)
    except Refused as refused:
        log.info("message_refused", bot_id=str(bot_id), channel=inbound.channel, reason=refused.reason)
        raise
    job = _receive_job(
        platform_bot=platform_bot,
        bot_id=bot_id,
        org_id=org_id,
        inbound=inbound,
        user_id=user_id,
        visitor_id=visitor_id,
    )
    result: Received | Refused = await _write_again(db, job)
    if isinstance(result, Refused):
        log.info("message_refused", bot_id=str(bot_id), channel=inbound.channel, reason=result.reason)
        raise result
    if not result.duplicate and result.session_id is not None:
        _publish(result.session_id, {"type": "stored", "message_id": str(result.message_id)})
    _hand_over(result.executions, submit)
    if result.session_started:
        _delivery_kick.set()  # a welcome message may wait for a platform
    return result


# ----------------------------------------------------------------------------- replies


def _insert_reply(
    connection: Connection,
    session: Any,
    *,
    text: str,
    key: str | None,
    sender: str | None,
    now: datetime,
    latency_ms: int | None,
    role: MessageRole = MessageRole.assistant,
) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """Insert an outbound message (sent at once on web/REST, pending elsewhere); the row and
    the executions its `message.sent` started."""
    local = session.channel in LOCAL_CHANNELS
    row = {
        "id": uuid7(),
        "org_id": session.org_id,
        "session_id": session.id,
        "bot_id": session.bot_id,
        "role": role,
        "sender": (sender or "")[:200] or None,
        "content": text,
        "channel": session.channel,
        "platform_message_id": None,
        "reply_key": key,
        "delivery": Delivery.sent if local else Delivery.pending,
        "attempts": 0,
        "next_attempt_at": None,
        "error": None,
        "tokens": 0,
        "latency_ms": latency_ms,
        "model": None,
        "created_at": now,
    }
    connection.execute(_INSERT_MESSAGE, row)
    started: list[uuid.UUID] = []
    if local:
        started = _emit_sent(connection, session.org_id, row)
    return row, started


def _emit_sent(connection: Connection, org_id: uuid.UUID, row: dict[str, Any] | Any) -> list[uuid.UUID]:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return events.emit(
        connection,
        org_id,
        event_names.MESSAGE_SENT,
        {
            "bot_id": str(get("bot_id")),
            "session_id": str(get("session_id")),
            "message_id": str(get("id")),
            "channel": get("channel"),
            "text": get("content"),
        },
    )


@dataclass(slots=True)
class Reply:
    message: dict[str, Any]
    duplicate: bool
    """This reply key was stored before (a resumed execution): nothing new was stored or sent."""


async def reply(
    db: Database,
    *,
    org_id: uuid.UUID,
    session_id: uuid.UUID,
    text: str,
    reply_key: str | None,
    sender: str | None = None,
    vault: Vault | None = None,
    ask: tuple[uuid.UUID, str] | None = None,
) -> Reply:
    """Send `text` to the conversation as the bot: stored once per `reply_key`, then delivered
    (at once; pending platform sends are retried by the delivery pass). With `ask` (execution,
    node), the session then waits for its next message to answer that `chat.ask`."""
    if not text:
        raise ValidationFailed("A reply needs some text.")
    check_text(text, where="reply")

    def job(connection: Connection) -> tuple[Reply, list[uuid.UUID]] | None:
        session = connection.execute(_SESSION_FOR_REPLY, {"session_id": session_id, "org_id": org_id}).first()
        if session is None:
            return None
        if reply_key is not None:
            existing = connection.execute(_REPLY_OF, {"bot_id": session.bot_id, "key": reply_key}).first()
            if existing is not None:
                return Reply(message_dict(existing), True), []
        now = utcnow()
        last = connection.execute(_LAST_FROM_USER, {"session_id": session_id}).scalar_one_or_none()
        latency = int((now - last).total_seconds() * 1000) if last is not None else None
        bot_name = session.bot_name
        connection.execute(
            _COUNT_MESSAGE, {"session_id": session_id, "now": now}
        )  # the row first (see receive)
        row, started = _insert_reply(
            connection,
            session,
            text=text,
            key=reply_key,
            sender=sender or bot_name,
            now=now,
            latency_ms=latency,
        )
        if ask is not None:
            context = dict(session.context or {})
            answers = dict(context.get("$answers") or {})
            answers.pop(f"{ask[0]}:{ask[1]}", None)  # a loop asking again waits for a new answer
            context["$answers"] = answers
            connection.execute(
                _SET_WAITING,
                {"session_id": session_id, "execution_id": ask[0], "node_id": ask[1], "context": context},
            )
        return Reply(message_dict(_Row(row)), False), started

    done: tuple[Reply, list[uuid.UUID]] | None = await _write_again(db, job)
    if done is None:
        raise NotFound(f"Session {session_id} not found")
    result, started = done
    _hand_over(started, None)
    if not result.duplicate:
        _publish(session_id, {"type": "message", "message": result.message})
        if result.message["delivery"] == Delivery.pending.value:
            if vault is not None:
                await deliver(db, vault, uuid.UUID(result.message["id"]))
            else:
                _delivery_kick.set()
    return result


class _Row:
    """A dict as an attribute row, for `message_dict`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


async def answer_for(
    db: Database, *, org_id: uuid.UUID, session_id: uuid.UUID, execution_id: uuid.UUID, node_id: str
) -> dict[str, Any] | None:
    """The message that answered `chat.ask` node `node_id` of `execution_id`, or None."""
    context = await executions.read(
        db, lambda c: c.execute(_CONTEXT, {"session_id": session_id, "org_id": org_id}).scalar_one_or_none()
    )
    found: dict[str, Any] | None = ((context or {}).get("$answers") or {}).get(f"{execution_id}:{node_id}")
    return found


def _wake_answered(connection: Connection) -> list[uuid.UUID]:
    """Answers that came while their execution was still running (its wait not yet recorded):
    wake the execution now that it waits; forget executions that are gone or finished."""
    woken: list[uuid.UUID] = []
    for row in connection.execute(_ANSWERED_UNWOKEN).all():
        if executions.wake(connection, row.waiting_execution_id):
            woken.append(row.waiting_execution_id)
            connection.execute(_WOKEN, {"session_id": row.id})
            continue
        status = executions.statuses_of(connection, [row.waiting_execution_id]).get(row.waiting_execution_id)
        if status is None or status.finished:
            connection.execute(_WOKEN, {"session_id": row.id})
    return woken


# ----------------------------------------------------------------------------- delivery

_CLAIM_SEND = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        _MESSAGES.c.delivery == Delivery.pending,
        or_(_MESSAGES.c.next_attempt_at.is_(None), _MESSAGES.c.next_attempt_at <= bindparam("now")),
    )
    .values(next_attempt_at=bindparam("until"), attempts=_MESSAGES.c.attempts + 1)
)
_DUE = (
    select(_MESSAGES.c.id)
    .where(
        _MESSAGES.c.delivery == Delivery.pending,
        or_(_MESSAGES.c.next_attempt_at.is_(None), _MESSAGES.c.next_attempt_at <= bindparam("now")),
    )
    .order_by(_MESSAGES.c.next_attempt_at)
    .limit(50)
)


@dataclass(slots=True)
class _Outbound:
    row: Any
    chat_id: str | None
    connection: PlatformBot | None
    credential: Credential | None


def _load_outbound(connection: Connection, message_id: uuid.UUID) -> _Outbound:
    row = connection.execute(select(_MESSAGES).where(_MESSAGES.c.id == message_id)).one()
    found = connection.execute(
        select(_PCHANNELS.c.platform_chat_id, _PCHANNELS.c.platform_bot_id)
        .select_from(_SESSIONS.join(_PCHANNELS, _PCHANNELS.c.id == _SESSIONS.c.platform_channel_id))
        .where(_SESSIONS.c.id == row.session_id)
    ).first()
    platform_bot = credential = None
    if found is not None:
        values = connection.execute(select(_PBOTS).where(_PBOTS.c.id == found.platform_bot_id)).first()
        if values is not None:
            platform_bot = PlatformBot(**values._mapping)
            if platform_bot.credential_id is not None:
                cred = connection.execute(
                    select(cast(Table, Credential.__table__)).where(
                        Credential.id == platform_bot.credential_id
                    )
                ).first()
                credential = Credential(**cred._mapping) if cred is not None else None
    return _Outbound(row, found.platform_chat_id if found else None, platform_bot, credential)


def _backoff(attempts: int, at_least: float) -> float:
    base = BACKOFF_S[min(attempts - 1, len(BACKOFF_S) - 1)]
    return max(at_least, base * (0.8 + 0.4 * random.random()))  # noqa: S311 - jitter, not a secret


async def deliver(db: Database, vault: Vault, message_id: uuid.UUID) -> str:
    """Try to send one pending reply now, if no other process is sending it: 'sent', 'pending'
    (tried again later) or 'failed'; 'busy' if it was not ours to send."""
    now = utcnow()
    claimed = await executions.write(
        db,
        lambda c: (
            c.execute(
                _CLAIM_SEND, {"message_id": message_id, "now": now, "until": now + timedelta(seconds=CLAIM_S)}
            ).rowcount
        ),
    )
    if claimed != 1:
        return "busy"
    out = await executions.read(db, lambda c: _load_outbound(c, message_id))
    row = out.row
    send = sender_for(row.channel)
    outcome: dict[str, Any]
    if send is None:
        outcome = {"delivery": Delivery.failed, "error": f"No adapter sends on channel {row.channel!r}."}
    elif out.chat_id is None:
        outcome = {"delivery": Delivery.failed, "error": "The conversation has no platform chat to send to."}
    else:
        try:
            secrets = workflows.open_credential(vault, out.credential) if out.credential is not None else {}
            platform_id = await send(out.connection, secrets, out.chat_id, row.content)
            outcome = {"delivery": Delivery.sent, "error": None, "platform_message_id": platform_id}
        except SendFailed as exc:
            outcome = {"delivery": Delivery.failed, "error": exc.reason[:2000]}
        except SendLater as exc:
            outcome = _later(row.attempts, exc.after_s, exc.reason)
        except Exception as exc:  # an adapter's bug or a network error: retried, logged once per error
            log.warning("send_failed", message_id=str(message_id), error=f"{type(exc).__name__}: {exc}")
            outcome = _later(row.attempts, 0.0, f"{type(exc).__name__}: {exc}")
    final = outcome["delivery"]
    values = {**outcome, "next_attempt_at": outcome.get("next_attempt_at")}

    def record(connection: Connection) -> list[uuid.UUID]:
        connection.execute(update(_MESSAGES).where(_MESSAGES.c.id == message_id).values(**values))
        if out.connection is not None and final != Delivery.sent:
            connection.execute(
                update(_PBOTS).where(_PBOTS.c.id == out.connection.id).values(last_error=values["error"])
            )
        if final == Delivery.sent:
            return _emit_sent(connection, row.org_id, row)
        return []

    _hand_over(await executions.write(db, record), None)
    if final == Delivery.failed:
        log.warning("reply_not_delivered", message_id=str(message_id), error=values["error"])
    return str(final.value if isinstance(final, Delivery) else final)


def _later(attempts: int, after_s: float, reason: str) -> dict[str, Any]:
    if attempts >= MAX_ATTEMPTS:
        return {"delivery": Delivery.failed, "error": f"Gave up after {attempts} attempts: {reason}"[:2000]}
    return {
        "delivery": Delivery.pending,
        "error": reason[:2000],
        "next_attempt_at": utcnow() + timedelta(seconds=_backoff(attempts, after_s)),
    }


async def deliver_due(db: Database, vault: Vault) -> int:
    """One round of the delivery pass: send the replies that are due; wake answered asks."""
    woken = await executions.write(db, _wake_answered)
    _hand_over(woken, None)
    ids = await executions.read(db, lambda c: list(c.execute(_DUE, {"now": utcnow()}).scalars()))
    if ids:
        await asyncio.gather(*(deliver(db, vault, i) for i in ids))
    return len(ids)


# ----------------------------------------------------------------------------- retention

RETENTION_JOB: Final = "bots.retention"
RETENTION_BATCH: Final = 500


JOB_LEASE: Final = timedelta(minutes=10)
"""A retention pass holds the job this long (not renewed); a process that dies frees it then."""


async def retention_pass(db: Database, now: datetime | None = None) -> dict[str, int]:
    """Close expired conversations; delete each bot's messages and conversations older than its
    `retention_days`. In batches of one short transaction each, through indexes."""
    now = now or utcnow()
    report = {"sessions_closed": 0, "messages_deleted": 0, "sessions_deleted": 0}

    def close_expired(connection: Connection) -> int:
        ids = list(
            connection.execute(
                select(_SESSIONS.c.id)
                .where(_SESSIONS.c.expires_at < now, _SESSIONS.c.closed_at.is_(None))
                .limit(RETENTION_BATCH)
            ).scalars()
        )
        if ids:
            connection.execute(
                update(_SESSIONS).where(_SESSIONS.c.id.in_(ids)).values(closed_at=now, open_chat_key=None)
            )
        return len(ids)

    while (closed := await executions.write(db, close_expired)) > 0:
        report["sessions_closed"] += closed
        await asyncio.sleep(0)
    bots = await executions.read(
        db, lambda c: c.execute(select(_BOTS.c.id, _BOTS.c.org_id, _BOTS.c.settings)).all()
    )
    for bot in bots:
        days = bot_settings(bot.settings).retention_days
        if not days:
            continue
        cutoff = now - timedelta(days=days)

        def old_messages(
            connection: Connection, bot_id: uuid.UUID = bot.id, cutoff: datetime = cutoff
        ) -> int:
            ids = list(
                connection.execute(
                    select(_MESSAGES.c.id)
                    .where(_MESSAGES.c.bot_id == bot_id, _MESSAGES.c.created_at < cutoff)
                    .limit(RETENTION_BATCH)
                ).scalars()
            )
            if ids:
                connection.execute(delete(_MESSAGES).where(_MESSAGES.c.id.in_(ids)))
            return len(ids)

        def old_sessions(connection: Connection, bot: Any = bot, cutoff: datetime = cutoff) -> int:
            ids = list(
                connection.execute(
                    select(_SESSIONS.c.id)
                    .where(
                        _SESSIONS.c.org_id == bot.org_id,
                        _SESSIONS.c.bot_id == bot.id,
                        _SESSIONS.c.last_activity_at < cutoff,
                    )
                    .limit(RETENTION_BATCH)
                ).scalars()
            )
            if ids:
                connection.execute(delete(_MESSAGES).where(_MESSAGES.c.session_id.in_(ids)))
                connection.execute(delete(_SESSIONS).where(_SESSIONS.c.id.in_(ids)))
            return len(ids)

        while (deleted := await executions.write(db, old_messages)) > 0:
            report["messages_deleted"] += deleted
            await asyncio.sleep(0)
        while (deleted := await executions.write(db, old_sessions)) > 0:
            report["sessions_deleted"] += deleted
            await asyncio.sleep(0)
    return report


class BotJobs:
    """The background work of bots in one process: the delivery pass (every `delivery_s`, or at
    once when a reply is pending) and the retention pass (one process of the cluster at a time,
    through a leased `background_jobs` row, every `retention_s`). State lives in rows; nothing is
    lost when a process stops."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        owner: str,
        submit: Callable[[uuid.UUID], Any] | None,
        delivery_s: float = 1.0,
        retention_s: float = 3600.0,
    ) -> None:
        self.db, self.vault, self.owner, self.submit = db, vault, owner, submit
        self.delivery_s, self.retention_s = delivery_s, retention_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        use_executor(self.submit)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if _submit is self.submit:
            use_executor(None)

    async def _loop(self) -> None:
        next_retention = 0.0
        while True:
            try:
                await deliver_due(self.db, self.vault)
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + min(self.retention_s, 300.0)
                    if await jobs.claim(self.db, RETENTION_JOB, self.owner, JOB_LEASE) is not None:
                        report = await retention_pass(self.db)
                        due = utcnow() + timedelta(seconds=self.retention_s)
                        await jobs.release(self.db, RETENTION_JOB, self.owner, due, dict(report))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away a moment: the next round tries again
                log.warning("bot_jobs_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.delivery_s):
                    await _delivery_kick.wait()
            _delivery_kick.clear()


# ----------------------------------------------------------------------------- bots (API)


def check_dialog_kind(kind: str) -> None:
    if kind not in DIALOG_KINDS:
        raise ValidationFailed(
            f"dialog_kind {kind!r} does not exist; choose one of: {', '.join(DIALOG_KINDS)}",
            errors=[
                {
                    "loc": ["body", "dialog_kind"],
                    "msg": f"one of {', '.join(DIALOG_KINDS)}",
                    "type": "value_error",
                }
            ],
        )


async def check_workflow(
    session: AsyncSession, org_id: uuid.UUID, workflow_id: uuid.UUID | None, field: str
) -> None:
    """A workflow a bot points at must be of its organization (else 422, never a hint)."""
    if workflow_id is None:
        return
    try:
        await get_scoped(session, Workflow, workflow_id, org_id)
    except NotFound:
        raise ValidationFailed(
            f"Workflow {workflow_id} not found in this organization.",
            errors=[
                {
                    "loc": ["body", field],
                    "msg": "no such workflow in this organization",
                    "type": "value_error",
                }
            ],
        ) from None


async def check_llm(session: AsyncSession, org_id: uuid.UUID, model_id: uuid.UUID | None) -> None:
    """A bot's model must be an LLM of its organization (else 422, never a hint)."""
    if model_id is None:
        return
    try:
        model = await ai_service.find_model(session, org_id, model_id)
    except NotFound:
        model = None
    if model is None or model.type != ModelType.llm:
        raise ValidationFailed(
            f"AI model {model_id} is not an LLM of this organization.",
            errors=[
                {
                    "loc": ["body", "ai_model_id"],
                    "msg": "no such LLM in this organization",
                    "type": "value_error",
                }
            ],
        )


async def replace_commands(session: AsyncSession, bot: Bot, commands: list[Any]) -> None:
    """Set the bot's chat commands (validated declarations, workflows of its organization)."""
    seen: set[str] = set()
    for index, command in enumerate(commands):
        try:
            spec = parse_command(command.command)
        except ValueError as exc:
            raise ValidationFailed(
                str(exc),
                errors=[
                    {"loc": ["body", "commands", index, "command"], "msg": str(exc), "type": "value_error"}
                ],
            ) from None
        words = " ".join(spec.words) + " " + " ".join(t for _, t in spec.args)
        if words in seen:
            raise ValidationFailed(f"Command {command.command!r} is declared twice.")
        seen.add(words)
        await check_workflow(session, bot.org_id, command.workflow_id, f"commands.{index}.workflow_id")
    await session.execute(delete(BotCommand).where(BotCommand.bot_id == bot.id))
    for command in commands:
        session.add(
            BotCommand(
                org_id=bot.org_id,
                bot_id=bot.id,
                command=" ".join(command.command.split()),
                description=command.description,
                workflow_id=command.workflow_id,
            )
        )
    _HAS_COMMANDS.pop(bot.id, None)
    await session.flush()


async def commands_of(session: AsyncSession, bot: Bot) -> list[BotCommand]:
    rows = await session.execute(
        scoped(BotCommand, bot.org_id).where(BotCommand.bot_id == bot.id).order_by(BotCommand.command)
    )
    return list(rows.scalars())


def new_public_id() -> str:
    import secrets

    return secrets.token_urlsafe(16)[:22]


# ----------------------------------------------------------------------------- config.csv


_FORMULA = re.compile(r"^'*[=+\-@\t\r#]")
"""A cell a spreadsheet would run as a formula (OWASP CSV injection), or read as a comment here;
with quotes before it, so that a value starting with a quote survives the round trip."""


def _csv_cell(value: str) -> str:
    """A config value as exported: a leading quote keeps a spreadsheet from running it."""
    return "'" + value if _FORMULA.match(value) else value


def _csv_value(cell: str) -> str:
    """A cell as imported: the quote `_csv_cell` added is taken off again."""
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell


def parse_config_csv(data: bytes) -> list[tuple[str, str]]:
    """`name,value` rows (a header row `name,value` is skipped; blank lines and `#` comments
    too). Malformed CSV, a row without a name or a name twice is a 422 naming the line; text no
    database stores (NUL) is a 400. A cell starting with a quote before = + - @ # (how the export
    writes those) loses that quote."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("config.csv must be UTF-8 text.") from None
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ValidationFailed(f"config.csv is not valid CSV: {exc}") from None
    for line, row in enumerate(rows, start=1):
        if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if line == 1 and [c.strip().lower() for c in row[:2]] == ["name", "value"]:
            continue
        if len(row) > 2:
            raise ValidationFailed(f"config.csv line {line}: expected name,value; quote values with commas.")
        check_text(row, where=f"config.csv line {line}")
        name, value = _csv_value(row[0].strip()), _csv_value(row[1] if len(row) > 1 else "")
        if not name or len(name) > 200:
            raise ValidationFailed(f"config.csv line {line}: a name of 1 to 200 characters is needed.")
        if name in seen:
            raise ValidationFailed(f"config.csv line {line}: {name!r} appears twice.")
        if len(value) > 100_000:
            raise ValidationFailed(f"config.csv line {line}: the value is longer than 100,000 characters.")
        seen.add(name)
        entries.append((name, value))
    if len(entries) > 5000:
        raise ValidationFailed("config.csv holds more than 5,000 settings.")
    return entries


def config_csv(entries: list[BotConfiguration]) -> str:
    """The settings as config.csv; cells a spreadsheet would run as formulas start with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; so a value with a CR is quoted too
    writer.writerow(["name", "value"])
    for entry in entries:
        writer.writerow([_csv_cell(entry.name), _csv_cell(entry.value)])
    return out.getvalue()


async def import_config(
    session: AsyncSession, bot: Bot, entries: list[tuple[str, str]], *, replace: bool
) -> None:
    """Set these settings (and with `replace`, delete the others)."""
    check_text(entries, where="configuration")
    existing = {
        c.name: c
        for c in (
            await session.execute(
                scoped(BotConfiguration, bot.org_id).where(BotConfiguration.bot_id == bot.id)
            )
        ).scalars()
    }
    names = {name for name, _ in entries}
    if replace:
        for name, row in existing.items():
            if name not in names:
                await session.delete(row)
    for name, value in entries:
        if name in existing:
            existing[name].value = value
        else:
            session.add(BotConfiguration(org_id=bot.org_id, bot_id=bot.id, name=name, value=value))
    await session.flush()


# ----------------------------------------------------------------------------- memories


def _memory_get(connection: Connection, org_id: uuid.UUID, bot_id: uuid.UUID, user_key: str, key: str) -> Any:
    row = connection.execute(
        select(_MEMORIES.c.value).where(
            _MEMORIES.c.org_id == org_id,
            _MEMORIES.c.bot_id == bot_id,
            _MEMORIES.c.user_key == user_key,
            _MEMORIES.c.key == key,
        )
    ).first()
    return None if row is None else row.value


def _memory_set(
    connection: Connection, org_id: uuid.UUID, bot_id: uuid.UUID, user_key: str, key: str, value: Any
) -> None:
    if (
        connection.execute(select(_BOTS.c.id).where(_BOTS.c.id == bot_id, _BOTS.c.org_id == org_id)).first()
        is None
    ):
        raise NotFound(f"Bot {bot_id} not found")
    now = utcnow()
    where = and_(_MEMORIES.c.bot_id == bot_id, _MEMORIES.c.user_key == user_key, _MEMORIES.c.key == key)
    if value is None:
        connection.execute(delete(_MEMORIES).where(where))
        return
    changed = connection.execute(update(_MEMORIES).where(where).values(value=value, updated_at=now)).rowcount
    if changed == 0:
        # Checked before the insert: two new keys set at the same moment may pass the bound by one.
        held = connection.execute(
            select(func.count()).where(_MEMORIES.c.bot_id == bot_id, _MEMORIES.c.user_key == user_key)
        ).scalar_one()
        if held >= MEMORY_MAX_KEYS:
            whose = "The bot's own memory" if not user_key else f"The memory of {user_key}"
            raise ValidationFailed(
                f"{whose} holds {MEMORY_MAX_KEYS:,} keys, the most one owner may have; forget some "
                "(set them to null) first."
            )
        connection.execute(
            insert(_MEMORIES).values(
                id=uuid7(),
                org_id=org_id,
                bot_id=bot_id,
                user_key=user_key,
                key=key,
                value=value,
                created_at=now,
                updated_at=now,
            )
        )


def check_memory(key: str, value: Any) -> None:
    """Refuse a memory the tables would not hold, or that passes the bounds."""
    check_text([key, value], where="memory")
    if value is None:
        return
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"A memory value must be JSON: {exc}.") from None
    if size > MEMORY_MAX_BYTES:
        raise PayloadTooLarge(
            f"The memory value is {size:,} bytes as JSON; a memory holds at most {MEMORY_MAX_BYTES:,}."
        )


async def get_memory(db: Database, *, org_id: uuid.UUID, bot_id: uuid.UUID, user_key: str, key: str) -> Any:
    """A memory's value (None if unset). `user_key` '' is the bot's own memory."""
    return await executions.read(db, lambda c: _memory_get(c, org_id, bot_id, user_key, key))


async def set_memory(
    db: Database, *, org_id: uuid.UUID, bot_id: uuid.UUID, user_key: str, key: str, value: Any
) -> None:
    """Set a memory (None deletes it). `user_key` '' is the bot's own memory. A value is at most
    `MEMORY_MAX_BYTES` as JSON (PayloadTooLarge) and an owner holds at most `MEMORY_MAX_KEYS`
    keys (ValidationFailed); text no database stores is a BadRequest."""
    check_memory(key, value)
    try:
        await executions.write(db, lambda c: _memory_set(c, org_id, bot_id, user_key, key, value))
    except IntegrityError:  # set at the same moment elsewhere: this one wins
        await executions.write(db, lambda c: _memory_set(c, org_id, bot_id, user_key, key, value))


async def session_of(db: Database, org_id: uuid.UUID, session_id: uuid.UUID) -> Any:
    """A conversation's row (bot, person, channel) for nodes; NotFound outside the org."""
    row = await executions.read(
        db,
        lambda c: c.execute(
            select(_SESSIONS).where(_SESSIONS.c.id == session_id, _SESSIONS.c.org_id == org_id)
        ).first(),
    )
    if row is None:
        raise NotFound(f"Session {session_id} not found")
    return row


# ----------------------------------------------------------------------------- operators


async def recent_messages(
    db: Database, org_id: uuid.UUID, session_id: uuid.UUID, limit: int, before: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The conversation's last `limit` user and bot messages (before message `before`, if given),
    oldest first, as {role, content}: an AI agent's memory."""

    def last(connection: Connection) -> list[Any]:
        return list(
            connection.execute(
                select(_MESSAGES.c.role, _MESSAGES.c.content)
                .where(
                    _MESSAGES.c.session_id == session_id,
                    _MESSAGES.c.org_id == org_id,
                    _MESSAGES.c.role.in_([MessageRole.user, MessageRole.assistant]),
                    *([_MESSAGES.c.id < before] if before is not None else []),
                )
                .order_by(_MESSAGES.c.id.desc())
                .limit(max(0, limit))
            )
        )

    rows = await executions.read(db, last) if limit > 0 else []
    return [
        {"role": str(getattr(r.role, "value", r.role)), "content": r.content or ""} for r in reversed(rows)
    ]


async def take_over(session: AsyncSession, conversation: UserSession, user_id: uuid.UUID | None) -> None:
    """An operator answers by hand from now on (None: hands it back to the dialog)."""
    conversation.taken_over_by = user_id
    conversation.taken_over_at = utcnow() if user_id else None
    await session.flush()


async def stream_session(
    db: Database,
    org_id: uuid.UUID,
    session_id: uuid.UUID,
    after: uuid.UUID | None,
    poll_s: float = 1.0,
    partials: bool = False,
) -> AsyncGenerator[dict[str, Any]]:
    """The conversation's bot and operator messages after `after`, as they are stored: pushed
    at once from this process, and read from the transcript every `poll_s` (replies stored by
    another process). With `partials`, answers still being written here come too, as
    {"type": "partial", "partial": {"id", "text"}} (messages have no "type")."""
    cursor, seen = after, set[str]()

    def newer(connection: Connection) -> list[Any]:
        return list(
            connection.execute(
                select(_MESSAGES)
                .where(
                    _MESSAGES.c.session_id == session_id,
                    _MESSAGES.c.org_id == org_id,
                    _MESSAGES.c.role != MessageRole.user,
                    *([_MESSAGES.c.id > cursor] if cursor is not None else []),
                )
                .order_by(_MESSAGES.c.id)
                .limit(200)
            )
        )

    with listen(session_id) as queue:
        poll = True
        while True:
            if poll:
                for row in await executions.read(db, newer):
                    cursor = row.id
                    if str(row.id) not in seen:
                        seen.add(str(row.id))
                        yield message_dict(row)
                if len(seen) > 1000:
                    seen.clear()  # the cursor is past them
            try:
                async with asyncio.timeout(poll_s):
                    event = await queue.get()
                poll = False
            except TimeoutError:
                poll = True
                continue
            if partials and event.get("type") == "partial":
                yield event
                continue
            message = event.get("message")
            if event.get("type") == "message" and message and message["id"] not in seen:
                seen.add(message["id"])
                yield message
