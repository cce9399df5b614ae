"""Items stored once per execution: large items live in `execution_payloads`, and the execution's
input and its node records hold a small reference in their place.

Nodes pass items along without copying them (engine.items), so a webhook body is the same
Python object in the execution's input, the trigger's output and the next node's input. An
`ItemStore` (one per run) remembers by identity which items it stored, so each is serialized
and written once, and every record that holds it again holds only its reference. Items up to
`INLINE_MAX_BYTES` of JSON stay inline (a reference would cost more than it saves); so do
outputs whose name starts with "$" (node state and webhook answers, read as they are).

A reference is `{"$wirework_item": "<sha256 of the item's JSON>", "bytes": <size>}`. An item
of the user's that has that key is stored as a payload too, so every such object in a record
is a reference. Resume, sub-workflow results and the API's item endpoint read payloads back
(`load`); the executions list never does.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select

from wirework.db.types import uuid7
from wirework.engine.items import Item, Items
from wirework.engine.models import ExecutionPayload

REF = "$wirework_item"
INLINE_MAX_BYTES = 16 * 1024
PREVIEW_MAX_BYTES = 64 * 1024
"""Inline JSON a node's input preview holds at most; larger items in it are references."""
PREVIEW_MAX_ITEMS = 50

_PAYLOADS = cast(Table, ExecutionPayload.__table__)
_PRESENT = select(_PAYLOADS.c.digest).where(
    _PAYLOADS.c.execution_id == bindparam("execution_id"),
    _PAYLOADS.c.digest.in_(bindparam("digests", expanding=True)),
)
_READ = select(_PAYLOADS.c.digest, _PAYLOADS.c.data).where(
    _PAYLOADS.c.execution_id == bindparam("execution_id"),
    _PAYLOADS.c.digest.in_(bindparam("digests", expanding=True)),
)
_INSERT = insert(_PAYLOADS)

New = dict[str, tuple[int, str]]
"""Payloads to write: digest → (bytes, JSON text)."""


def is_ref(value: Any) -> bool:
    return type(value) is dict and REF in value


def _encode(item: Any) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


class ItemStore:
    """What one run has stored: items by identity, digests known to be written."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Item, dict[str, Any]]] = {}  # id → (item kept alive, its reference)
        self.stored: set[str] = set()

    def remember(self, item: Item, digest: str, size: int) -> None:
        """An item read back from its payload: held again, it is not written again."""
        self._known[id(item)] = (item, {REF: digest, "bytes": size})
        self.stored.add(digest)

    def item(self, item: Item, new: New, inline_max: int = INLINE_MAX_BYTES) -> tuple[Any, int]:
        """What a record holds for `item` (itself or its reference) and the inline bytes it costs."""
        known = self._known.get(id(item))
        if known is not None and known[0] is item:
            ref = known[1]
            if ref[REF] not in self.stored:
                new.setdefault(ref[REF], (ref["bytes"], _encode(item)))
            return ref, 0
        if type(item) is not dict:  # not an item (a node's private state): kept as it is
            return item, 0
        text = _encode(item)
        if len(text) <= inline_max and REF not in item:
            return item, len(text)
        data = text.encode()
        digest = hashlib.sha256(data).hexdigest()
        ref = {REF: digest, "bytes": len(data)}
        self._known[id(item)] = (item, ref)
        if digest not in self.stored:
            new[digest] = (len(data), text)
        return ref, 0

    def items(self, items: Iterable[Item], new: New) -> list[Any]:
        return [self.item(item, new)[0] for item in items]

    def outputs(self, outputs: Mapping[str, Any], new: New) -> dict[str, Any]:
        """A node's outputs as its record holds them ("$" outputs as they are)."""
        return {
            name: self.items(items, new) if not name.startswith("$") and type(items) is list else items
            for name, items in outputs.items()
        }

    def preview(self, inputs: Mapping[str, Items], new: New) -> dict[str, Any]:
        """A node's inputs as its record shows them: the first PREVIEW_MAX_ITEMS of each, and
        items past PREVIEW_MAX_BYTES of inline JSON as references."""
        budget = PREVIEW_MAX_BYTES
        shown: dict[str, Any] = {}
        for name, items in inputs.items():
            kept = []
            for item in items[:PREVIEW_MAX_ITEMS]:
                value, cost = self.item(item, new, min(INLINE_MAX_BYTES, budget))
                budget -= cost
                kept.append(value)
            shown[name] = kept
        return shown

    def written(self, new: New) -> None:
        """The payloads in `new` were committed."""
        self.stored.update(new)


def write(connection: Connection, execution_id: uuid.UUID, new: New) -> None:
    """Insert the payloads of `new` this execution does not have yet (plain statements, in the
    transaction of the record that refers to them)."""
    if not new:
        return
    present = set(
        connection.execute(_PRESENT, {"execution_id": execution_id, "digests": list(new)}).scalars()
    )
    rows = [
        {"id": uuid7(), "execution_id": execution_id, "digest": digest, "size": size, "data": text}
        for digest, (size, text) in new.items()
        if digest not in present
    ]
    if rows:
        connection.execute(_INSERT, rows)


def refs_in(values: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """The references in item lists and output mappings (one level: where records hold them)."""
    for value in values:
        if isinstance(value, Mapping):
            lists: Iterable[Any] = (v for k, v in value.items() if not str(k).startswith("$"))
        else:
            lists = (value,)
        for items in lists:
            if type(items) is list:
                yield from (item for item in items if is_ref(item))


def load(
    connection: Connection, execution_id: uuid.UUID, values: Iterable[Any], store: ItemStore | None = None
) -> int:
    """Replace, in place, the references in `values` (item lists, or outputs by name) by the items
    they stand for; `store` remembers them. The number of references replaced."""
    values = list(values)
    refs = list(refs_in(values))
    if not refs:
        return 0
    digests = sorted({ref[REF] for ref in refs if isinstance(ref[REF], str)})
    found: dict[str, Item] = {}
    for start in range(0, len(digests), 500):
        params = {"execution_id": execution_id, "digests": digests[start : start + 500]}
        for digest, data in connection.execute(_READ, params):
            found[digest] = json.loads(data)
    for value in values:
        lists = (
            [v for k, v in value.items() if not str(k).startswith("$")]
            if isinstance(value, Mapping)
            else [value]
        )
        for items in lists:
            if type(items) is not list:
                continue
            for index, item in enumerate(items):
                if is_ref(item) and item[REF] in found:
                    items[index] = found[item[REF]]
                    if store is not None:
                        store.remember(items[index], item[REF], int(item.get("bytes") or 0))
    return len(refs)


def read_one(connection: Connection, execution_id: uuid.UUID, digest: str) -> Item | None:
    row = connection.execute(_READ, {"execution_id": execution_id, "digests": [digest]}).first()
    return None if row is None else cast(Item, json.loads(row.data))
