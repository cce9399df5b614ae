"""The incremental scheduler (`Frontier`) agrees with `plan`, the specification, at every step
of random runs: random DAGs of IFs, merges (some wait_all), no-ops and loops (nested too),
random outputs (so branches are skipped), random start nodes and random resumed state."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wirework.engine.errors import DefinitionInvalid
from wirework.engine.graph import Frontier, Graph, compile_graph, loop_reset, plan
from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import NodeRegistry
from wirework.engine.testing import definition, edge, node
from wirework.nodes import load_builtin_nodes

REGISTRY = load_builtin_nodes(NodeRegistry())
OUTPUTS = {
    "core.manual_trigger": ["main"],
    "core.noop": ["main"],
    "core.if": ["true", "false"],
    "core.merge": ["main"],
    "core.loop": ["loop", "done"],
}
INPUTS = {"core.noop": ["main"], "core.if": ["main"], "core.merge": ["a", "b"], "core.loop": ["main"]}
MAX_PASSES = 3  # batches per loop node in a simulated run


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    count = draw(st.integers(2, 12))
    types = ["core.manual_trigger"]
    types += [draw(st.sampled_from([*sorted(INPUTS), "core.manual_trigger"])) for _ in range(count - 1)]
    nodes = []
    for i, type_ in enumerate(types):
        parameters: dict[str, Any] = {}
        if type_ == "core.merge" and draw(st.booleans()):
            parameters = {"mode": "wait_all"}
        nodes.append(node(f"n{i}", type_, parameters=parameters))
    edges = []
    for i, type_ in enumerate(types):
        if type_ == "core.manual_trigger":
            continue
        for source in draw(st.lists(st.integers(0, i - 1), min_size=0, max_size=3, unique=True)):
            edges.append(
                edge(
                    f"n{source}",
                    f"n{i}",
                    draw(st.sampled_from(OUTPUTS[types[source]])),
                    draw(st.sampled_from(INPUTS[type_])),
                )
            )
    for i, type_ in enumerate(types):  # back edges into loops, from later nodes
        if type_ == "core.loop" and i + 1 < count and draw(st.booleans()):
            source = draw(st.integers(i + 1, count - 1))
            if types[source] != "core.manual_trigger":
                edges.append(edge(f"n{source}", f"n{i}", draw(st.sampled_from(OUTPUTS[types[source]]))))
    try:
        return compile_graph(definition(nodes, edges), REGISTRY.find)
    except DefinitionInvalid:
        assume(False)
        raise


def outputs_for(draw: st.DrawFn, graph: Graph, node_id: str, passes: int) -> NodeOutputs:
    """Random outputs; a loop iterates at most MAX_PASSES times."""
    outputs: NodeOutputs = {}
    for name in OUTPUTS[graph.nodes[node_id].type]:
        outputs[name] = [{"from": node_id}] if draw(st.booleans()) else []
    loop_output = graph.loop_outputs.get(node_id)
    if loop_output is not None and passes >= MAX_PASSES:
        outputs[loop_output] = []
    return outputs


def assert_same(frontier: Frontier, graph: Graph, finished: dict[str, NodeOutputs], starts: Any) -> None:
    expected = plan(graph, finished, starts)
    assert frontier.plan() == expected
    assert frontier.next() == (expected.ready[0] if expected.ready else None)
    assert frontier.skipped() == expected.skipped


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(graphs(), st.data())
def test_the_frontier_agrees_with_plan_at_every_step(graph: Graph, data: st.DataObject) -> None:
    roots = list(graph.roots)
    starts = data.draw(st.lists(st.sampled_from(roots), unique=True)) if roots else []
    finished: dict[str, NodeOutputs] = {}
    for node_id in data.draw(st.lists(st.sampled_from(list(graph.order)), unique=True, max_size=4)):
        finished[node_id] = outputs_for(data.draw, graph, node_id, 0)  # resumed, maybe inconsistent
    reference = dict(finished)
    frontier = Frontier(graph, finished, starts)
    passes: dict[str, int] = {}
    for _ in range(200):
        assert_same(frontier, graph, finished, starts)
        node_id = frontier.next()
        if node_id is None:
            break
        passes[node_id] = passes.get(node_id, 0) + 1
        outputs = outputs_for(data.draw, graph, node_id, passes[node_id])
        frontier.finish(node_id, outputs)
        reference[node_id] = outputs  # what the runner did before the frontier existed
        for body_id in loop_reset(graph, node_id, outputs):
            reference.pop(body_id, None)
        assert finished == reference
    else:
        raise AssertionError("the simulated run did not end")


def test_a_loop_with_an_empty_body_runs_its_batches() -> None:
    graph = compile_graph(
        definition(
            [node("t", "core.manual_trigger"), node("l", "core.loop"), node("after", "core.noop")],
            [edge("t", "l"), edge("l", "after", "done")],
        ),
        REGISTRY.find,
    )
    finished: dict[str, NodeOutputs] = {}
    frontier = Frontier(graph, finished, ("t",))
    runs = []
    batches = [{"loop": [{}], "done": []}, {"loop": [{}], "done": []}, {"loop": [], "done": [{}]}]
    while (node_id := frontier.next()) is not None:
        runs.append(node_id)
        frontier.finish(node_id, batches.pop(0) if node_id == "l" else {"main": [{}]})
        assert_same(frontier, graph, finished, ("t",))
    assert runs == ["t", "l", "l", "l", "after"]
