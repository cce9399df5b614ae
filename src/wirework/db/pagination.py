"""Cursor pagination: `?limit=&cursor=` → `{"items": [...], "next_cursor": ...}`.

Ids are UUID v7, so ordering by id is ordering by creation; the cursor is the last id seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.errors import BadRequest

T = TypeVar("T")

MAX_LIMIT = 200


def parse_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(cursor)
    except ValueError as exc:
        raise BadRequest(f"cursor {cursor!r} is not one this API gave out") from exc


async def paginate(
    session: AsyncSession,
    stmt: Select[T],
    id_column: Any,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[Sequence[T], str | None]:
    """One page of `stmt` in id order, and the cursor of the next page (None on the last)."""
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after if newest_first else id_column > after)
    order = id_column.desc() if newest_first else id_column
    rows = (await session.execute(stmt.order_by(order).limit(limit + 1))).scalars().all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(getattr(rows[-1], "id"))  # noqa: B009 - T is any model with an id
    return rows, None
