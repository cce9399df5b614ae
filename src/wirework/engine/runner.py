"""The in-memory executor: runs a workflow node by node with retries, timeouts and on_error.

It knows nothing of the database. The durable runner drives it through `RunHooks`
(write an `execution_logs` row on start, commit a node's outputs on finish, before
any successor starts) and resumes an execution by passing the committed outputs as
`finished`: finished nodes never run again, and `graph.Frontier` (the incremental form of
`graph.plan`) re-derives the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from wirework.engine.cooperative import run_cooperatively
from wirework.engine.definition import ERROR_OUTPUT, NodeSpec, WorkflowDefinition
from wirework.engine.errors import NodeFailure, ParameterError, WaitRequested
from wirework.engine.expressions import NodesView, has_expressions
from wirework.engine.graph import (
    Frontier,
    Graph,
    collect_inputs,
    compile_graph,
    loop_reset,
    start_nodes,
)
from wirework.engine.items import Item, Items, NodeOutputs, ensure_items
from wirework.engine.nodes import Node, NodeContext, NodeLogger, NodeRegistry, parameter_errors

NodeStatus = Literal["success", "error", "failed", "continued", "waiting", "pinned", "disabled"]
"""success: ran; error: an attempt failed and will be retried; failed: gave up, the run
stops; continued: failed (wholly or some items) but on_error routed the failed items
on; waiting: raised WaitRequested; pinned: pinned items used instead of running;
disabled: input passed through unchanged."""
RunStatus = Literal["completed", "failed", "waiting"]

DEFAULT_MAX_NODE_RUNS: Final = 100_000
log = logging.getLogger("wirework.engine.runner")


class RunHooks:
    """What the runtime hears about each node run. Override what you need; all default to no-op.

    `on_node_finish` is awaited before any successor starts, so the durable runner can
    commit `outputs` there. `reset` lists body nodes of a loop whose outputs are now
    void (the loop emitted a new batch): delete them in the same transaction.
    Pinned and disabled nodes get only `on_node_finish`, with attempt 0.
    """

    async def on_node_start(self, node: NodeSpec, attempt: int, inputs: Mapping[str, Items]) -> None:
        return None

    async def on_node_finish(
        self,
        node: NodeSpec,
        attempt: int,
        status: NodeStatus,
        outputs: NodeOutputs | None,
        error: NodeFailure | None,
        reset: tuple[str, ...],
    ) -> None:
        return None


@dataclass(frozen=True, slots=True)
class WaitInfo:
    node_id: str
    resume_at: datetime | None
    payload: dict[str, Any]


@dataclass(slots=True)
class RunResult:
    """How a run ended. `outputs` holds every finished node's outputs by node id (including
    those passed in as `finished`); `statuses` the last status of nodes run in this call."""

    status: RunStatus
    graph: Graph
    outputs: dict[str, NodeOutputs]
    statuses: dict[str, NodeStatus] = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()
    error: NodeFailure | None = None
    wait: WaitInfo | None = None
    runs: list[str] = field(default_factory=list)
    """Node ids in the order they ran in this call (a loop's nodes appear once per pass)."""

    def output(self, ref: str, output: str | None = None) -> Items:
        """Items of a node (by id or name) on an output (default: its primary output)."""
        node_id = self.graph.resolve(ref)
        name = output or self.graph.primary_outputs.get(node_id, "main")
        return self.outputs.get(node_id, {}).get(name, [])


Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def run_workflow(
    definition: WorkflowDefinition | Mapping[str, Any] | Graph,
    input_items: Items | None = None,
    *,
    registry: NodeRegistry,
    vars: Mapping[str, Any] | None = None,
    execution: Mapping[str, Any] | None = None,
    workflow: Mapping[str, Any] | None = None,
    finished: Mapping[str, NodeOutputs] | None = None,
    pinned: Mapping[str, Items | NodeOutputs] | None = None,
    start: str | Sequence[str] | None = None,
    resume: Mapping[str, Any] | None = None,
    hooks: RunHooks | None = None,
    services: Any = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = _utc_now,
    logger: NodeLogger | None = None,
    time_limit_s: float | None = None,
    max_node_runs: int = DEFAULT_MAX_NODE_RUNS,
) -> RunResult:
    """Run a workflow to its end (or to a failure, or to a node that waits).

    `input_items` go to the start nodes' `main` input. `finished` (node id → outputs)
    resumes an execution or re-runs from a node: those nodes are not run again.
    `pinned` (node id or name → items or outputs) replaces running those nodes.
    `start` picks the start node(s) (default: the trigger roots). `resume` (node id or
    name → payload) resumes nodes that raised WaitRequested. `time_limit_s` defaults to
    the workflow's `settings.timeout_s`, counted from this call. `sleep` and `clock`
    are injectable for tests. Raises DefinitionInvalid if the structure is invalid.
    """
    graph = definition if isinstance(definition, Graph) else compile_graph(definition, registry.find)
    run = _Run(
        graph=graph,
        hooks=hooks or RunHooks(),
        sleep=sleep,
        clock=clock,
        vars=vars if vars is not None else {},
        execution=dict(execution) if execution is not None else {"id": None, "mode": "manual"},
        workflow={
            "id": None,
            "name": None,
            **(workflow or {}),
            "timezone": graph.definition.settings.timezone,
        },
        services=services,
        logger=logger,
    )
    state: dict[str, NodeOutputs] = {}
    for node_id, outputs in (finished or {}).items():
        state[graph.resolve(node_id)] = outputs
    pins = pinned_outputs(graph, pinned)
    resumes = {graph.resolve(ref): payload for ref, payload in (resume or {}).items()}
    starts = start_nodes(graph, start)
    seed = ensure_items(list(input_items or []), where="input items")
    loop = asyncio.get_running_loop()
    limit = time_limit_s if time_limit_s is not None else graph.definition.settings.timeout_s
    deadline = loop.time() + limit
    result = RunResult("completed", graph, state)

    frontier = Frontier(graph, state, starts)
    while True:
        next_id = frontier.next()
        if next_id is None:
            current = frontier.plan()
            result.skipped = current.skipped
            if current.waiting:
                names = ", ".join(repr(graph.nodes[n].name) for n in sorted(current.waiting))
                result.status = "failed"
                result.error = NodeFailure(f"the execution stalled: {names} can never run", "Stalled", "", "")
            return result
        node_id = next_id
        spec = graph.nodes[node_id]
        if len(result.runs) >= max_node_runs:
            result.status = "failed"
            result.error = NodeFailure(
                f"the execution ran {max_node_runs} nodes without ending; is a loop endless?",
                "TooManyNodeRuns",
                node_id,
                spec.name,
            )
            return result
        result.runs.append(node_id)
        if node_id in starts and node_id not in state:
            inputs: dict[str, Items] = {"main": seed}
        else:
            inputs = collect_inputs(graph, state, node_id)

        if node_id in pins:
            outcome = _Outcome("pinned", pins[node_id], None, 0)
            await run.hooks.on_node_finish(spec, 0, "pinned", outcome.outputs, None, ())
        elif spec.disabled:
            out_name = graph.types[node_id].disabled_output(spec.parameters)
            outcome = _Outcome("disabled", {out_name: _main_items(inputs)}, None, 0)
            await run.hooks.on_node_finish(spec, 0, "disabled", outcome.outputs, None, ())
        else:
            outcome = await run.execute(node_id, inputs, state, resumes.pop(node_id, None), deadline)

        result.statuses[node_id] = outcome.status
        if outcome.status == "waiting":
            assert outcome.wait is not None
            result.status, result.wait = "waiting", outcome.wait
            result.skipped = frontier.skipped()
            return result
        if outcome.outputs is None:  # failed
            result.status, result.error = "failed", outcome.error
            result.skipped = frontier.skipped()
            return result
        frontier.finish(node_id, outcome.outputs)  # also voids a loop body's outputs on a new batch


@dataclass(slots=True)
class _Outcome:
    status: NodeStatus
    outputs: NodeOutputs | None
    error: NodeFailure | None
    attempt: int
    wait: WaitInfo | None = None


@dataclass(slots=True)
class _Run:
    """What stays the same for every node of one run."""

    graph: Graph
    hooks: RunHooks
    sleep: Sleep
    clock: Clock
    vars: Mapping[str, Any]
    execution: Mapping[str, Any]
    workflow: Mapping[str, Any]
    services: Any
    logger: NodeLogger | None

    async def execute(
        self,
        node_id: str,
        inputs: dict[str, Items],
        state: Mapping[str, NodeOutputs],
        resume: Any,
        deadline: float,
    ) -> _Outcome:
        """Run one node with its retry policy, time limit and on_error; call the hooks."""
        graph, hooks = self.graph, self.hooks
        spec, cls = graph.nodes[node_id], graph.types[node_id]
        loop = asyncio.get_running_loop()
        static_problems = parameter_errors(cls, spec.parameters)
        renders = has_expressions(spec.parameters)
        allowed = set(cls.output_names(spec.parameters)) if not static_problems else set()
        if spec.on_error == "error_output":
            allowed.add(ERROR_OUTPUT)
        now = self.clock().astimezone(ZoneInfo(graph.definition.settings.timezone))
        nodes_view = NodesView(graph.ids_by_name, state, graph.primary_outputs)
        attempts = spec.retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            ctx = NodeContext(
                node=spec,
                inputs=inputs,
                vars=self.vars,
                execution=self.execution,
                workflow=self.workflow,
                now=now,
                nodes=nodes_view,
                logger=self.logger,
                services=self.services,
                attempt=attempt,
                previous=state.get(node_id),
                resume=resume,
            )
            remaining = deadline - loop.time()
            if remaining <= 0:
                failure = _workflow_timeout(graph, spec)
                await hooks.on_node_finish(spec, attempt, "failed", None, failure, ())
                return _Outcome("failed", None, failure, attempt)
            await hooks.on_node_start(spec, attempt, inputs)
            node_limit = spec.timeout_s if spec.timeout_s is not None else remaining
            workflow_bound = remaining <= node_limit
            timer = asyncio.timeout(max(min(node_limit, remaining), 0))
            try:
                if static_problems:
                    problems = "; ".join(f"{p or 'parameters'}: {m}" for p, m in static_problems)
                    raise ParameterError(f"invalid parameters: {problems}")
                async with timer:
                    # A node that renders expressions runs cooperatively: a long render gives
                    # the loop a turn every millisecond, and the timer can stop it there.
                    running = _instantiate(cls).run(ctx)
                    raw = await (run_cooperatively(running) if renders else running)
                outputs = _check_outputs(raw, allowed, spec)
            except WaitRequested as wait:
                info = WaitInfo(node_id, wait.resume_at, wait.payload)
                await hooks.on_node_finish(spec, attempt, "waiting", None, None, ())
                return _Outcome("waiting", None, None, attempt, info)
            except Exception as exc:
                failure = NodeFailure.from_exception(exc, node_id=node_id, node_name=spec.name)
                if isinstance(exc, TimeoutError) and timer.expired() and workflow_bound:
                    failure = _workflow_timeout(graph, spec)
                    await hooks.on_node_finish(spec, attempt, "failed", None, failure, ())
                    return _Outcome("failed", None, failure, attempt)
                if failure.retryable and attempt < attempts:
                    await hooks.on_node_finish(spec, attempt, "error", None, failure, ())
                    delay = spec.retry.delay_before(attempt + 1)
                    await self.sleep(min(delay, max(deadline - loop.time(), 0)))
                    continue
                return await self._failed(spec, cls, attempt, ctx, failure)
            if ctx.item_failures:
                return await self._partly_failed(spec, cls, attempt, ctx, outputs)
            reset = loop_reset(graph, node_id, outputs)
            await hooks.on_node_finish(spec, attempt, "success", outputs, None, reset)
            return _Outcome("success", outputs, None, attempt)

    async def _failed(
        self, spec: NodeSpec, cls: type[Node], attempt: int, ctx: NodeContext, failure: NodeFailure
    ) -> _Outcome:
        """The node failed for good: stop the run, or route its items per on_error."""
        if spec.on_error == "stop":
            await self.hooks.on_node_finish(spec, attempt, "failed", None, failure, ())
            return _Outcome("failed", None, failure, attempt)
        error = failure.as_dict()
        items = [{**item, "error": error} for item in ctx.items] or [{"error": error}]
        outputs = {_failure_output(spec, cls): items}
        await self.hooks.on_node_finish(spec, attempt, "continued", outputs, failure, ())
        return _Outcome("continued", outputs, failure, attempt)

    async def _partly_failed(
        self, spec: NodeSpec, cls: type[Node], attempt: int, ctx: NodeContext, outputs: NodeOutputs
    ) -> _Outcome:
        """Some items failed under item_guard: add them to the error (or first) output."""
        failures = [
            NodeFailure.from_exception(exc, node_id=spec.id, node_name=spec.name, item_index=index)
            for index, exc in ctx.item_failures
        ]
        items = ctx.items
        failed: list[Item] = [
            {
                **(items[f.item_index] if f.item_index is not None and f.item_index < len(items) else {}),
                "error": f.as_dict(),
            }
            for f in failures
        ]
        name = _failure_output(spec, cls)
        outputs = {**outputs, name: [*outputs.get(name, []), *failed]}
        first = failures[0]
        summary = NodeFailure(
            f"{len(failures)} of {len(items)} items failed; first: {first.message}",
            first.error_type,
            spec.id,
            spec.name,
            first.description,
            first.item_index,
            first.retryable,
        )
        reset = loop_reset(self.graph, spec.id, outputs)
        await self.hooks.on_node_finish(spec, attempt, "continued", outputs, summary, reset)
        return _Outcome("continued", outputs, summary, attempt)


def _workflow_timeout(graph: Graph, spec: NodeSpec) -> NodeFailure:
    return NodeFailure(
        "the execution exceeded its time limit", "WorkflowTimeout", spec.id, spec.name, retryable=False
    )


def _instantiate(cls: type[Node]) -> Node:
    return cls()


def _failure_output(spec: NodeSpec, cls: type[Node]) -> str:
    if spec.on_error == "error_output":
        return ERROR_OUTPUT
    names = cls.output_names(spec.parameters)
    return names[0] if names else "main"


def _main_items(inputs: Mapping[str, Items]) -> Items:
    if "main" in inputs:
        return inputs["main"]
    return next(iter(inputs.values()), [])


def _check_outputs(raw: Any, allowed: set[str], spec: NodeSpec) -> NodeOutputs:
    """A node's return value as NodeOutputs, or an ItemsError/NodeError saying what is wrong."""
    if not isinstance(raw, Mapping):
        raise TypeError(
            f"node {spec.type} returned {type(raw).__name__}, not a mapping of output name to items"
        )
    outputs: NodeOutputs = {}
    for name, items in raw.items():
        if name not in allowed and not name.startswith("$"):
            known = ", ".join(sorted(allowed))
            raise ValueError(f"node {spec.type} returned items on unknown output {name!r} (outputs: {known})")
        outputs[name] = ensure_items(items, where=f"output {name!r}")
    return outputs


def pinned_outputs(graph: Graph, pinned: Mapping[str, Items | NodeOutputs] | None) -> dict[str, NodeOutputs]:
    """Node id → the outputs `pinned` (node id or name → items or outputs) gives it. KeyError for
    an unknown node, ItemsError for what is not items, ValueError for a loop node: the API checks
    a run's pins with this before accepting the run."""
    pins = {
        graph.resolve(ref): _pinned_outputs(graph, graph.resolve(ref), value)
        for ref, value in (pinned or {}).items()
    }
    for node_id in pins:
        if node_id in graph.loop_outputs:
            raise ValueError(f"loop node {graph.nodes[node_id].name!r} cannot be pinned")
    return pins


def _pinned_outputs(graph: Graph, node_id: str, value: Items | NodeOutputs) -> NodeOutputs:
    if isinstance(value, Mapping):
        return {name: ensure_items(items, where=f"pinned output {name!r}") for name, items in value.items()}
    return {graph.primary_outputs.get(node_id, "main"): ensure_items(value, where="pinned items")}
