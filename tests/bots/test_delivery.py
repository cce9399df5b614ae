"""Replies on a platform channel: sent at once, retried with back-off on SendLater (honouring
its delay), given up on SendFailed, never sent twice for one reply key; retention."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.bots.conftest import BotSetup
from wirework.bots import service
from wirework.bots.models import Message, UserSession
from wirework.bots.schemas import InboundMessage
from wirework.channels.models import PlatformBot, PlatformChannel, PlatformUser
from wirework.db.engine import Database
from wirework.db.types import utcnow


class FakePlatform:
    """Plays a chat platform's send API: fails as told, then accepts."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    async def send(
        self, connection: PlatformBot | None, secrets_: dict[str, Any], chat_id: str, text: str
    ) -> str:
        assert connection is not None and connection.platform == "fakechat"
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, text))
        return f"p{len(self.sent)}"


@pytest.fixture
def fake() -> FakePlatform:
    platform = FakePlatform()
    service.register_sender("fakechat", platform.send)
    return platform


async def _connection(db: Database, setup: BotSetup) -> PlatformBot:
    async with db.session() as session:
        connection = PlatformBot(
            org_id=uuid.UUID(setup.who.org_id),
            bot_id=uuid.UUID(setup.id),
            platform="fakechat",
            name="fake",
            settings={},
            inbound_token=secrets.token_urlsafe(16),
        )
        session.add(connection)
        await session.commit()
        return connection


def _inbound(text: str, message_id: str, chat: str = "c1") -> InboundMessage:
    return InboundMessage(
        channel="fakechat",
        platform_message_id=message_id,
        chat_id=chat,
        chat_name="Team",
        chat_kind="group",
        user_id="u1",
        user_name="Uma",
        text=text,
    )


async def _messages(db: Database, role: str = "assistant") -> list[Message]:
    async with db.session() as session:
        rows = await session.execute(select(Message).where(Message.role == role).order_by(Message.id))
        return list(rows.scalars())


async def _until(check: Any, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_platform_replies_are_retried_and_sent_once(
    client: httpx.AsyncClient, echo: BotSetup, db: Database, fake: FakePlatform, app: Any
) -> None:
    connection = await _connection(db, echo)
    fake.failures = [service.SendLater(0.05, "429 Too Many Requests")]
    org, bot = uuid.UUID(echo.who.org_id), uuid.UUID(echo.id)
    received = await service.receive(
        db,
        platform_bot=connection,
        bot_id=bot,
        org_id=org,
        inbound=_inbound("hi", "m1"),
        submit=app.state.executor.submit,
    )
    assert received.session_started and received.routed_to == "dialog"

    async def delivered() -> bool:
        return [m.delivery.value for m in await _messages(db)] == ["sent"]

    await _until(delivered)
    [reply] = await _messages(db)
    assert fake.sent == [("c1", "You said: hi")]
    assert reply.attempts == 2 and reply.platform_message_id == "p1"

    # The platform delivers the same message again: dropped, nothing new stored or sent.
    again = await service.receive(
        db, platform_bot=connection, bot_id=bot, org_id=org, inbound=_inbound("hi", "m1")
    )
    assert again.duplicate and again.executions == []
    # A resumed execution replying with the same key: stored and sent once.
    first = await service.reply(
        db, org_id=org, session_id=reply.session_id, text="once", reply_key="k:1", vault=app.state.vault
    )
    second = await service.reply(
        db, org_id=org, session_id=reply.session_id, text="once", reply_key="k:1", vault=app.state.vault
    )
    assert (
        not first.duplicate and second.duplicate and fake.sent[-1] == ("c1", "once") and len(fake.sent) == 2
    )

    # Platform rows: the user, the chat and the membership.
    async with db.session() as session:
        users = (await session.execute(select(PlatformUser))).scalars().all()
        chats = (await session.execute(select(PlatformChannel))).scalars().all()
        assert [(u.platform_user_id, u.name) for u in users] == [("u1", "Uma")]
        assert [(c.platform_chat_id, c.name, c.kind.value) for c in chats] == [("c1", "Team", "group")]


async def test_a_permanent_failure_is_recorded_not_retried(
    client: httpx.AsyncClient, echo: BotSetup, db: Database, fake: FakePlatform, app: Any
) -> None:
    connection = await _connection(db, echo)
    fake.failures = [service.SendFailed("chat not found")]
    org, bot = uuid.UUID(echo.who.org_id), uuid.UUID(echo.id)
    await service.receive(
        db,
        platform_bot=connection,
        bot_id=bot,
        org_id=org,
        inbound=_inbound("hi", "m1"),
        submit=app.state.executor.submit,
    )

    async def failed() -> bool:
        return [m.delivery.value for m in await _messages(db)] == ["failed"]

    await _until(failed)
    [reply] = await _messages(db)
    assert reply.error == "chat not found" and fake.sent == []
    async with db.session() as session:
        assert (await session.get(PlatformBot, connection.id)).last_error == "chat not found"  # type: ignore[union-attr]


async def test_retention_closes_idle_conversations_and_deletes_old_ones(
    client: httpx.AsyncClient, echo: BotSetup, db: Database
) -> None:
    await client.patch(
        f"/api/v1/bots/{echo.id}",
        json={"settings": {"retention_days": 7}, "dialog_workflow_id": None},
        headers=echo.who.headers,
    )
    org, bot = uuid.UUID(echo.who.org_id), uuid.UUID(echo.id)
    old = await service.receive(db, platform_bot=None, bot_id=bot, org_id=org, inbound=_rest("old", "a"))
    idle = await service.receive(db, platform_bot=None, bot_id=bot, org_id=org, inbound=_rest("idle", "b"))
    fresh = await service.receive(db, platform_bot=None, bot_id=bot, org_id=org, inbound=_rest("fresh", "c"))
    now = utcnow()
    async with db.session() as session:
        await session.execute(
            update(UserSession)
            .where(UserSession.id == old.session_id)
            .values(last_activity_at=now - timedelta(days=8), expires_at=now - timedelta(days=7))
        )
        await session.execute(
            update(Message)
            .where(Message.session_id == old.session_id)
            .values(created_at=now - timedelta(days=8))
        )
        await session.execute(
            update(UserSession)
            .where(UserSession.id == idle.session_id)
            .values(expires_at=now - timedelta(minutes=1))
        )
        await session.commit()
    report = await service.retention_pass(db)
    assert report == {"sessions_closed": 2, "messages_deleted": 1, "sessions_deleted": 1}
    async with db.session() as session:
        sessions = {s.id: s for s in (await session.execute(select(UserSession))).scalars()}
        assert set(sessions) == {idle.session_id, fresh.session_id}
        assert (
            sessions[idle.session_id].closed_at is not None and sessions[fresh.session_id].closed_at is None
        )
        count = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
    assert count >= 2
    # The idle person's next message opens a new conversation.
    again = await service.receive(db, platform_bot=None, bot_id=bot, org_id=org, inbound=_rest("back", "b"))
    assert again.session_started and again.session_id != idle.session_id


def _rest(text: str, chat: str) -> InboundMessage:
    return InboundMessage(
        channel="rest",
        platform_message_id=None,
        chat_id=chat,
        chat_name=None,
        chat_kind="direct",
        user_id="x",
        user_name="x",
        text=text,
    )
