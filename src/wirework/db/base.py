"""The declarative Base every model inherits, and the mixins for ids, timestamps and tenancy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wirework.db.types import JSONType, UTCDateTime, utcnow, uuid7

# Deterministic constraint names, so one migration history serves SQLite, PostgreSQL and MySQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict: JSONType, list: JSONType}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, default=uuid7, sort_order=-100, comment="Primary key (UUID v7, time-ordered)."
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        default=utcnow, sort_order=100, comment="When the row was created (UTC)."
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, sort_order=101, comment="When the row last changed (UTC)."
    )


class OrgOwnedMixin:
    """A tenant-owned row: every query for it goes through `db.scoping`."""

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"),
        index=True,
        sort_order=-90,
        comment="Owning organization (tenant).",
    )
