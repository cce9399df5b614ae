"""The in-memory runner: order, skipping, retries, on_error, timeouts, resume, pins, loops."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirework.engine.definition import NodeSpec, WorkflowDefinition
from wirework.engine.errors import DefinitionInvalid, NodeError, NodeFailure, WaitRequested
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Node, NodeContext, NodeParameters, NodeRegistry
from wirework.engine.runner import NodeStatus, RunHooks, RunResult, run_workflow
from wirework.engine.testing import chain, definition, edge, node
from wirework.nodes import load_builtin_nodes


class FlakyParameters(NodeParameters):
    failures: int = 1


class Flaky(Node):
    """Fails its first `failures` calls (counted in services, shared by the test)."""

    type = "test.flaky"
    display_name = "Flaky"
    Parameters = FlakyParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        ctx.services["calls"] += 1
        if ctx.services["calls"] <= ctx.params(FlakyParameters).failures:
            raise ConnectionError("upstream refused the connection")
        return {"main": [{**item, "attempt": ctx.attempt} for item in ctx.items]}


class SlowParameters(NodeParameters):
    seconds: float = 10


class Slow(Node):
    type = "test.slow"
    display_name = "Slow"
    Parameters = SlowParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        await asyncio.sleep(ctx.params(SlowParameters).seconds)
        return {"main": ctx.items}


class Explode(Node):
    """Fails whenever it runs: proves a node was not run."""

    type = "test.explode"
    display_name = "Explode"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        raise NodeError("this node must not run", description="boom")


class Pause(Node):
    type = "test.pause"
    display_name = "Pause"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        if ctx.resume is None:
            raise WaitRequested(datetime(2030, 1, 1, tzinfo=UTC), payload={"why": "approval"})
        return {"main": [{**item, "approved_by": ctx.resume["by"]} for item in ctx.items]}


class BadOutput(Node):
    type = "test.bad_output"
    display_name = "Bad output"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": [{"when": datetime(2024, 1, 1)}]}


REGISTRY = load_builtin_nodes(NodeRegistry())
for cls in (Flaky, Slow, Explode, Pause, BadOutput):
    REGISTRY.register(cls)


class Recorder(RunHooks):
    """Hooks as the durable runner would use them: a log, and committed outputs."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.committed: dict[str, NodeOutputs] = {}
        self.crash_after = crash_after
        self.finishes = 0

    async def on_node_start(self, node: NodeSpec, attempt: int, inputs: Mapping[str, Items]) -> None:
        self.events.append(("start", node.id, attempt))

    async def on_node_finish(
        self,
        node: NodeSpec,
        attempt: int,
        status: NodeStatus,
        outputs: NodeOutputs | None,
        error: NodeFailure | None,
        reset: tuple[str, ...],
    ) -> None:
        self.events.append(("finish", node.id, attempt, status))
        if outputs is not None and status != "error":
            self.committed[node.id] = outputs
            for body_id in reset:
                self.committed.pop(body_id, None)
        self.finishes += 1
        if self.crash_after is not None and self.finishes >= self.crash_after:
            raise SystemExit("worker died")  # BaseException: nothing in the engine catches it


async def run(wf: WorkflowDefinition, items: Items | None = None, **kwargs: Any) -> RunResult:
    return await run_workflow(wf, items, registry=REGISTRY, **kwargs)


ORDERS = [{"id": 1, "total": 250}, {"id": 2, "total": 40}, {"id": 3, "total": 120}]


def order_flow() -> WorkflowDefinition:
    return definition(
        [
            node("t", "core.manual_trigger", "Start"),
            node("vat", "core.set", "Add VAT", parameters={"fields": {"gross": "{{ json.total * 1.2 }}"}}),
            node("if", "core.if", "Big?", parameters={"condition": "{{ json.gross > 200 }}"}),
            node("big", "core.set", "Flag big", parameters={"fields": {"big": True}}),
            node("small", "core.set", "Flag small", parameters={"fields": {"big": False}}),
            node("m", "core.merge", "Merge"),
        ],
        [
            *chain("t", "vat", "if"),
            edge("if", "big", "true"),
            edge("if", "small", "false"),
            edge("big", "m", input="a"),
            edge("small", "m", input="b"),
        ],
    )


async def test_a_workflow_runs_in_readiness_order() -> None:
    result = await run(order_flow(), ORDERS)
    assert result.status == "completed"
    assert result.runs == ["t", "vat", "if", "big", "small", "m"]
    assert result.output("Merge") == [  # a's items, then b's
        {"id": 1, "total": 250, "gross": 300.0, "big": True},
        {"id": 2, "total": 40, "gross": 48.0, "big": False},
        {"id": 3, "total": 120, "gross": 144.0, "big": False},
    ]
    assert result.statuses == dict.fromkeys(result.runs, "success")


async def test_hooks_see_each_node_finish_before_its_successors_start() -> None:
    hooks = Recorder()
    result = await run(order_flow(), ORDERS, hooks=hooks)
    assert hooks.events == [
        event
        for node_id in result.runs
        for event in (("start", node_id, 1), ("finish", node_id, 1, "success"))
    ]
    assert hooks.committed == result.outputs


async def test_an_empty_branch_is_skipped_and_the_merge_still_runs() -> None:
    result = await run(order_flow(), [{"id": 9, "total": 10}])
    assert result.runs == ["t", "vat", "if", "small", "m"]
    assert result.skipped == {"big"}
    assert result.output("Merge") == [{"id": 9, "total": 10, "gross": 12.0, "big": False}]


async def test_expressions_see_earlier_nodes_by_name() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger", "Start"),
            node(
                "s",
                "core.set",
                "Label",
                parameters={
                    "fields": {
                        "first_id": "{{ nodes['Start'].first.id }}",
                        "count": "{{ items | length }}",
                        "run": "{{ execution.id }}:{{ workflow.name }}",
                    }
                },
            ),
        ],
        chain("t", "s"),
    )
    result = await run(wf, ORDERS[:2], execution={"id": "e-1"}, workflow={"name": "Orders"})
    assert [(i["first_id"], i["count"], i["run"]) for i in result.output("Label")] == [
        (1, 2, "e-1:Orders"),
        (1, 2, "e-1:Orders"),
    ]


async def test_a_failing_node_is_retried_with_doubling_backoff() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    hooks = Recorder()
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("f", "test.flaky", parameters={"failures": 2}, retry={"max_attempts": 3, "backoff_s": 0.5}),
        ],
        chain("t", "f"),
    )
    result = await run(wf, [{"x": 1}], hooks=hooks, sleep=sleep, services={"calls": 0})
    assert result.status == "completed"
    assert slept == [0.5, 1.0]
    assert result.output("f") == [{"x": 1, "attempt": 3}]
    assert [e for e in hooks.events if e[1] == "f"] == [
        ("start", "f", 1),
        ("finish", "f", 1, "error"),
        ("start", "f", 2),
        ("finish", "f", 2, "error"),
        ("start", "f", 3),
        ("finish", "f", 3, "success"),
    ]


async def test_when_retries_run_out_the_run_fails_at_that_node() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node(
                "f",
                "test.flaky",
                "Call API",
                parameters={"failures": 5},
                retry={"max_attempts": 2, "backoff_s": 0},
            ),
            node("after", "test.explode"),
        ],
        chain("t", "f", "after"),
    )
    result = await run(wf, [{}], services={"calls": 0})
    assert result.status == "failed"
    assert result.error is not None
    assert (result.error.node_id, result.error.node_name) == ("f", "Call API")
    assert result.error.message == "ConnectionError: upstream refused the connection"
    assert result.runs == ["t", "f"]
    assert "f" not in result.outputs


async def test_errors_that_retrying_cannot_fix_are_not_retried() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node(
                "s", "core.set", parameters={"fields": {"x": "{{ json.a.b + 1 }}"}}, retry={"max_attempts": 3}
            ),
        ],
        chain("t", "s"),
    )
    result = await run(wf, [{}], sleep=sleep)
    assert result.status == "failed"
    assert slept == []
    assert result.error is not None
    assert result.error.error_type == "ExpressionError"
    assert result.error.message.startswith("parameter 'fields.x':")
    assert result.error.item_index == 0


async def test_on_error_continue_passes_failed_items_on_with_the_error() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("x", "test.explode", "Risky", on_error="continue"),
            node("next", "core.noop"),
        ],
        chain("t", "x", "next"),
    )
    result = await run(wf, [{"id": 1}])
    assert result.status == "completed"
    assert result.statuses["x"] == "continued"
    assert result.output("next") == [
        {
            "id": 1,
            "error": {
                "message": "this node must not run",
                "type": "NodeError",
                "node": "Risky",
                "node_id": "x",
                "description": "boom",
            },
        }
    ]


async def test_on_error_error_output_routes_failed_items_to_the_error_branch() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("x", "test.explode", "Risky", on_error="error_output"),
            node("ok", "core.noop"),
            node("handle", "core.noop"),
        ],
        [edge("t", "x"), edge("x", "ok"), edge("x", "handle", "error")],
    )
    result = await run(wf, [{"id": 1}, {"id": 2}])
    assert result.status == "completed"
    assert result.skipped == {"ok"}
    assert [(i["id"], i["error"]["message"]) for i in result.output("handle")] == [
        (1, "this node must not run"),
        (2, "this node must not run"),
    ]


async def test_per_item_failures_go_to_the_error_output_and_the_rest_carry_on() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node(
                "d",
                "core.datetime",
                "Parse date",
                on_error="error_output",
                parameters={"operation": "parse", "value": "{{ json.when }}", "field": "parsed"},
            ),
            node("ok", "core.noop"),
            node("bad", "core.noop"),
        ],
        [edge("t", "d"), edge("d", "ok"), edge("d", "bad", "error")],
    )
    result = await run(wf, [{"when": "2024-05-17T10:00:00Z"}, {"when": "someday"}, {"when": "2024-01-01"}])
    assert result.statuses["d"] == "continued"
    assert [i["parsed"] for i in result.output("ok")] == [
        "2024-05-17T10:00:00+00:00",
        "2024-01-01T00:00:00+00:00",
    ]
    [bad] = result.output("bad")
    assert bad["when"] == "someday"
    assert bad["error"]["item_index"] == 1
    assert "cannot read 'someday' as a date" in bad["error"]["message"]


async def test_a_node_that_runs_too_long_times_out() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("s", "test.slow", "Slow call", timeout_s=0.05, retry={"max_attempts": 2, "backoff_s": 0}),
        ],
        chain("t", "s"),
    )
    hooks = Recorder()
    result = await run(wf, [{}], hooks=hooks)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.message == "the node took longer than its time limit"
    assert [e for e in hooks.events if e[0] == "finish" and e[1] == "s"] == [
        ("finish", "s", 1, "error"),
        ("finish", "s", 2, "failed"),
    ]


async def test_the_workflow_time_limit_stops_the_run_without_retries() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("s", "test.slow", retry={"max_attempts": 3, "backoff_s": 0}, on_error="continue"),
        ],
        chain("t", "s"),
    )
    result = await run(wf, [{}], time_limit_s=0.05)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_type == "WorkflowTimeout"


async def test_resuming_from_finished_outputs_runs_only_the_rest() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("x", "test.explode", "Done before"),
            node("s", "core.set", parameters={"fields": {"resumed": True}}),
        ],
        chain("t", "x", "s"),
    )
    finished = {"t": {"main": [{"id": 1}]}, "x": {"main": [{"id": 1, "step": "x"}]}}
    result = await run(wf, finished=finished)
    assert result.status == "completed"
    assert result.runs == ["s"]
    assert result.output("s") == [{"id": 1, "step": "x", "resumed": True}]
    assert set(result.outputs) == {"t", "x", "s"}


async def test_pinned_data_is_used_instead_of_running_the_node() -> None:
    hooks = Recorder()
    wf = definition(
        [node("t", "core.manual_trigger"), node("x", "test.explode", "Fetch"), node("s", "core.noop")],
        chain("t", "x", "s"),
    )
    result = await run(wf, [{}], pinned={"Fetch": [{"sample": True}]}, hooks=hooks)
    assert result.status == "completed"
    assert result.statuses["x"] == "pinned"
    assert result.output("s") == [{"sample": True}]
    assert ("finish", "x", 0, "pinned") in hooks.events
    assert ("start", "x", 1) not in hooks.events


async def test_a_disabled_node_passes_its_input_through() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("x", "test.explode", disabled=True),
            node("i", "core.if", parameters={"condition": "{{ false }}"}, disabled=True),
            node("yes", "core.noop"),
            node("no", "core.noop"),
        ],
        [*chain("t", "x", "i"), edge("i", "yes", "true"), edge("i", "no", "false")],
    )
    result = await run(wf, [{"id": 1}])
    assert result.statuses == {"t": "success", "x": "disabled", "i": "disabled", "yes": "success"}
    assert result.output("yes") == [{"id": 1}]
    assert result.skipped == {"no"}


async def test_a_waiting_node_pauses_the_run_and_resumes_later() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("p", "test.pause", "Approval"),
            node("s", "core.set", parameters={"fields": {"done": True}}),
        ],
        chain("t", "p", "s"),
    )
    hooks = Recorder()
    first = await run(wf, [{"id": 1}], hooks=hooks)
    assert first.status == "waiting"
    assert first.wait is not None
    assert (first.wait.node_id, first.wait.resume_at, first.wait.payload) == (
        "p",
        datetime(2030, 1, 1, tzinfo=UTC),
        {"why": "approval"},
    )
    second = await run(wf, finished=hooks.committed, resume={"Approval": {"by": "ops"}})
    assert second.status == "completed"
    assert second.runs == ["p", "s"]
    assert second.output("s") == [{"id": 1, "approved_by": "ops", "done": True}]


async def test_invalid_definitions_are_refused_before_running() -> None:
    with pytest.raises(DefinitionInvalid):
        await run(definition([node("t", "core.manual_trigger"), node("x", "core.nope")]))


async def test_bad_parameters_fail_the_node_when_it_runs() -> None:
    wf = definition(
        [node("t", "core.manual_trigger"), node("l", "core.limit", "Top", parameters={"max_items": -2})],
        chain("t", "l"),
    )
    result = await run(wf, [{}])
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.node_name == "Top"
    assert result.error.message.startswith("invalid parameters: max_items:")


async def test_output_that_is_not_json_fails_the_node_clearly() -> None:
    wf = definition([node("t", "core.manual_trigger"), node("b", "test.bad_output")], chain("t", "b"))
    result = await run(wf, [{}])
    assert result.error is not None
    assert result.error.message == ("output 'main'[0].when: a value of type datetime is not JSON")


def loop_flow(batch_size: int = 2) -> WorkflowDefinition:
    return definition(
        [
            node("t", "core.manual_trigger"),
            node("l", "core.loop", "Loop", parameters={"batch_size": batch_size}),
            node(
                "work",
                "core.set",
                "Work",
                parameters={
                    "fields": {
                        "square": "{{ json.n * json.n }}",
                        "batch": "{{ items | map(attribute='n') | list }}",
                    }
                },
            ),
            node("after", "core.aggregate", "Collect", parameters={"fields": ["square"]}),
        ],
        [edge("t", "l"), edge("l", "work", "loop"), edge("work", "l"), edge("l", "after", "done")],
    )


async def test_a_loop_runs_its_body_once_per_batch_then_outputs_everything() -> None:
    hooks = Recorder()
    result = await run(loop_flow(), [{"n": n} for n in range(1, 6)], hooks=hooks)
    assert result.status == "completed"
    assert result.runs == ["t", "l", "work", "l", "work", "l", "work", "l", "after"]
    assert [i["batch"] for i in result.output("Loop", "done")] == [[1, 2], [1, 2], [3, 4], [3, 4], [5]]
    assert result.output("Collect") == [{"square": [1, 4, 9, 16, 25]}]
    assert result.output("Work") == [{"n": 5, "square": 25, "batch": [5]}]  # last pass


async def test_a_loop_resumed_after_a_crash_gives_the_same_result() -> None:
    items = [{"n": n} for n in range(1, 6)]
    expected = (await run(loop_flow(), items)).outputs
    for crash_after in range(1, 9):
        hooks = Recorder(crash_after=crash_after)
        with pytest.raises(SystemExit):
            await run(loop_flow(), items, hooks=hooks)
        resumed = await run(loop_flow(), items, finished=dict(hooks.committed))
        assert resumed.status == "completed"
        assert resumed.outputs == expected, f"crash after {crash_after} node finishes"


async def test_nested_loops() -> None:
    wf = definition(
        [
            node("t", "core.manual_trigger"),
            node("outer", "core.loop", "Outer"),
            node(
                "split",
                "core.split_out",
                parameters={"field": "xs", "include": "selected", "include_fields": ["id"]},
            ),
            node("inner", "core.loop", "Inner"),
            node("work", "core.set", parameters={"fields": {"y": "{{ json.xs * 10 }}"}}),
            node("end", "core.noop", "End"),
        ],
        [
            edge("t", "outer"),
            edge("outer", "split", "loop"),
            edge("split", "inner"),
            edge("inner", "work", "loop"),
            edge("work", "inner"),
            edge("inner", "outer", "done"),
            edge("outer", "end", "done"),
        ],
    )
    result = await run(wf, [{"id": 1, "xs": [1, 2]}, {"id": 2, "xs": [3]}])
    assert result.status == "completed"
    assert result.output("End") == [
        {"id": 1, "xs": 1, "y": 10},
        {"id": 1, "xs": 2, "y": 20},
        {"id": 2, "xs": 3, "y": 30},
    ]


async def test_a_runaway_execution_is_stopped() -> None:
    result = await run(loop_flow(batch_size=1), [{"n": n} for n in range(50)], max_node_runs=20)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_type == "TooManyNodeRuns"


@st.composite
def random_workflows(draw: st.DrawFn) -> tuple[WorkflowDefinition, Items]:
    """Random DAGs of IFs and no-ops after one trigger (edges only go forward)."""
    count = draw(st.integers(2, 9))
    nodes = [node("n0", "core.manual_trigger")]
    outputs = {"n0": ["main"]}
    for i in range(1, count):
        if draw(st.booleans()):
            modulo = draw(st.integers(2, 4))
            nodes.append(
                node(f"n{i}", "core.if", parameters={"condition": f"{{{{ json.v % {modulo} == 0 }}}}"})
            )
            outputs[f"n{i}"] = ["true", "false"]
        else:
            nodes.append(node(f"n{i}", "core.noop"))
            outputs[f"n{i}"] = ["main"]
    edges = []
    for i in range(1, count):
        sources = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=2, unique=True))
        for source in sources:
            output = draw(st.sampled_from(outputs[f"n{source}"]))
            edges.append(edge(f"n{source}", f"n{i}", output))
    items = [{"v": v} for v in draw(st.lists(st.integers(0, 20), min_size=1, max_size=4))]
    return definition(nodes, edges), items


@settings(max_examples=60, deadline=None)
@given(random_workflows(), st.integers(1, 9))
def test_scheduling_invariants_and_resume_on_random_workflows(
    case: tuple[WorkflowDefinition, Items], crash_after: int
) -> None:
    wf, items = case
    result = asyncio.run(run(wf, items))
    assert result.status == "completed"
    ids = [n.id for n in wf.nodes]
    assert len(result.runs) == len(set(result.runs))  # nothing runs twice
    assert set(result.runs) | result.skipped == set(ids)
    assert not set(result.runs) & result.skipped
    for node_id in ids[1:]:
        incoming = [e for e in wf.edges if e.target == node_id]
        delivered = sum(len(result.outputs.get(e.source, {}).get(e.output, [])) for e in incoming)
        # A node runs exactly when its inputs delivered something; otherwise it is skipped.
        assert (node_id in result.runs) == (delivered > 0)
        if node_id in result.runs:  # ...and only after all its sources were decided
            position = result.runs.index(node_id)
            assert all(e.source in result.skipped or result.runs.index(e.source) < position for e in incoming)
    # Crash after some node finished, resume from what was committed: same outputs.
    hooks = Recorder(crash_after=crash_after)
    try:
        asyncio.run(run(wf, items, hooks=hooks))
    except SystemExit:
        resumed = asyncio.run(run(wf, items, finished=dict(hooks.committed)))
        assert resumed.outputs == result.outputs
        assert not set(resumed.runs) & set(hooks.committed)
