"""Items: the JSON checks with clear errors, and the dotted-path helpers."""

from __future__ import annotations

from collections import OrderedDict
from datetime import date

import pytest

from wirework.engine.errors import ItemsError
from wirework.engine.items import (
    MISSING,
    assign_path,
    ensure_items,
    get_path,
    remove_path,
    to_items,
    to_json_value,
)


def test_valid_items_come_back_as_they_are() -> None:
    items = [{"a": 1, "b": [1.5, None, {"c": "x"}], "d": True}]
    assert ensure_items(items) is items


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, "items: expected a list of items, got dict"),
        ([{"a": 1}, "text"], "items[1]: an item must be a JSON object, got str"),
        ([{"when": date(2024, 1, 1)}], "items[0].when: a value of type date is not JSON"),
        ([{"n": float("nan")}], "items[0].n: nan is not a JSON number"),
        ([{"deep": [{"x": {1: 2}}]}], "items[0].deep[0].x: key 1 is not a string"),
    ],
)
def test_invalid_items_say_where_and_why(value: object, message: str) -> None:
    with pytest.raises(ItemsError) as caught:
        ensure_items(value)
    assert str(caught.value) == message


def test_mappings_and_tuples_are_accepted_as_plain_json() -> None:
    assert ensure_items((OrderedDict(a=1),)) == [{"a": 1}]


def test_to_items_and_to_json_value() -> None:
    assert to_items({"a": 1}) == [{"a": 1}]
    assert to_items([{"a": 1}, 2]) == [{"a": 1}, {"value": 2}]
    with pytest.raises(ItemsError):
        to_items(3)
    assert to_json_value({"d": date(2024, 1, 2), "t": (1, 2)}) == {"d": "2024-01-02", "t": [1, 2]}


def test_get_path() -> None:
    item = {"a": {"b": [10, {"c": 3}]}, "x.y": 1, "n": None}
    assert get_path(item, "a.b.1.c") == 3
    assert get_path(item, "a.b.-2") == 10
    assert get_path(item, "x.y") == 1
    assert get_path(item, "n") is None
    assert get_path(item, "a.z") is MISSING
    assert get_path(item, "a.b.9") is MISSING
    assert get_path(item, "n.deeper") is MISSING


def test_assign_path_copies_nested_objects_instead_of_mutating_them() -> None:
    original = {"address": {"city": "Lyon"}, "name": "Ada"}
    target = dict(original)
    assign_path(target, "address.zip", "69001")
    assign_path(target, "meta.source", "import")
    assert target == {
        "address": {"city": "Lyon", "zip": "69001"},
        "name": "Ada",
        "meta": {"source": "import"},
    }
    assert original == {"address": {"city": "Lyon"}, "name": "Ada"}
    remove_path(target, "address.city")
    assert target["address"] == {"zip": "69001"}
    with pytest.raises(ItemsError):
        assign_path(target, "", 1)
