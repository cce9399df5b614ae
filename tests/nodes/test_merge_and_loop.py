"""The merge node's modes and the loop node's batches and state."""

from __future__ import annotations

import pytest

from wirework.engine.errors import ParameterError
from wirework.engine.items import Items
from wirework.engine.nodes import NodeRegistry, parameter_errors
from wirework.engine.runner import run_workflow
from wirework.engine.testing import definition, edge, node, run_node
from wirework.nodes import load_builtin_nodes
from wirework.nodes.core.loop import Loop
from wirework.nodes.core.merge import Merge

CUSTOMERS: Items = [
    {"customer_id": 1, "name": "Ada"},
    {"customer_id": 2, "name": "Linus"},
    {"customer_id": 3, "name": "Grace"},
]
ORDERS: Items = [
    {"order": "A", "cid": 2, "total": 10},
    {"order": "B", "cid": 1, "total": 5},
    {"order": "C", "cid": 2, "total": 7},
    {"order": "D", "cid": 9, "total": 1},
]


async def merge(params: dict[str, object], a: Items, b: Items) -> Items:
    return (await run_node(Merge, params, inputs={"a": a, "b": b}))["main"]


async def test_append_and_wait_all_put_a_before_b() -> None:
    assert await merge({}, CUSTOMERS[:1], ORDERS[:1]) == [CUSTOMERS[0], ORDERS[0]]
    assert await merge({"mode": "wait_all"}, CUSTOMERS[:1], ORDERS[:1]) == [CUSTOMERS[0], ORDERS[0]]


async def test_by_key_inner_join_merges_matching_items() -> None:
    out = await merge({"mode": "by_key", "keys": ["customer_id"], "keys_b": ["cid"]}, CUSTOMERS, ORDERS)
    assert out == [
        {"customer_id": 1, "name": "Ada", "order": "B", "cid": 1, "total": 5},
        {"customer_id": 2, "name": "Linus", "order": "A", "cid": 2, "total": 10},
        {"customer_id": 2, "name": "Linus", "order": "C", "cid": 2, "total": 7},
    ]


async def test_by_key_left_and_outer_joins_keep_unmatched_items() -> None:
    params = {"mode": "by_key", "keys": ["customer_id"], "keys_b": ["cid"]}
    left = await merge({**params, "join": "left"}, CUSTOMERS, ORDERS)
    assert [i.get("order") for i in left] == ["B", "A", "C", None]
    outer = await merge({**params, "join": "outer"}, CUSTOMERS, ORDERS)
    assert [i.get("order") for i in outer] == ["B", "A", "C", None, "D"]


async def test_by_key_compares_numbers_by_value_and_ignores_missing_keys() -> None:
    out = await merge(
        {"mode": "by_key", "keys": ["k"]}, [{"k": 1, "a": 1}, {"a": 2}], [{"k": 1.0, "b": 1}, {"b": 2}]
    )
    assert out == [{"k": 1.0, "a": 1, "b": 1}]


async def test_by_position_zips_items() -> None:
    a, b = [{"x": 1}, {"x": 2}, {"x": 3}], [{"y": 1}, {"y": 2}]
    assert await merge({"mode": "by_position"}, a, b) == [{"x": 1, "y": 1}, {"x": 2, "y": 2}]
    assert await merge({"mode": "by_position", "include_unpaired": True}, a, b) == [
        {"x": 1, "y": 1},
        {"x": 2, "y": 2},
        {"x": 3},
    ]


def test_merge_parameters_are_checked() -> None:
    assert parameter_errors(Merge, {"mode": "by_key"}) == [
        ("", "Value error, mode by_key needs at least one key field in `keys`")
    ]


async def test_merge_by_key_without_keys_fails_at_run_time() -> None:
    with pytest.raises(ParameterError, match="needs at least one key"):
        await merge({"mode": "by_key"}, CUSTOMERS, ORDERS)


async def test_merge_in_a_workflow_waits_for_both_branches() -> None:
    registry = load_builtin_nodes(NodeRegistry())
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("c", "core.set", "Customers", parameters={"fields": {"side": "a"}}),
            node("o", "core.set", "Orders", parameters={"fields": {"side": "b"}}),
            node("m", "core.merge", "Merge", parameters={"mode": "by_position"}),
        ],
        [edge("t", "c"), edge("t", "o"), edge("c", "m", input="a"), edge("o", "m", input="b")],
    )
    result = await run_workflow(wf, [{"n": 1}], registry=registry)
    assert result.runs == ["t", "c", "o", "m"]
    assert result.output("Merge") == [{"n": 1, "side": "b"}]


async def test_the_loop_node_hands_out_batches_and_collects_results() -> None:
    items = [{"n": n} for n in range(5)]
    first = await run_node(Loop, {"batch_size": 2}, items)
    assert first["loop"] == items[:2]
    assert first["done"] == []
    second = await run_node(Loop, {"batch_size": 2}, [{"r": 0}, {"r": 1}], previous=first)
    assert second["loop"] == items[2:4]
    third = await run_node(Loop, {}, [{"r": 2}], previous=second)
    assert third["loop"] == items[4:]
    last = await run_node(Loop, {}, [{"r": 4}], previous=third)
    assert last["loop"] == []
    assert last["done"] == [{"r": 0}, {"r": 1}, {"r": 2}, {"r": 4}]
    assert last["$state"][0]["iteration"] == 3
