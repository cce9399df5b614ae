"""Item-shaping nodes: set, split out, aggregate, sort, limit, remove duplicates."""

from __future__ import annotations

import copy
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirework.engine.errors import NodeError
from wirework.engine.items import Items
from wirework.engine.nodes import NodeRegistry
from wirework.engine.runner import run_workflow
from wirework.engine.testing import definition, edge, node, run_node, run_node_sync
from wirework.nodes import load_builtin_nodes
from wirework.nodes.core.transform import (
    Aggregate,
    Limit,
    RemoveDuplicates,
    SetFields,
    Sort,
    SortKey,
    SplitOut,
    dedupe_items,
    limit_items,
    sort_items,
)

PEOPLE: Items = [
    {"name": "Ada", "age": 36, "address": {"city": "London"}, "langs": ["en", "fr"]},
    {"name": "Linus", "age": 28, "address": {"city": "Helsinki"}, "langs": ["fi"]},
    {"name": "Grace", "age": None, "langs": []},
]


async def test_set_adds_fields_with_values_and_expressions_without_touching_input() -> None:
    before = copy.deepcopy(PEOPLE)
    out = await run_node(
        SetFields,
        {
            "fields": {
                "greeting": "Hi {{ json.name }}",
                "adult": "{{ (json.age or 0) >= 18 }}",
                "address.country": "{{ 'UK' if json.name == 'Ada' else '?' }}",
                "source": "crm",
            }
        },
        PEOPLE,
    )
    assert out["main"][0] == {
        "name": "Ada",
        "age": 36,
        "langs": ["en", "fr"],
        "address": {"city": "London", "country": "UK"},
        "greeting": "Hi Ada",
        "adult": True,
        "source": "crm",
    }
    assert out["main"][2]["address"] == {"country": "?"}
    assert before == PEOPLE


async def test_set_keep_only_set_and_literal_dotted_names() -> None:
    out = await run_node(
        SetFields,
        {"fields": {"who": "{{ json.name }}", "a.b": 1}, "keep_only_set": True, "dot_notation": False},
        PEOPLE[:1],
    )
    assert out == {"main": [{"who": "Ada", "a.b": 1}]}


async def test_split_out_makes_one_item_per_element() -> None:
    out = await run_node(SplitOut, {"field": "langs"}, PEOPLE)
    assert out["main"] == [{"langs": "en"}, {"langs": "fr"}, {"langs": "fi"}]
    out = await run_node(
        SplitOut,
        {"field": "langs", "include": "selected", "include_fields": ["name"], "destination": "lang"},
        PEOPLE,
    )
    assert out["main"] == [
        {"name": "Ada", "lang": "en"},
        {"name": "Ada", "lang": "fr"},
        {"name": "Linus", "lang": "fi"},
    ]


async def test_split_out_spreads_objects_and_can_keep_all_other_fields() -> None:
    order = {"id": 7, "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    out = await run_node(SplitOut, {"field": "lines", "include": "all"}, [order])
    assert out["main"] == [{"id": 7, "sku": "A", "qty": 1}, {"id": 7, "sku": "B", "qty": 2}]


async def test_split_out_of_a_field_that_is_not_a_list_fails_that_item() -> None:
    with pytest.raises(NodeError, match="field 'langs' is not a list"):
        await run_node(SplitOut, {"field": "langs"}, [{"langs": "en"}])
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("s", "core.split_out", on_error="error_output", parameters={"field": "langs"}),
            node("ok", "core.noop"),
            node("bad", "core.noop"),
        ],
        [edge("t", "s"), edge("s", "ok"), edge("s", "bad", "error")],
    )
    result = await run_workflow(
        wf, [{"langs": ["en", "de"]}, {"langs": "fr"}], registry=load_builtin_nodes(NodeRegistry())
    )
    assert result.output("ok") == [{"langs": "en"}, {"langs": "de"}]
    assert [i["langs"] for i in result.output("bad")] == ["fr"]


async def test_aggregate_collects_field_values() -> None:
    out = await run_node(
        Aggregate, {"fields": ["name", {"field": "address.city", "rename": "cities"}, "age"]}, PEOPLE
    )
    assert out["main"] == [
        {"name": ["Ada", "Linus", "Grace"], "cities": ["London", "Helsinki"], "age": [36, 28]}
    ]
    out = await run_node(Aggregate, {"fields": ["age"], "keep_missing": True}, PEOPLE)
    assert out["main"] == [{"age": [36, 28, None]}]


async def test_aggregate_all_items() -> None:
    out = await run_node(Aggregate, {"mode": "all_items", "destination": "people"}, PEOPLE)
    assert out["main"] == [{"people": PEOPLE}]


def test_sort_by_several_keys_with_nulls_last() -> None:
    rows: Items = [
        {"team": "b", "score": 3},
        {"team": "a", "score": None},
        {"team": "a", "score": 9},
        {"team": "b", "score": 7},
        {"team": "a"},
        {"team": None, "score": 1},
    ]
    out = run_node_sync(Sort, {"keys": [{"field": "team"}, {"field": "score", "order": "desc"}]}, rows)
    assert out["main"] == [
        {"team": "a", "score": 9},
        {"team": "a", "score": None},
        {"team": "a"},
        {"team": "b", "score": 7},
        {"team": "b", "score": 3},
        {"team": None, "score": 1},
    ]


def test_sort_handles_mixed_types_numbers_before_text() -> None:
    rows: Items = [{"v": "b"}, {"v": 2}, {"v": {"x": 1}}, {"v": "a"}, {"v": 1.5}, {"v": True}]
    assert [r["v"] for r in sort_items(rows, [SortKey(field="v")])] == [True, 1.5, 2, "a", "b", {"x": 1}]


async def test_limit_keeps_first_or_last() -> None:
    assert (await run_node(Limit, {"max_items": 2}, PEOPLE))["main"] == PEOPLE[:2]
    assert (await run_node(Limit, {"max_items": 2, "keep": "last"}, PEOPLE))["main"] == PEOPLE[1:]
    assert (await run_node(Limit, {"max_items": 0}, PEOPLE))["main"] == []


async def test_remove_duplicates_by_fields_or_whole_items() -> None:
    rows = [
        {"email": "a@x", "n": 1},
        {"email": "b@x", "n": 2},
        {"email": "a@x", "n": 3},
        {"email": "b@x", "n": 2},
    ]
    assert (await run_node(RemoveDuplicates, {"fields": ["email"]}, rows))["main"] == rows[:2]
    assert (await run_node(RemoveDuplicates, {}, rows))["main"] == rows[:3]


# --- properties -----------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-50, 50), st.floats(-50, 50, allow_nan=False), st.text(max_size=3)
)
records = st.lists(
    st.fixed_dictionaries({"id": st.integers()}, optional={"a": json_scalars, "b": st.integers(0, 3)}),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(records, st.sampled_from(["asc", "desc"]))
def test_sort_is_an_ordered_stable_permutation(items: Items, order: Literal["asc", "desc"]) -> None:
    out = sort_items(items, [SortKey(field="b", order=order)])
    assert sorted(map(id, out)) == sorted(map(id, items))
    present = [i for i in out if i.get("b") is not None]
    assert out[: len(present)] == present  # missing values last
    keys = [i["b"] for i in present]
    assert keys == sorted(keys, reverse=order == "desc")
    for value in set(keys):  # stable: equal keys keep their input order
        assert [i for i in out if i.get("b") == value] == [i for i in items if i.get("b") == value]


@settings(max_examples=150, deadline=None)
@given(records, st.integers(0, 30), st.sampled_from(["first", "last"]))
def test_limit_takes_a_contiguous_end(items: Items, n: int, keep: Literal["first", "last"]) -> None:
    out = limit_items(items, n, keep)
    assert len(out) == min(n, len(items))
    assert out == (items[:n] if keep == "first" else items[len(items) - len(out) :])


@settings(max_examples=150, deadline=None)
@given(records, st.sampled_from([[], ["b"], ["a", "b"]]))
def test_remove_duplicates_keeps_first_of_each_group(items: list[dict[str, Any]], fields: list[str]) -> None:
    out = dedupe_items(items, fields)

    def key(item: dict[str, Any]) -> Any:
        return repr([item.get(f) for f in fields]) if fields else repr(sorted(item.items()))

    assert len({key(i) for i in out}) == len(out)
    assert {key(i) for i in out} == {key(i) for i in items}
    assert all(any(o is i for i in items) for o in out)
    assert dedupe_items(out, fields) == out
