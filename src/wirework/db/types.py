"""Portable column types: UUID v7 ids, tz-aware UTC timestamps, JSON, string enums with CHECK."""

from __future__ import annotations

import enum
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Enum
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

_last_uuid7 = 0
_uuid7_lock = threading.Lock()


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit Unix milliseconds, then random bits.

    Monotonic within the process: readers order rows by id ("the last node run"), and rows
    are often made within one millisecond, where random bits alone would shuffle them. A
    repeat millisecond counts up in the random bits (RFC 9562 6.2, method 2)."""
    global _last_uuid7
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    with _uuid7_lock:
        if value <= _last_uuid7:
            last = _last_uuid7
            timestamp, random = last >> 80, ((last >> 64) & 0xFFF) << 62 | last & ((1 << 62) - 1)
            random += 1
            if random >> 74:  # the random bits ran out: borrow the next millisecond
                timestamp, random = timestamp + 1, 0
            value = timestamp << 80 | 0x7 << 76 | (random >> 62) << 64 | 0x2 << 62 | random & ((1 << 62) - 1)
        _last_uuid7 = value
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, on every backend.

    SQLite and MySQL keep no time zone, so values are stored as naive UTC and given
    their zone back on the way out; MySQL keeps microseconds (DATETIME(6)).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use wirework.db.types.utcnow()")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact); JSON elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def StrEnumType(enum_cls: type[enum.StrEnum], name: str) -> Enum:
    """A string column limited to an enum's values by a CHECK constraint, alike on all backends."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )
