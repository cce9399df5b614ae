"""Tenant scoping in one place: every read of an org-owned row goes through these helpers."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.errors import NotFound

T = TypeVar("T")


def scoped(model: type[T], org_id: uuid.UUID) -> Select[T]:
    """`SELECT model WHERE org_id = :org_id`; add filters to it, never remove this one."""
    column: Any = model.org_id  # type: ignore[attr-defined]
    return select(model).where(column == org_id)


async def get_scoped(session: AsyncSession, model: type[T], object_id: uuid.UUID, org_id: uuid.UUID) -> T:
    """The object, if it exists in this organization; otherwise 404, never a hint it exists."""
    column: Any = model.id  # type: ignore[attr-defined]
    row = (await session.execute(scoped(model, org_id).where(column == object_id))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{_label(model)} {object_id} not found")
    return row


def _label(model: type[Any]) -> str:
    return str(getattr(model, "__label__", model.__name__))
