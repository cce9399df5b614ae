"""Chat nodes (`chat.*`, `bot.*`): a bot's dialog as a workflow.

`chat.trigger` starts the dialog with the message; `chat.reply` answers in the conversation;
`chat.ask` asks and waits (the execution is `waiting`, across restarts) for the next message;
`bot.memory_get`/`bot.memory_set` keep values per bot or per person. They reach bots through
`bots.service` only. The conversation is the item's `session_id` unless a node names one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any, Literal

from pydantic import Field

from wirework.bots import service
from wirework.engine.errors import NodeError, WaitRequested
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import STATE_OUTPUT, Node, NodeContext, NodeParameters
from wirework.errors import WireworkError
from wirework.nodes.core.flow import TriggerNode

CATEGORY = "Chat"


class ChatTrigger(TriggerNode):
    type = "chat.trigger"
    display_name = "Chat trigger"
    description = (
        "Starts the bot's dialog with each message no command takes: text, session_id, bot_id, "
        "channel, chat_id and user (id, name, key)."
    )
    category = "Triggers"
    icon = "message-circle"


def _services(ctx: NodeContext) -> Any:
    services = ctx.services
    if services is None or not hasattr(services, "platform"):
        raise NodeError("chat nodes need the platform runtime (run the workflow through Wirework)")
    return services


def conversation_of(ctx: NodeContext, index: int, given: str | None = None) -> uuid.UUID | None:
    """The conversation a node acts on: its parameter, else the item's `session_id`, else the
    execution's input's; None without one."""
    candidates: list[Any] = [given]
    if 0 <= index < len(ctx.items):
        candidates.append(ctx.items[index].get("session_id"))
    execution = getattr(ctx.services, "execution", None)
    first = (getattr(execution, "input_items", None) or [{}])[0]
    candidates.append(first.get("session_id") if isinstance(first, dict) else None)
    for value in candidates:
        if value:
            try:
                return uuid.UUID(str(value))
            except ValueError:
                raise NodeError(f"session_id {value!r} is not a conversation id") from None
    return None


def _conversation(ctx: NodeContext, given: str | None, index: int) -> uuid.UUID:
    _services(ctx)
    found = conversation_of(ctx, index, given)
    if found is None:
        raise NodeError("no conversation: start with a Chat trigger, or set session_id")
    return found


def _pass(ctx: NodeContext) -> int:
    """How many times this node ran before in this execution (loops), for its reply keys."""
    return int((ctx.state or {}).get("pass", 0)) + 1


class ReplyParameters(NodeParameters):
    text: str = Field(description="What the bot says, e.g. You said: {{ json.text }}")
    session_id: str | None = Field(
        None, description="The conversation; empty: the item's (from the Chat trigger)."
    )


class ChatReply(Node):
    type = "chat.reply"
    display_name = "Chat reply"
    description = (
        "Sends a message to the conversation on its channel (web chat, REST, a platform). Sent once, "
        "even when the execution resumes after a crash; platform sends are retried with back-off."
    )
    category = CATEGORY
    icon = "send"
    Parameters = ReplyParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        services = _services(ctx)
        turn = _pass(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items or [{}]):
            with ctx.item_guard(index):
                params = ctx.params(ReplyParameters, index)
                session_id = _conversation(ctx, params.session_id, index)
                try:
                    sent = await service.reply(
                        services.platform.db,
                        org_id=services.org_id,
                        session_id=session_id,
                        text=str(params.text),
                        reply_key=f"{ctx.execution.get('id')}:{ctx.node.id}:{turn}:{index}",
                        vault=services.platform.vault,
                    )
                except WireworkError as exc:  # no text, text no database stores, a gone session
                    raise NodeError(exc.detail) from None
                out.append(
                    {
                        **item,
                        "reply": {"message_id": sent.message["id"], "delivery": sent.message["delivery"]},
                    }
                )
        return {"main": out, STATE_OUTPUT: [{"pass": turn}]}


class AskParameters(NodeParameters):
    question: str = Field(description="What the bot asks, e.g. What is your name?")
    timeout_minutes: float | None = Field(
        None, gt=0, le=525_600, description="Give up waiting after this long (answer null, timed_out true)."
    )
    session_id: str | None = Field(
        None, description="The conversation; empty: the item's (from the Chat trigger)."
    )


class ChatAsk(Node):
    type = "chat.ask"
    display_name = "Chat ask"
    description = (
        "Asks a question and waits for the person's next message (the execution waits, across "
        "restarts); outputs the item with `answer` (the text), `answer_message_id` and `timed_out`."
    )
    category = CATEGORY
    icon = "message-square"
    Parameters = AskParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        services = _services(ctx)
        item = ctx.items[0] if ctx.items else {}
        params = ctx.params(AskParameters, 0)
        session_id = _conversation(ctx, params.session_id, 0)
        execution_id = uuid.UUID(str(ctx.execution.get("id")))
        turn = _pass(ctx)
        db = services.platform.db
        if ctx.resume is not None:
            answer = await service.answer_for(
                db,
                org_id=services.org_id,
                session_id=session_id,
                execution_id=execution_id,
                node_id=ctx.node.id,
            )
            found = {
                **item,
                "session_id": str(session_id),
                "answer": answer["text"] if answer else None,
                "answer_message_id": answer["message_id"] if answer else None,
                "timed_out": answer is None,
            }
            return {"main": [found], STATE_OUTPUT: [{"pass": turn}]}
        await service.reply(
            db,
            org_id=services.org_id,
            session_id=session_id,
            text=str(params.question),
            reply_key=f"{execution_id}:{ctx.node.id}:{turn}:ask",
            vault=services.platform.vault,
            ask=(execution_id, ctx.node.id),
        )
        until = None
        if params.timeout_minutes:
            until = ctx.now.astimezone(UTC) + timedelta(minutes=params.timeout_minutes)
        raise WaitRequested(until)


class MemoryGetParameters(NodeParameters):
    key: str = Field(min_length=1, max_length=200, description="Memory name.")
    scope: Literal["bot", "user"] = Field(
        "user", description="bot: the bot's own memory; user: the memory of the person in the conversation."
    )
    field: str = Field("value", min_length=1, max_length=100, description="Where the value goes on the item.")
    session_id: str | None = Field(None, description="The conversation; empty: the item's.")


class MemorySetParameters(NodeParameters):
    key: str = Field(min_length=1, max_length=200, description="Memory name.")
    value: Any = Field(description="Any JSON value (an expression keeps its type); null forgets it.")
    scope: Literal["bot", "user"] = Field(
        "user", description="bot: the bot's own memory; user: the person's."
    )
    session_id: str | None = Field(None, description="The conversation; empty: the item's.")


async def _owner(ctx: NodeContext, scope: str, given: str | None, index: int) -> tuple[uuid.UUID, str]:
    """The bot and user key a memory node works on, from the item's conversation."""
    services = _services(ctx)
    session = await service.session_of(
        services.platform.db, services.org_id, _conversation(ctx, given, index)
    )
    return session.bot_id, "" if scope == "bot" else service.memory_owner(session)


class MemoryGet(Node):
    type = "bot.memory_get"
    display_name = "Bot memory: get"
    description = "Reads a value the bot remembers, of the bot or of the person in the conversation."
    category = CATEGORY
    icon = "database"
    Parameters = MemoryGetParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        services = _services(ctx)
        out: Items = []
        for index, item in enumerate(ctx.items or [{}]):
            with ctx.item_guard(index):
                params = ctx.params(MemoryGetParameters, index)
                bot_id, user_key = await _owner(ctx, params.scope, params.session_id, index)
                value = await service.get_memory(
                    services.platform.db,
                    org_id=services.org_id,
                    bot_id=bot_id,
                    user_key=user_key,
                    key=params.key,
                )
                out.append({**item, params.field: value})
        return {"main": out}


class MemorySet(Node):
    type = "bot.memory_set"
    display_name = "Bot memory: set"
    description = (
        "Remembers a value for the bot or for the person in the conversation (null forgets it); "
        f"a value is at most {service.MEMORY_MAX_BYTES // 1024} KB as JSON, and one owner holds at most "
        f"{service.MEMORY_MAX_KEYS:,} keys."
    )
    category = CATEGORY
    icon = "database"
    Parameters = MemorySetParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        services = _services(ctx)
        for index in range(len(ctx.items or [{}])):
            with ctx.item_guard(index):
                params = ctx.params(MemorySetParameters, index)
                bot_id, user_key = await _owner(ctx, params.scope, params.session_id, index)
                try:
                    await service.set_memory(
                        services.platform.db,
                        org_id=services.org_id,
                        bot_id=bot_id,
                        user_key=user_key,
                        key=params.key,
                        value=params.value,
                    )
                except WireworkError as exc:  # past a bound (size, keys), or not storable text
                    raise NodeError(exc.detail) from None
        return {"main": list(ctx.items or [{}])}


CHAT_NODES: tuple[type[Node], ...] = (ChatTrigger, ChatReply, ChatAsk, MemoryGet, MemorySet)
