"""Expressions: native values, text, missing keys, node outputs, the sandbox and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wirework.engine.errors import ExpressionError
from wirework.engine.expressions import (
    EMPTY_NODES,
    NodesView,
    compile_template,
    expression_context,
    has_expressions,
    render_value,
)
from wirework.engine.items import NodeOutputs

NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


def ctx(
    item: dict[str, Any] | None = None,
    *,
    items: list[dict[str, Any]] | None = None,
    nodes: NodesView = EMPTY_NODES,
    **extra: Any,
) -> dict[str, Any]:
    item = item if item is not None else {}
    return expression_context(
        item=item,
        index=0,
        items=items or [item],
        nodes=nodes,
        vars=extra.get("vars", {}),
        execution=extra.get("execution", {"id": "e1", "mode": "manual"}),
        workflow=extra.get("workflow", {"id": "w1", "name": "Orders"}),
        now=NOW,
    )


ORDER = {
    "id": 7,
    "customer": {"name": "Ada", "tags": ["vip", "eu"]},
    "total": 12.5,
    "paid": True,
    "note": None,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ json.id }}", 7),
        ("{{ json.total * 2 }}", 25.0),
        ("{{ json.paid }}", True),
        ("{{ json.customer }}", {"name": "Ada", "tags": ["vip", "eu"]}),
        ("{{ json.customer.tags }}", ["vip", "eu"]),
        ("{{ json.note }}", None),
        ("  {{ json.id + 1 }}\n", 8),
        ("{{ {'a': {'b': json.id}} }}", {"a": {"b": 7}}),
        ("{{ json.customer.tags | length }}", 2),
    ],
)
def test_a_whole_expression_gives_the_native_value(source: str, expected: Any) -> None:
    assert render_value(source, ctx(ORDER)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Order {{ json.id }} for {{ json.customer.name }}", "Order 7 for Ada"),
        ("paid={{ json.paid }}", "paid=true"),
        ("note=[{{ json.note }}]", "note=[]"),
        ("tags: {{ json.customer.tags }}", 'tags: ["vip","eu"]'),
        ("{{ json.id }}-{{ json.id }}", "7-7"),
        ("{% if json.paid %}paid{% else %}due{% endif %}", "paid"),
    ],
)
def test_text_mixed_with_expressions_gives_a_string(source: str, expected: str) -> None:
    assert render_value(source, ctx(ORDER)) == expected


def test_plain_strings_and_other_values_pass_through_untouched() -> None:
    params = {"url": "https://example.com/a?b=c", "count": 3, "flags": [True, None], "nested": {"x": "plain"}}
    assert render_value(params, ctx(ORDER)) is params  # no expressions: no copy


def test_dicts_and_lists_are_walked() -> None:
    params = {"fields": {"who": "{{ json.customer.name }}", "n": 1}, "list": ["{{ json.id }}", "x"]}
    assert render_value(params, ctx(ORDER)) == {"fields": {"who": "Ada", "n": 1}, "list": [7, "x"]}
    assert has_expressions(params)
    assert not has_expressions({"a": ["b", 1, {"c": "d"}]})


def test_a_missing_key_is_empty_like_undefined_in_n8n() -> None:
    c = ctx(ORDER)
    assert render_value("{{ json.nickname }}", c) is None
    assert render_value("Hi {{ json.nickname }}!", c) == "Hi !"
    assert render_value("{{ json.nickname.first.letter }}", c) is None
    assert render_value("{{ json.nickname | default('friend') }}", c) == "friend"
    assert render_value("{{ json.nickname is defined }}", c) is False
    assert render_value("{{ json.nickname == none }}", c) is True
    assert render_value("{{ not json.nickname }}", c) is True
    assert render_value("{{ json.customer.tags[5] }}", c) is None
    assert render_value("{{ json['customer']['name'] }}", c) == "Ada"


def test_arithmetic_on_a_missing_key_is_an_error_naming_it() -> None:
    with pytest.raises(ExpressionError) as caught:
        render_value({"amount": "{{ json.price * 2 }}"}, ctx(ORDER))
    assert caught.value.path == "amount"
    assert "price" in str(caught.value)


def test_dict_keys_win_over_dict_methods() -> None:
    item = {"items": [1, 2], "keys": "k", "values": "v"}
    assert render_value("{{ json.items }}", ctx(item)) == [1, 2]
    assert render_value("{{ json.keys }}", ctx(item)) == "k"
    assert render_value("{{ json.keys() | list }}", ctx({"a": 1})) == ["a"]


def test_unknown_names_are_errors_with_the_parameter_path() -> None:
    with pytest.raises(ExpressionError) as caught:
        render_value({"fields": {"x": "{{ jsn.id }}"}}, ctx(ORDER))
    assert caught.value.path == "fields.x"
    assert "'jsn' is undefined" in str(caught.value)
    assert str(caught.value).startswith("parameter 'fields.x':")


def test_syntax_errors_name_the_parameter() -> None:
    with pytest.raises(ExpressionError) as caught:
        render_value({"rules": [{"condition": "{{ json.id > }}"}]}, ctx(ORDER))
    assert caught.value.path == "rules[0].condition"
    assert "syntax error" in str(caught.value)


def test_runtime_errors_name_the_parameter() -> None:
    with pytest.raises(ExpressionError, match="ZeroDivisionError"):
        render_value({"x": "{{ json.id / 0 }}"}, ctx(ORDER))


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ json.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ items.append({}) }}",
        "{{ json.update({'x': 1}) }}",
        "{{ 'a' * 100000000 }}",
        "{{ 10 ** 100000000 }}",
    ],
)
def test_the_sandbox_refuses_escapes_mutation_and_huge_results(source: str) -> None:
    item = {"id": 1}
    with pytest.raises(ExpressionError):
        render_value(source, ctx(item, items=[item]))
    assert item == {"id": 1}


def test_all_context_names_are_available() -> None:
    items = [{"n": 1}, {"n": 2}]
    c = ctx(
        items[0],
        items=items,
        vars={"region": "eu"},
        execution={"id": "e9", "mode": "webhook"},
        workflow={"id": "w1", "name": "Sync"},
    )
    assert render_value("{{ items | map(attribute='n') | sum }}", c) == 3
    assert render_value("{{ vars.region }}", c) == "eu"
    assert render_value("{{ execution.mode }}/{{ workflow.name }}", c) == "webhook/Sync"
    assert render_value("{{ now.year }}", c) == 2024
    assert render_value("{{ now }}", c) == "2024-05-17T09:30:00+00:00"
    assert render_value("at {{ now }}", c) == "at 2024-05-17T09:30:00+00:00"
    assert render_value("{{ now.strftime('%d/%m') }}", c) == "17/05"
    assert render_value("{{ index }}", c) == 0


def test_nodes_gives_earlier_outputs_by_name() -> None:
    outputs: dict[str, NodeOutputs] = {
        "n1": {"main": [{"id": 1}, {"id": 2}]},
        "n2": {"true": [{"ok": True}], "false": [{"ok": False}], "$state": [{"x": 1}]},
    }
    nodes = NodesView(
        {"Fetch": "n1", "Check": "n2", "Later": "n3"}, outputs, {"n1": "main", "n2": "true", "n3": "main"}
    )
    c = ctx({}, nodes=nodes)
    assert render_value("{{ nodes['Fetch'] }}", c) == [{"id": 1}, {"id": 2}]
    assert render_value("{{ nodes['Fetch'][1].id }}", c) == 2
    assert render_value("{{ nodes.Fetch.first.id }}", c) == 1
    assert render_value("{{ nodes['Fetch'].json.id }}", c) == 1
    assert render_value("{{ nodes['Fetch'].last.id }}", c) == 2
    assert render_value("{{ nodes['Check'] }}", c) == [{"ok": True}]
    assert render_value("{{ nodes['Check'].outputs['false'][0].ok }}", c) is False
    assert render_value("{{ nodes['Check'].outputs | list }}", c) == ["true", "false"]
    assert render_value("{{ nodes['Later'] | length }}", c) == 0
    assert render_value("{{ nodes['Later'].first.id }}", c) is None
    with pytest.raises(ExpressionError, match="no node named 'Missing'"):
        render_value("{{ nodes['Missing'][0] }}", c)


def test_results_that_are_not_json_are_errors() -> None:
    with pytest.raises(ExpressionError, match="forget"):
        render_value("{{ json.name.upper }}", ctx({"name": "a"}))
    assert render_value("{{ json.name.upper() }}", ctx({"name": "a"})) == "A"


def test_json_filters() -> None:
    c = ctx({"raw": '{"a": [1, 2]}', "obj": {"b": "é"}})
    assert render_value("{{ (json.raw | from_json).a[1] }}", c) == 2
    assert render_value("{{ json.obj | to_json }}", c) == '{"b":"é"}'


def test_templates_are_compiled_once() -> None:
    compile_template.cache_clear()
    for n in range(50):
        render_value("{{ json.n + 1 }}", ctx({"n": n}))
    info = compile_template.cache_info()
    assert (info.misses, info.hits) == (1, 49)
