"""Portable column types behave alike on every backend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from wirework.accounts.models import Organization, User, UserPreferences
from wirework.db.engine import Database, normalize_url
from wirework.db.types import uuid7


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)
    assert len(set(ids)) == 200


def test_normalize_url_picks_async_drivers() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_url("mysql://root@h/db") == "mysql+asyncmy://root@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_unsupported_url_says_what_to_use() -> None:
    with pytest.raises(ValueError, match="postgresql\\+asyncpg"):
        Database("oracle://x")


async def test_timestamps_come_back_aware_utc_with_microseconds(db: Database) -> None:
    berlin = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=berlin)
    async with db.session() as session:
        user = User(email="t@example.com", username="t", password_hash="x", last_login_at=moment)
        session.add(user)
        await session.commit()
    async with db.session() as session:
        stored = (await session.execute(select(User.last_login_at))).scalar_one()
    assert stored == moment and stored.tzinfo == UTC and stored.microsecond == 123456


async def test_json_round_trips_nested_values(db: Database) -> None:
    prefs = {"a": [1, 2.5, None, True], "b": {"c": "ü"}, "empty": {}}
    async with db.session() as session:
        user = User(email="j@example.com", username="j", password_hash="x")
        session.add(user)
        await session.flush()
        session.add(UserPreferences(user_id=user.id, preferences=prefs))
        await session.commit()
    async with db.session() as session:
        assert (await session.execute(select(UserPreferences.preferences))).scalar_one() == prefs


async def test_enum_check_constraint_rejects_unknown_values_in_the_database(db: Database) -> None:
    async with db.session() as session:
        session.add(User(email="e@example.com", username="e", password_hash="x"))
        await session.commit()
        # MariaDB reports a failed CHECK as an operational error (4025); the others as integrity.
        with pytest.raises((IntegrityError, OperationalError), match="ck_users_instance_role"):
            await session.execute(text("UPDATE users SET role = 'boss'"))
            await session.commit()


async def test_foreign_keys_are_enforced(db: Database) -> None:
    from wirework.accounts.models import Membership, OrgRole

    async with db.session() as session:
        session.add(Organization(name="o", slug="o"))
        await session.flush()
        org_id = (await session.execute(select(Organization.id))).scalar_one()
        session.add(Membership(org_id=org_id, user_id=uuid7(), role=OrgRole.member))
        with pytest.raises(IntegrityError):
            await session.commit()
