"""Flow nodes: manual trigger, IF, switch, filter, no-op, stop-and-error."""

from __future__ import annotations

import pytest

from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.items import Items
from wirework.engine.nodes import NodeRegistry
from wirework.engine.runner import run_workflow
from wirework.engine.testing import chain, definition, edge, node, run_node
from wirework.nodes import load_builtin_nodes
from wirework.nodes.core.flow import Filter, If, ManualTrigger, NoOp, StopError, Switch

REGISTRY = load_builtin_nodes(NodeRegistry())

TICKETS: Items = [
    {"id": 1, "priority": "high", "age_h": 30, "tags": ["billing"]},
    {"id": 2, "priority": "low", "age_h": 2, "tags": []},
    {"id": 3, "priority": "medium", "age_h": 50, "tags": ["bug"]},
    {"id": 4, "age_h": 1},
]


async def test_manual_trigger_emits_the_input_items_or_one_empty_item() -> None:
    assert await run_node(ManualTrigger, {}, [{"a": 1}]) == {"main": [{"a": 1}]}
    assert await run_node(ManualTrigger, {}, []) == {"main": [{}]}
    result = await run_workflow(definition([node("t", "core.manual_trigger")]), registry=REGISTRY)
    assert result.output("t") == [{}]


async def test_if_routes_each_item_by_its_condition() -> None:
    out = await run_node(If, {"condition": "{{ json.age_h > 24 and json.priority != 'low' }}"}, TICKETS)
    assert [i["id"] for i in out["true"]] == [1, 3]
    assert [i["id"] for i in out["false"]] == [2, 4]
    assert out["true"][0] is TICKETS[0]  # routed as-is, not copied


async def test_if_conditions_use_truthiness_and_missing_fields_are_false() -> None:
    out = await run_node(If, {"condition": "{{ json.tags }}"}, TICKETS)
    assert [i["id"] for i in out["true"]] == [1, 3]
    out = await run_node(If, {"condition": "{{ json.priority }}"}, TICKETS)
    assert [i["id"] for i in out["false"]] == [4]
    out = await run_node(If, {"condition": "{{ json.flag }}"}, [{"flag": "false"}])
    assert out["false"] == [{"flag": "false"}]
    assert (await run_node(If, {"condition": True}, [{}]))["true"] == [{}]


async def test_switch_sends_each_item_to_the_first_matching_rule() -> None:
    params = {
        "rules": [
            {"condition": "{{ json.priority == 'high' }}", "output": "urgent"},
            {"condition": "{{ json.age_h > 24 }}", "output": "urgent"},
            {"condition": "{{ json.priority == 'low' }}", "output": "later"},
        ],
        "fallback": "triage",
    }
    assert Switch.output_names(params) == ["urgent", "later", "triage"]
    out = await run_node(Switch, params, TICKETS)
    assert {name: [i["id"] for i in items] for name, items in out.items()} == {
        "urgent": [1, 3],
        "later": [2],
        "triage": [4],
    }


async def test_switch_without_fallback_drops_unmatched_items() -> None:
    params = {"rules": [{"condition": "{{ json.priority == 'high' }}", "output": "urgent"}]}
    out = await run_node(Switch, params, TICKETS)
    assert out == {"urgent": [TICKETS[0]]}


async def test_switch_in_a_workflow_skips_outputs_that_got_nothing() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node(
                "s",
                "core.switch",
                parameters={
                    "rules": [
                        {"condition": "{{ json.n > 10 }}", "output": "big"},
                        {"condition": "{{ json.n > 0 }}", "output": "small"},
                    ]
                },
            ),
            node("big", "core.noop"),
            node("small", "core.noop"),
        ],
        [edge("t", "s"), edge("s", "big", "big"), edge("s", "small", "small")],
    )
    result = await run_workflow(wf, [{"n": 3}, {"n": 5}], registry=REGISTRY)
    assert result.output("small") == [{"n": 3}, {"n": 5}]
    assert result.skipped == {"big"}


async def test_filter_keeps_matches_and_reports_the_rest() -> None:
    out = await run_node(Filter, {"condition": "{{ 'bug' in (json.tags or []) }}"}, TICKETS)
    assert [i["id"] for i in out["main"]] == [3]
    assert [i["id"] for i in out["discarded"]] == [1, 2, 4]


async def test_noop_passes_items_through() -> None:
    assert await run_node(NoOp, {}, TICKETS) == {"main": TICKETS}


async def test_stop_error_fails_with_the_message() -> None:
    with pytest.raises(NodeError, match=r"^Ticket 1 has no owner$"):
        await run_node(StopError, {"message": "Ticket {{ json.id }} has no owner"}, TICKETS)
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("stop", "core.stop_error", "Stop", parameters={"message": "Nope"}),
            node("after", "core.noop"),
        ],
        chain("t", "stop", "after"),
    )
    result = await run_workflow(wf, [{}], registry=REGISTRY)
    assert result.status == "failed"
    assert result.error is not None
    assert (result.error.node_name, result.error.message) == ("Stop", "Nope")


async def test_a_condition_that_is_not_an_expression_is_caught_at_run_time_too() -> None:
    wf = definition(
        [node("t", "core.manual_trigger"), node("i", "core.if", parameters={"condition": "json.ok"})],
        chain("t", "i"),
    )
    result = await run_workflow(wf, [{}], registry=REGISTRY)
    assert result.error is not None
    assert "a condition must be an expression" in result.error.message


async def test_unknown_parameters_are_refused() -> None:
    with pytest.raises(ParameterError, match="conditon: Extra inputs are not permitted"):
        await run_node(If, {"condition": True, "conditon": "{{ json.x }}"}, [{}])
