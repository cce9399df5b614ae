"""Graph rules: validation errors that point at nodes, and the pure scheduling functions."""

from __future__ import annotations

from typing import Any

import pytest

from wirework.engine.errors import DefinitionInvalid
from wirework.engine.graph import (
    Graph,
    collect_inputs,
    compile_graph,
    downstream_of,
    loop_reset,
    plan,
    start_nodes,
    validate_definition,
)
from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import NodeRegistry
from wirework.engine.testing import chain, definition, edge, node
from wirework.nodes import load_builtin_nodes

REGISTRY = load_builtin_nodes(NodeRegistry())
LOOKUP = REGISTRY.find


def errors_of(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
) -> list[tuple[str | None, str | None, str]]:
    found = validate_definition({"nodes": nodes, "edges": edges or []}, LOOKUP)
    return [(e.node_id, e.field, e.code) for e in found]


def compiled(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Graph:
    return compile_graph(definition(nodes, edges), LOOKUP)


# --- validation -----------------------------------------------------------------------------


def test_a_valid_workflow_has_no_errors() -> None:
    assert errors_of([node("t", "core.manual_trigger"), node("s", "core.set")], chain("t", "s")) == []


def test_unknown_node_type_points_at_the_node() -> None:
    found = validate_definition(
        {"nodes": [node("t", "core.manual_trigger"), node("x", "core.teleport", version=2)]}, LOOKUP
    )
    assert [(e.node_id, e.field, e.code) for e in found] == [("x", "type", "unknown_type")]
    assert found[0].message == "unknown node type 'core.teleport' (version 2)"


def test_dangling_edges_point_at_the_node_they_touch() -> None:
    nodes = [node("t", "core.manual_trigger"), node("i", "core.if"), node("m", "core.merge")]
    nodes[1]["parameters"] = {"condition": "{{ json.ok }}"}
    found = errors_of(
        nodes,
        [
            edge("t", "ghost"),  # unknown target
            edge("i", "m", "maybe", "a"),  # IF has no output 'maybe'
            edge("t", "m", "main", "main"),  # merge has inputs a/b, not main
            edge("i", "t", "true"),  # a trigger has no input
            edge("i", "m", "error", "b"),  # error output needs on_error=error_output
        ],
    )
    assert found == [
        ("t", "edges[0]", "unknown_node"),
        ("i", "edges[1]", "unknown_output"),
        ("m", "edges[2]", "unknown_input"),
        ("t", "edges[3]", "unknown_input"),
        ("i", "edges[4]", "unknown_output"),
    ]


def test_the_error_output_exists_with_on_error_error_output() -> None:
    assert (
        errors_of(
            [node("t", "core.manual_trigger", on_error="error_output"), node("s", "core.noop")],
            [edge("t", "s", "error")],
        )
        == []
    )


def test_cycles_are_errors_on_every_node_of_the_cycle() -> None:
    nodes = [
        node("t", "core.manual_trigger"),
        node("a", "core.noop", "A"),
        node("b", "core.noop", "B"),
        node("c", "core.noop", "C"),
    ]
    found = validate_definition(
        {"nodes": nodes, "edges": [*chain("t", "a", "b", "c"), edge("c", "a")]}, LOOKUP
    )
    assert [(e.node_id, e.code) for e in found] == [("a", "cycle"), ("b", "cycle"), ("c", "cycle")]
    assert "cycle between 'A', 'B', 'C'" in found[0].message
    assert "core.loop" in found[0].message


def test_a_cycle_through_a_loop_nodes_loop_output_is_allowed() -> None:
    nodes = [
        node("t", "core.manual_trigger"),
        node("l", "core.loop"),
        node("b", "core.noop"),
        node("d", "core.noop"),
    ]
    edges = [edge("t", "l"), edge("l", "b", "loop"), edge("b", "l"), edge("l", "d", "done")]
    assert errors_of(nodes, edges) == []


def test_a_cycle_through_a_loop_nodes_done_output_is_not() -> None:
    nodes = [node("t", "core.manual_trigger"), node("l", "core.loop"), node("d", "core.noop")]
    edges = [edge("t", "l"), edge("l", "d", "done"), edge("d", "l")]
    assert {code for _, _, code in errors_of(nodes, edges)} == {"cycle"}


def test_a_loop_body_fed_from_after_the_loop_is_refused() -> None:
    nodes = [
        node("t", "core.manual_trigger"),
        node("l", "core.loop"),
        node("b", "core.noop"),
        node("d", "core.noop"),
    ]
    edges = [edge("t", "l"), edge("l", "b", "loop"), edge("b", "l"), edge("l", "d", "done"), edge("d", "b")]
    assert errors_of(nodes, edges) == [("b", None, "loop")]


def test_bad_parameters_point_at_the_node_and_field() -> None:
    found = validate_definition(
        {
            "nodes": [
                node("t", "core.manual_trigger"),
                node("l", "core.limit", parameters={"max_items": -1, "keep": "middle"}),
                node("ok", "core.limit", parameters={"max_items": "{{ vars.max }}"}),
            ]
        },
        LOOKUP,
    )
    assert [(e.node_id, e.field) for e in found] == [("l", "parameters.max_items"), ("l", "parameters.keep")]
    assert found[0].message.startswith("max_items: Input should be greater than or equal to 0")


def test_duplicate_names_and_edges_and_unknown_credentials() -> None:
    assert errors_of([node("a", "core.noop", "Same"), node("b", "core.noop", "Same")]) == [
        ("b", "name", "duplicate_name")
    ]
    assert errors_of(
        [node("t", "core.manual_trigger"), node("n", "core.noop")], [edge("t", "n"), edge("t", "n")]
    ) == [("n", "edges[1]", "duplicate_edge")]
    assert errors_of([node("n", "core.noop", credentials={"slack": "c1"})]) == [
        ("n", "credentials.slack", "credential")
    ]


def test_compile_graph_raises_definition_invalid() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        compile_graph({"nodes": [node("x", "core.nope")]}, LOOKUP)
    assert caught.value.errors == [
        {
            "loc": ["nodes", "x", "type"],
            "type": "unknown_type",
            "msg": "unknown node type 'core.nope' (version 1)",
            "node_id": "x",
            "field": "type",
        }
    ]


def test_switch_outputs_come_from_its_rules() -> None:
    switch = node(
        "s",
        "core.switch",
        parameters={
            "rules": [
                {"condition": "{{ json.n > 1 }}", "output": "big"},
                {"condition": "{{ json.n > 0 }}", "output": "small"},
            ],
            "fallback": "other",
        },
    )
    nodes = [node("t", "core.manual_trigger"), switch, node("a", "core.noop")]
    assert errors_of(nodes, [edge("t", "s"), edge("s", "a", "other")]) == []
    assert errors_of(nodes, [edge("t", "s"), edge("s", "a", "huge")]) == [("s", "edges[1]", "unknown_output")]


# --- scheduling -----------------------------------------------------------------------------

IF_GRAPH = [
    node("t", "core.manual_trigger"),
    node("i", "core.if", parameters={"condition": "{{ json.ok }}"}),
    node("yes", "core.noop"),
    node("no", "core.noop"),
    node("no2", "core.noop"),
    node("m", "core.merge"),
]
IF_EDGES = [
    edge("t", "i"),
    edge("i", "yes", "true"),
    edge("i", "no", "false"),
    edge("no", "no2"),
    edge("yes", "m", input="a"),
    edge("no2", "m", input="b"),
]


def test_only_start_nodes_are_ready_at_first() -> None:
    graph = compiled(IF_GRAPH, IF_EDGES)
    first = plan(graph, {}, start_nodes(graph))
    assert first.ready == ("t",)
    assert first.skipped == frozenset()
    assert first.waiting == {"i", "yes", "no", "no2", "m"}


def test_an_empty_branch_is_skipped_and_skipping_propagates() -> None:
    graph = compiled(IF_GRAPH, IF_EDGES)
    finished: dict[str, NodeOutputs] = {
        "t": {"main": [{"ok": True}]},
        "i": {"true": [{"ok": True}], "false": []},
    }
    now = plan(graph, finished, ("t",))
    assert now.ready == ("yes",)
    assert now.skipped == {"no", "no2"}


def test_a_merge_with_a_skipped_branch_runs_with_what_it_got() -> None:
    graph = compiled(IF_GRAPH, IF_EDGES)
    finished: dict[str, NodeOutputs] = {
        "t": {"main": [{"ok": True}]},
        "i": {"true": [{"ok": True}], "false": []},
        "yes": {"main": [{"ok": True}]},
    }
    assert plan(graph, finished, ("t",)).ready == ("m",)
    assert collect_inputs(graph, finished, "m") == {"a": [{"ok": True}], "b": []}


def test_merge_wait_all_is_skipped_when_a_branch_is_skipped() -> None:
    nodes = [dict(n) for n in IF_GRAPH]
    nodes[-1]["parameters"] = {"mode": "wait_all"}
    graph = compiled(nodes, IF_EDGES)
    finished: dict[str, NodeOutputs] = {
        "t": {"main": [{}]},
        "i": {"true": [{}], "false": []},
        "yes": {"main": [{}]},
    }
    now = plan(graph, finished, ("t",))
    assert now.ready == ()
    assert now.skipped == {"no", "no2", "m"}
    assert now.waiting == frozenset()


def test_a_node_waits_for_every_input_that_can_still_receive_items() -> None:
    graph = compiled(IF_GRAPH, IF_EDGES)
    finished: dict[str, NodeOutputs] = {
        "t": {"main": [{}, {}]},
        "i": {"true": [{}], "false": [{}]},
        "yes": {"main": [{}]},
    }
    now = plan(graph, finished, ("t",))
    assert now.ready == ("no",)
    assert "m" in now.waiting


def test_other_roots_than_the_trigger_are_skipped() -> None:
    graph = compiled(
        [
            node("t", "core.manual_trigger"),
            node("a", "core.noop"),
            node("orphan", "core.noop"),
            node("after", "core.noop"),
        ],
        [edge("t", "a"), edge("orphan", "after")],
    )
    assert start_nodes(graph) == ("t",)
    assert plan(graph, {}, ("t",)).skipped == {"orphan", "after"}
    with pytest.raises(ValueError, match="incoming"):
        start_nodes(graph, "a")
    assert start_nodes(graph, "orphan") == ("orphan",)


def test_ready_nodes_come_in_topological_then_definition_order() -> None:
    graph = compiled(
        [
            node("t", "core.manual_trigger"),
            node("b", "core.noop"),
            node("a", "core.noop"),
            node("c", "core.noop"),
        ],
        [edge("t", "a"), edge("t", "b"), edge("a", "c")],
    )
    assert graph.order == ("t", "b", "a", "c")
    assert plan(graph, {"t": {"main": [{}]}}, ("t",)).ready == ("b", "a")


def test_edges_into_one_input_are_concatenated_in_edge_order() -> None:
    graph = compiled(
        [
            node("t", "core.manual_trigger"),
            node("a", "core.noop"),
            node("b", "core.noop"),
            node("c", "core.noop"),
        ],
        [edge("t", "a"), edge("t", "b"), edge("b", "c"), edge("a", "c")],
    )
    finished: dict[str, NodeOutputs] = {
        "t": {"main": [{}]},
        "a": {"main": [{"n": "a"}]},
        "b": {"main": [{"n": "b"}]},
    }
    assert collect_inputs(graph, finished, "c") == {"main": [{"n": "b"}, {"n": "a"}]}


LOOP_NODES = [
    node("t", "core.manual_trigger"),
    node("l", "core.loop"),
    node("body", "core.noop"),
    node("after", "core.noop"),
]
LOOP_EDGES = [edge("t", "l"), edge("l", "body", "loop"), edge("body", "l"), edge("l", "after", "done")]


def test_loop_scheduling() -> None:
    graph = compiled(LOOP_NODES, LOOP_EDGES)
    assert graph.loop_bodies == {"l": ("body",)}
    assert [(e.source, e.target) for e in graph.back_edges["l"]] == [("body", "l")]
    iterating: NodeOutputs = {"loop": [{"n": 1}], "done": [], "$state": [{}]}
    finished: dict[str, NodeOutputs] = {"t": {"main": [{"n": 1}, {"n": 2}]}, "l": iterating}
    now = plan(graph, finished, ("t",))
    assert now.ready == ("body",)
    assert "after" in now.waiting  # `done` is not settled while the loop iterates
    assert loop_reset(graph, "l", iterating) == ("body",)

    finished["body"] = {"main": [{"n": 1, "seen": True}]}
    now = plan(graph, finished, ("t",))
    assert now.ready == ("l",)  # the body finished: the loop runs again
    assert collect_inputs(graph, finished, "l") == {"main": [{"n": 1, "seen": True}]}

    finished["l"] = {"loop": [], "done": [{"n": 1, "seen": True}], "$state": [{}]}
    assert loop_reset(graph, "l", finished["l"]) == ()
    assert plan(graph, finished, ("t",)).ready == ("after",)


def test_downstream_of_a_node() -> None:
    graph = compiled(IF_GRAPH, IF_EDGES)
    assert downstream_of(graph, "no") == {"no", "no2", "m"}
    assert graph.resolve("no2") == "no2"
    with pytest.raises(KeyError):
        graph.resolve("nope")
