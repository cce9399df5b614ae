"""Items, the data that flows along edges: lists of JSON objects, with checks and path helpers.

Nodes treat their input items as read-only: upstream outputs are shared, not copied,
so a node builds new dicts (`{**item, "x": 1}` or `assign_path`) instead of
mutating what it received. That keeps the hot path free of deep copies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, Final

from wirework.engine.errors import ItemsError

JSONValue = Any
"""A JSON value: None, bool, int, float (finite), str, list of JSON values, dict str -> JSON."""
Item = dict[str, Any]
Items = list[Item]
NodeOutputs = dict[str, Items]
"""A node's outputs by output name. Names starting with "$" are private to the node
(its state across loop iterations): persisted with the rest, never routed along edges."""


class _Missing:
    """The marker `get_path` returns for an absent path (None is a legitimate JSON value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_SCALARS: Final = (str, int, bool, type(None))


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _not_text(text: str) -> bool:
    """A NUL or a lone surrogate: text no database stores (PostgreSQL refuses NUL in text and
    JSON, and a lone surrogate is no UTF-8). `isascii` is O(1), so ASCII costs one memchr."""
    return "\x00" in text or (not text.isascii() and _NOT_TEXT.search(text) is not None)


def _text_problem(where: str) -> str:
    return f"{where}: a string holds a NUL character or a lone UTF-16 surrogate, which is not storable text"


def json_problem(value: Any, path: str) -> str | None:
    """Why `value` is not JSON (with where), or None. Iterative to survive deep nesting."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        kind = type(current)
        if kind is str:
            if _not_text(current):
                return _text_problem(where)
            continue
        if kind in _SCALARS:
            continue
        if kind is float:
            if not math.isfinite(current):
                return f"{where}: {current} is not a JSON number"
            continue
        if kind is dict:
            for key, sub in current.items():
                if type(key) is not str:
                    return f"{where}: key {key!r} is not a string"
                if _not_text(key):
                    return _text_problem(f"{where} (a key)")
                stack.append((sub, f"{where}.{key}"))
            continue
        if kind is list:
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(current))
            continue
        # Subclasses (e.g. a str enum, an OrderedDict) are fine as long as they are JSON.
        if isinstance(current, str):
            if _not_text(current):
                return _text_problem(where)
            continue
        if isinstance(current, int):
            continue
        if isinstance(current, float):
            stack.append((float(current), where))
            continue
        if isinstance(current, Mapping):
            stack.append((dict(current), where))
            continue
        if isinstance(current, list | tuple):
            stack.append((list(current), where))
            continue
        return f"{where}: a value of type {kind.__name__} is not JSON"
    return None


def check_json(value: Any, *, where: str = "value") -> None:
    """Raise ItemsError unless `value` is a JSON value (finite numbers, string keys)."""
    problem = json_problem(value, where)
    if problem is not None:
        raise ItemsError(problem)


def ensure_items(value: Any, *, where: str = "items") -> Items:
    """Return `value` if it is a list of JSON objects, else raise ItemsError saying what is wrong.

    The list is returned as-is (no copy): this runs on every node output.
    """
    if type(value) is not list:
        if not isinstance(value, list | tuple):
            raise ItemsError(f"{where}: expected a list of items, got {type(value).__name__}")
        value = list(value)
    for index, item in enumerate(value):
        if type(item) is not dict:
            if not isinstance(item, Mapping):
                raise ItemsError(
                    f"{where}[{index}]: an item must be a JSON object, got {type(item).__name__}"
                )
            item = value[index] = dict(item)
        problem = json_problem(item, f"{where}[{index}]")
        if problem is not None:
            raise ItemsError(problem)
    items: Items = value
    return items


def to_items(value: Any, *, where: str = "value") -> Items:
    """Turn a parsed value into items: an object → one item, a list of objects → those items.

    Other list elements become `{"value": element}`; a bare scalar is an error.
    """
    if isinstance(value, dict):
        return ensure_items([value], where=where)
    if isinstance(value, list):
        return ensure_items([v if isinstance(v, dict) else {"value": v} for v in value], where=where)
    raise ItemsError(f"{where}: expected an object or a list, got {type(value).__name__}")


def to_json_value(value: Any) -> JSONValue:
    """A JSON-friendly copy of `value`: dates become ISO strings, tuples and sets lists."""
    if isinstance(value, _SCALARS) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return [to_json_value(v) for v in sorted(value, key=repr)]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise ItemsError(f"a value of type {type(value).__name__} is not JSON")


def split_path(path: str) -> list[str]:
    """`"a.b.0"` → `["a", "b", "0"]`; an empty path is an error."""
    if not path:
        raise ItemsError("a field path cannot be empty")
    return path.split(".")


def get_path(item: Any, path: str) -> Any:
    """The value at a dotted path (`address.city`, `tags.0`), or MISSING.

    A key that exists as written wins over the dotted reading, so a field literally
    named `"a.b"` is still reachable.
    """
    if isinstance(item, dict) and path in item:
        return item[path]
    current = item
    for part in split_path(path):
        if isinstance(current, dict):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and _is_index(part):
            index = int(part)
            if not -len(current) <= index < len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def _is_index(part: str) -> bool:
    return part.isdigit() or (part.startswith("-") and part[1:].isdigit())


def assign_path(target: Item, path: str, value: Any) -> None:
    """Set `value` at a dotted path in `target` (a dict the caller owns), creating objects.

    Nested dicts along the path are copied before being changed, so a shallow copy of
    an input item can be passed as `target` without touching the input.
    """
    parts = split_path(path)
    current = target
    for part in parts[:-1]:
        nested = current.get(part)
        nested = dict(nested) if isinstance(nested, dict) else {}
        current[part] = nested
        current = nested
    current[parts[-1]] = value


def remove_path(target: Item, path: str) -> None:
    """Remove the value at a dotted path from `target` (copying nested dicts it changes)."""
    if path in target:
        del target[path]
        return
    parts = split_path(path)
    current = target
    for part in parts[:-1]:
        nested = current.get(part)
        if not isinstance(nested, dict):
            return
        nested = dict(nested)
        current[part] = nested
        current = nested
    current.pop(parts[-1], None)


def canonical(value: Any) -> str:
    """A stable text form of a JSON value, for comparing and hashing (dedupe, join keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
