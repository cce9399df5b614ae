"""Graph rules: validating a definition on save, and deciding which nodes run or are skipped.

Everything here is a pure function over plain data, so the durable runner can resume
from the outputs it committed: `plan(graph, finished, starts)` derives, from the
outputs of finished nodes alone, which nodes are ready and which are skipped.

Scheduling rules
----------------
- Start nodes (roots: no incoming edges) run first, with the execution's input items on
  `main`. By default the start nodes are the trigger roots, or every root if the
  workflow has no trigger; other roots are skipped.
- A node is decided once every edge into it is settled (its source finished or was
  skipped). It is skipped when no edge delivered an item (an IF's empty `false`
  branch skips everything below it, and skipping propagates), and when its type
  requires all inputs (merge `wait_all`) and a connected input got nothing.
  Otherwise it is ready, with the items of each input concatenated in edge order.
  So a merge whose `b` branch was skipped still runs with what arrived on `a`.
- Ready nodes run one at a time, in topological order (ties: definition order).

Loops
-----
Cycles are allowed only through a node type with a `loop_output` (`core.loop`). Its
body is every node reachable from that output without passing through the loop node;
edges from the body back into the loop node are its back edges. Then:
- First run: the loop node is decided like any node, from its other (entry) edges.
- While its last run put items on the loop output, the loop is "iterating": its other
  outputs (`done`) are not settled, so nodes after the loop wait.
- Once every body node is settled (finished or skipped), the loop node is ready again,
  with the items of its back edges as input (possibly none). It keeps its progress in
  its private `$state` output.
- When the loop node emits a new batch, the runner clears the outputs of its body
  (`loop_reset`) so the body runs again; the durable runner must delete those in the
  same transaction that stores the loop node's new outputs. After the last batch the
  body keeps its last iteration's outputs (visible to expressions after the loop).
- Validation refuses edges from after the loop (its `done` side) into its body, which
  could never be satisfied.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from wirework.engine.definition import (
    ERROR_OUTPUT,
    EdgeSpec,
    NodeSpec,
    WorkflowDefinition,
    definition_errors_from,
)
from wirework.engine.errors import DefinitionError, DefinitionInvalid
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Node, parameter_errors

NodeLookup = Callable[[str, int], type[Node] | None]
"""Find a node class by type name and version (e.g. `NodeRegistry.find`)."""


@dataclass(frozen=True, slots=True)
class Graph:
    """A validated definition, indexed for scheduling. Build it with `compile_graph`."""

    definition: WorkflowDefinition
    nodes: Mapping[str, NodeSpec]
    types: Mapping[str, type[Node]]
    ids_by_name: Mapping[str, str]
    incoming: Mapping[str, tuple[EdgeSpec, ...]]
    """Edges that feed a node's (first) run: every incoming edge except loop back edges."""
    back_edges: Mapping[str, tuple[EdgeSpec, ...]]
    """Loop node id → the edges returning into it from its body."""
    outgoing: Mapping[str, tuple[EdgeSpec, ...]]
    order: tuple[str, ...]
    position: Mapping[str, int]
    """Node id → index in `order`."""
    loop_outputs: Mapping[str, str]
    loop_bodies: Mapping[str, tuple[str, ...]]
    requires_all: frozenset[str]
    roots: tuple[str, ...]
    primary_outputs: Mapping[str, str]
    index: ScheduleIndex
    """Integer-indexed edges for the incremental scheduler (`Frontier`)."""

    def resolve(self, ref: str) -> str:
        """A node id from an id or a node name; KeyError if neither."""
        if ref in self.nodes:
            return ref
        if ref in self.ids_by_name:
            return self.ids_by_name[ref]
        raise KeyError(f"no node with id or name {ref!r}")


@dataclass(frozen=True, slots=True)
class ScheduleIndex:
    """The forward edges (all but loop back edges) numbered, so `Frontier` can keep a state
    per edge in a list."""

    out_edges: Mapping[str, tuple[tuple[int, str], ...]]
    """Node id → (edge number, output name) of each forward edge leaving it."""
    edge_target: tuple[str, ...]
    edge_input: tuple[str, ...]
    input_count: Mapping[str, int]
    """Node id → how many distinct inputs its forward edges feed (for `requires_all`)."""
    loops_of: Mapping[str, tuple[str, ...]]
    """Node id → the loop nodes whose body holds it (nested loops: several)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Where an execution stands: nodes ready to run now, and nodes skipped."""

    ready: tuple[str, ...]
    skipped: frozenset[str]
    waiting: frozenset[str]
    """Nodes neither finished, skipped nor ready. Non-empty with nothing ready = stalled."""


def validate_definition(
    definition: WorkflowDefinition | Mapping[str, Any], lookup: NodeLookup, *, check_parameters: bool = True
) -> list[DefinitionError]:
    """Everything wrong with a definition, each error pointing at a node id and field."""
    return _analyse(definition, lookup, check_parameters)[1]


def compile_graph(definition: WorkflowDefinition | Mapping[str, Any], lookup: NodeLookup) -> Graph:
    """Validate the structure (not parameters) and index it; raise DefinitionInvalid.

    Parameters are checked per node when it runs, so a bad parameter on a node that
    an execution never reaches does not stop it.
    """
    graph, errors = _analyse(definition, lookup, False)
    if errors or graph is None:
        raise DefinitionInvalid(errors)
    return graph


def _analyse(
    raw: WorkflowDefinition | Mapping[str, Any], lookup: NodeLookup, check_parameters: bool
) -> tuple[Graph | None, list[DefinitionError]]:
    if isinstance(raw, WorkflowDefinition):
        definition = raw
    else:
        try:
            definition = WorkflowDefinition.model_validate(raw)
        except ValidationError as exc:
            return None, definition_errors_from(exc, raw)
    errors: list[DefinitionError] = []
    nodes = {node.id: node for node in definition.nodes}
    types: dict[str, type[Node]] = {}
    outputs: dict[str, set[str]] = {}
    for node in definition.nodes:
        cls = lookup(node.type, node.version)
        if cls is None:
            errors.append(
                DefinitionError(
                    f"unknown node type {node.type!r} (version {node.version})",
                    node.id,
                    "type",
                    "unknown_type",
                )
            )
            continue
        types[node.id] = cls
        outputs[node.id] = _output_names(cls, node)
        if check_parameters:
            errors.extend(
                DefinitionError(
                    f"{path or 'parameters'}: {message}",
                    node.id,
                    f"parameters.{path}" if path else "parameters",
                    "parameter",
                )
                for path, message in parameter_errors(cls, node.parameters)
            )
        if node.id in definition.pinned and cls.loop_output is not None:
            # A loop keeps its progress in its own outputs: pinned, it could never end.
            errors.append(
                DefinitionError(f"loop node {node.name!r} cannot be pinned", node.id, "pinned", "pinned_loop")
            )
        slots = {slot.name for slot in cls.credential_slots}
        errors.extend(
            DefinitionError(
                f"{cls.type} has no credential slot {slot!r}", node.id, f"credentials.{slot}", "credential"
            )
            for slot in node.credentials
            if slot not in slots
        )

    edges: list[EdgeSpec] = []
    seen: set[EdgeSpec] = set()
    for index, edge in enumerate(definition.edges):
        problem = _edge_problem(edge, nodes, types, outputs)
        if problem is not None:
            message, node_id, code = problem
            errors.append(DefinitionError(message, node_id, f"edges[{index}]", code))
        elif edge in seen:
            errors.append(
                DefinitionError(
                    "the same connection appears twice", edge.target, f"edges[{index}]", "duplicate_edge"
                )
            )
        else:
            seen.add(edge)
            edges.append(edge)

    if any(node_id not in types for node_id in nodes):
        return None, errors  # the structure cannot be checked without every node's type
    graph, structure_errors = _structure(definition, nodes, types, edges)
    errors.extend(structure_errors)
    return (graph if not errors else None), errors


def _output_names(cls: type[Node], node: NodeSpec) -> set[str]:
    try:
        names = set(cls.output_names(node.parameters))
    except Exception:
        names = set(cls.outputs)  # the parameter check reports why
    if node.on_error == "error_output":
        names.add(ERROR_OUTPUT)
    return names


def _edge_problem(
    edge: EdgeSpec,
    nodes: Mapping[str, NodeSpec],
    types: Mapping[str, type[Node]],
    outputs: Mapping[str, set[str]],
) -> tuple[str, str | None, str] | None:
    source, target = nodes.get(edge.source), nodes.get(edge.target)
    if source is None and target is None:
        return (f"connection between unknown nodes {edge.source!r} and {edge.target!r}", None, "unknown_node")
    if source is None:
        return (f"connection from unknown node {edge.source!r}", edge.target, "unknown_node")
    if target is None:
        return (f"connection to unknown node {edge.target!r}", edge.source, "unknown_node")
    if source.id in types and edge.output not in outputs[source.id]:
        known = ", ".join(sorted(outputs[source.id])) or "none"
        hint = " (set on_error to error_output to use it)" if edge.output == ERROR_OUTPUT else ""
        return (
            f"{source.name!r} has no output {edge.output!r}{hint}; outputs: {known}",
            source.id,
            "unknown_output",
        )
    if target.id in types and edge.input not in types[target.id].inputs:
        known = ", ".join(types[target.id].inputs) or "none (it is a trigger)"
        return (f"{target.name!r} has no input {edge.input!r}; inputs: {known}", target.id, "unknown_input")
    return None


def _structure(
    definition: WorkflowDefinition,
    nodes: Mapping[str, NodeSpec],
    types: Mapping[str, type[Node]],
    edges: Sequence[EdgeSpec],
) -> tuple[Graph, list[DefinitionError]]:
    errors: list[DefinitionError] = []
    index = {node_id: i for i, node_id in enumerate(nodes)}
    out_edges: dict[str, list[EdgeSpec]] = defaultdict(list)
    for edge in edges:
        out_edges[edge.source].append(edge)

    loop_outputs = {node_id: cls.loop_output for node_id, cls in types.items() if cls.loop_output is not None}
    bodies: dict[str, set[str]] = {}
    back: set[EdgeSpec] = set()
    for loop_id, loop_output in loop_outputs.items():
        body = _reach(
            (e.target for e in out_edges[loop_id] if e.output == loop_output), out_edges, stop=loop_id
        )
        bodies[loop_id] = body
        back.update(e for e in edges if e.target == loop_id and e.source in body)
        after = (
            _reach((e.target for e in out_edges[loop_id] if e.output != loop_output), out_edges, stop=loop_id)
            - body
        )
        for edge in edges:
            if edge.target not in body:
                continue
            if (edge.source == loop_id and edge.output != loop_output) or edge.source in after:
                errors.append(
                    DefinitionError(
                        f"{nodes[edge.target].name!r} is inside the loop of "
                        f"{nodes[loop_id].name!r} but also receives items from after the loop; "
                        "that connection could never be satisfied",
                        edge.target,
                        None,
                        "loop",
                    )
                )

    forward = [e for e in edges if e not in back]
    order, cyclic = _topological(list(nodes), forward, index)
    errors.extend(_cycle_errors(cyclic, forward, nodes))

    incoming: dict[str, list[EdgeSpec]] = defaultdict(list)
    back_edges: dict[str, list[EdgeSpec]] = defaultdict(list)
    for edge in edges:
        (back_edges if edge in back else incoming)[edge.target].append(edge)
    position = {node_id: i for i, node_id in enumerate(order)}
    out_numbered: dict[str, list[tuple[int, str]]] = {node_id: [] for node_id in nodes}
    targets: list[str] = []
    inputs: list[str] = []
    for node_id in order:  # numbered in topological order of their targets
        for edge in incoming[node_id]:
            out_numbered[edge.source].append((len(targets), edge.output))
            targets.append(edge.target)
            inputs.append(edge.input)
    loops_of: dict[str, list[str]] = defaultdict(list)
    for loop_id, body in bodies.items():
        for node_id in body:
            loops_of[node_id].append(loop_id)
    schedule = ScheduleIndex(
        out_edges={node_id: tuple(numbered) for node_id, numbered in out_numbered.items()},
        edge_target=tuple(targets),
        edge_input=tuple(inputs),
        input_count={node_id: len({e.input for e in incoming[node_id]}) for node_id in nodes},
        loops_of={node_id: tuple(loops) for node_id, loops in loops_of.items()},
    )
    requires_all = frozenset(
        node_id for node_id, cls in types.items() if _safe_requires_all(cls, nodes[node_id])
    )
    graph = Graph(
        definition=definition,
        nodes=nodes,
        types=types,
        ids_by_name={node.name: node.id for node in nodes.values()},
        incoming={node_id: tuple(incoming[node_id]) for node_id in nodes},
        back_edges={node_id: tuple(back_edges[node_id]) for node_id in loop_outputs},
        outgoing={node_id: tuple(out_edges[node_id]) for node_id in nodes},
        order=order,
        position=position,
        loop_outputs=loop_outputs,
        loop_bodies={
            loop_id: tuple(sorted(body, key=lambda n: position.get(n, 0))) for loop_id, body in bodies.items()
        },
        requires_all=requires_all,
        roots=tuple(node_id for node_id in order if not incoming[node_id]),
        primary_outputs={node_id: _primary_output(cls, nodes[node_id]) for node_id, cls in types.items()},
        index=schedule,
    )
    return graph, errors


def _safe_requires_all(cls: type[Node], node: NodeSpec) -> bool:
    try:
        return cls.requires_all_inputs(node.parameters)
    except Exception:
        return False


def _primary_output(cls: type[Node], node: NodeSpec) -> str:
    try:
        names = cls.output_names(node.parameters)
    except Exception:
        names = list(cls.outputs)
    return "main" if "main" in names or not names else names[0]


def _reach(starts: Iterable[str], out_edges: Mapping[str, list[EdgeSpec]], *, stop: str) -> set[str]:
    """Nodes reachable from `starts` (included) without entering `stop`."""
    seen: set[str] = set()
    stack = [s for s in starts if s != stop]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(e.target for e in out_edges.get(node_id, ()) if e.target != stop)
    return seen


def _topological(
    ids: list[str],
    edges: Sequence[EdgeSpec],
    index: Mapping[str, int],
) -> tuple[tuple[str, ...], set[str]]:
    """Kahn's algorithm, ties broken by definition order; returns (order, nodes left over)."""
    indegree = dict.fromkeys(ids, 0)
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        indegree[edge.target] += 1
        successors[edge.source].append(edge.target)
    heap = [(index[n], n) for n in ids if indegree[n] == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, node_id = heapq.heappop(heap)
        order.append(node_id)
        for target in successors[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(heap, (index[target], target))
    placed = set(order)
    left = [n for n in ids if n not in placed]
    return tuple(order) + tuple(left), set(left)


def _cycle_errors(
    left: set[str], edges: Sequence[EdgeSpec], nodes: Mapping[str, NodeSpec]
) -> list[DefinitionError]:
    """One error per node on a cycle (nodes merely downstream of one are pruned away)."""
    if not left:
        return []
    on_cycle = set(left)
    while True:  # drop nodes that cannot lead back into the leftover set
        keep = {e.source for e in edges if e.source in on_cycle and e.target in on_cycle}
        if keep == on_cycle:
            break
        on_cycle = keep
    names = ", ".join(repr(nodes[n].name) for n in nodes if n in on_cycle)
    hint = "; a connection may only go back into a loop node (such as core.loop) from that loop's body"
    return [
        DefinitionError(f"cycle between {names}{hint}", node_id, None, "cycle")
        for node_id in nodes
        if node_id in on_cycle
    ]


def start_nodes(graph: Graph, start: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The nodes an execution starts from (ids). `start` names them (ids or names)."""
    if start is not None:
        refs = [start] if isinstance(start, str) else list(start)
        ids = tuple(graph.resolve(ref) for ref in refs)
        for node_id in ids:
            if graph.incoming[node_id]:
                raise ValueError(
                    f"node {graph.nodes[node_id].name!r} has incoming "
                    "connections and cannot start an execution"
                )
        return ids
    triggers = tuple(n for n in graph.roots if graph.types[n].is_trigger)
    return triggers or graph.roots


def _iterating(graph: Graph, node_id: str, outputs: NodeOutputs) -> bool:
    loop_output = graph.loop_outputs.get(node_id)
    return loop_output is not None and bool(outputs.get(loop_output))


def plan(graph: Graph, finished: Mapping[str, NodeOutputs], starts: Collection[str]) -> Plan:
    """Which nodes are ready and which are skipped, given the finished nodes' outputs.

    One pass in topological order, so a skip is known before the nodes below it are
    looked at. This runs before every node, so it is written for speed.
    """
    skipped: set[str] = set()
    ready: list[str] = []
    waiting: set[str] = set()
    loop_outputs = graph.loop_outputs
    incoming = graph.incoming
    requires_all = graph.requires_all

    for node_id in graph.order:
        if node_id in finished:
            continue
        edges = incoming[node_id]
        if not edges:
            if node_id in starts:
                ready.append(node_id)
            else:
                skipped.add(node_id)
            continue
        fed: set[str] = set()
        settled = True
        for edge in edges:
            source = edge.source
            if source in skipped:
                continue
            outputs = finished.get(source)
            if outputs is None:
                settled = False
                break
            if source in loop_outputs:
                loop_output = loop_outputs[source]
                if edge.output != loop_output and outputs.get(loop_output):
                    settled = False  # `done` of a loop that is still iterating
                    break
            if outputs.get(edge.output):
                fed.add(edge.input)
        if not settled:
            waiting.add(node_id)
        elif not fed or (node_id in requires_all and fed != {e.input for e in edges}):
            skipped.add(node_id)  # nothing arrived, or a required input got nothing
        else:
            ready.append(node_id)

    for loop_id, body in graph.loop_bodies.items():
        outputs = finished.get(loop_id)
        if outputs is None or not _iterating(graph, loop_id, outputs):
            continue
        if all(n in skipped or (n in finished and not _iterating(graph, n, finished[n])) for n in body):
            ready.append(loop_id)
        else:
            waiting.add(loop_id)

    if len(ready) > 1:
        ready.sort(key=graph.position.__getitem__)
    return Plan(tuple(ready), frozenset(skipped), frozenset(waiting))


# Node states in a Frontier (finished nodes are those in its `finished` mapping).
_WAITING, _READY, _SKIPPED, _FINISHED = 0, 1, 2, 3
# Edge states: its source is undecided (or a loop still iterating, for `done` edges); it is
# settled and delivered nothing; it is settled and delivered items.
_OPEN, _EMPTY, _FED = 0, 1, 2


class Frontier:
    """`plan`, kept up to date as nodes finish instead of recomputed: O(edges) per run.

    It keeps, per node, how many incoming edges are unsettled and how many fed each input,
    and a heap of ready nodes by topological position; a finished node updates only its
    out-edges (and, for a loop's new batch, its body). `plan()` gives the same answer as
    `plan(graph, finished, starts)` at every step; the module function stays the
    specification, and the tests compare the two on random graphs.

    It owns `finished` while it runs: record outputs with `finish`, never directly.
    """

    __slots__ = (
        "_decided",
        "_dirty",
        "_edges",
        "_fed",
        "_heap",
        "_queued",
        "_status",
        "_undecided",
        "_unsettled",
        "finished",
        "graph",
        "starts",
    )

    def __init__(self, graph: Graph, finished: dict[str, NodeOutputs], starts: Collection[str]) -> None:
        self.graph = graph
        self.finished = finished
        self.starts = starts
        index = graph.index
        self._status = {node_id: _FINISHED if node_id in finished else _WAITING for node_id in graph.order}
        self._unsettled = {node_id: len(edges) for node_id, edges in graph.incoming.items()}
        self._fed: dict[str, dict[str, int]] = {node_id: {} for node_id in graph.order}
        self._edges = [_OPEN] * len(index.edge_target)
        self._undecided = {loop_id: len(body) for loop_id, body in graph.loop_bodies.items()}
        self._decided: set[str] = set()
        self._heap: list[int] = []
        self._queued: set[int] = set()
        self._dirty: list[str] = []
        for node_id in graph.order:  # topological: each node is decided once, from settled sources
            if node_id in finished:
                self._settle_out_edges(node_id)
                self._track_loops(node_id)
            else:
                self._set_status(node_id, self._decide(node_id))
        self._dirty.clear()
        for loop_id in graph.loop_bodies:
            self._queue_loop(loop_id)

    def next(self) -> str | None:
        """The ready node to run next (lowest topological position), or None."""
        heap, order = self._heap, self.graph.order
        while heap:  # entries of nodes that stopped being ready are dropped here
            node_id = order[heap[0]]
            if self._is_ready(node_id):
                return node_id
            self._queued.discard(heapq.heappop(heap))
        return None

    def finish(self, node_id: str, outputs: NodeOutputs) -> None:
        """Record a node's outputs; a loop's new batch voids its body's outputs (`loop_reset`)."""
        self.finished[node_id] = outputs
        for body_id in loop_reset(self.graph, node_id, outputs):
            self.finished.pop(body_id, None)
            self._status[body_id] = _WAITING
            self._settle_out_edges(body_id)
            self._track_loops(body_id)
            self._dirty.append(body_id)
        if self._status[node_id] == _FINISHED:
            self._settle_out_edges(node_id)  # a loop's next batch: its outputs changed
            self._track_loops(node_id)
        else:
            self._set_status(node_id, _FINISHED)
        self._queue_loop(node_id)
        self._propagate()

    def skipped(self) -> frozenset[str]:
        status = self._status
        return frozenset(node_id for node_id in self.graph.order if status[node_id] == _SKIPPED)

    def plan(self) -> Plan:
        """The current `Plan` (O(nodes); the run loop uses `next` instead)."""
        ready: list[str] = []
        waiting: set[str] = set()
        for node_id in self.graph.order:
            status = self._status[node_id]
            if status == _READY:
                ready.append(node_id)
            elif status == _WAITING:
                waiting.add(node_id)
            elif status == _FINISHED and node_id in self.graph.loop_outputs:
                if self._is_ready(node_id):
                    ready.append(node_id)
                elif _iterating(self.graph, node_id, self.finished[node_id]):
                    waiting.add(node_id)
        return Plan(tuple(ready), self.skipped(), frozenset(waiting))

    def _is_ready(self, node_id: str) -> bool:
        status = self._status[node_id]
        if status == _FINISHED:  # a loop node runs again once its body is decided
            return (
                node_id in self.graph.loop_outputs
                and _iterating(self.graph, node_id, self.finished[node_id])
                and self._undecided[node_id] == 0
            )
        return status == _READY

    def _decide(self, node_id: str) -> int:
        if not self.graph.incoming[node_id]:
            return _READY if node_id in self.starts else _SKIPPED
        if self._unsettled[node_id]:
            return _WAITING
        fed = self._fed[node_id]
        if not fed or (
            node_id in self.graph.requires_all and len(fed) != self.graph.index.input_count[node_id]
        ):
            return _SKIPPED  # nothing arrived, or a required input got nothing
        return _READY

    def _set_status(self, node_id: str, status: int) -> None:
        old = self._status[node_id]
        if old == status:
            return
        self._status[node_id] = status
        if status == _READY:
            self._push(node_id)
        if old >= _SKIPPED or status >= _SKIPPED:  # became or stopped being settled
            self._settle_out_edges(node_id)
            self._track_loops(node_id)

    def _settle_out_edges(self, node_id: str) -> None:
        """Set the state of each forward edge leaving a node from the node's own state."""
        out_edges = self.graph.index.out_edges[node_id]
        if not out_edges:
            return
        status = self._status[node_id]
        if status == _FINISHED:
            outputs = self.finished[node_id]
            loop_output = self.graph.loop_outputs.get(node_id)
            iterating = loop_output is not None and bool(outputs.get(loop_output))
            for edge_id, output in out_edges:
                if iterating and output != loop_output:
                    self._set_edge(edge_id, _OPEN)  # `done` of a loop that is still iterating
                else:
                    self._set_edge(edge_id, _FED if outputs.get(output) else _EMPTY)
        else:
            state = _EMPTY if status == _SKIPPED else _OPEN
            for edge_id, _ in out_edges:
                self._set_edge(edge_id, state)

    def _set_edge(self, edge_id: int, state: int) -> None:
        old = self._edges[edge_id]
        if old == state:
            return
        self._edges[edge_id] = state
        index = self.graph.index
        target = index.edge_target[edge_id]
        if old == _OPEN:
            self._unsettled[target] -= 1
        elif old == _FED:
            fed = self._fed[target]
            name = index.edge_input[edge_id]
            fed[name] -= 1
            if not fed[name]:
                del fed[name]
        if state == _OPEN:
            self._unsettled[target] += 1
        elif state == _FED:
            fed = self._fed[target]
            name = index.edge_input[edge_id]
            fed[name] = fed.get(name, 0) + 1
        self._dirty.append(target)

    def _propagate(self) -> None:
        """Re-decide every node whose incoming edges changed, until nothing changes."""
        dirty, status = self._dirty, self._status
        while dirty:
            node_id = dirty.pop()
            if status[node_id] != _FINISHED:
                self._set_status(node_id, self._decide(node_id))

    def _track_loops(self, node_id: str) -> None:
        """Keep each enclosing loop's count of body nodes not yet decided for this batch."""
        loops = self.graph.index.loops_of.get(node_id)
        if not loops:
            return
        status = self._status[node_id]
        decided = status == _SKIPPED or (
            status == _FINISHED and not _iterating(self.graph, node_id, self.finished[node_id])
        )
        if decided == (node_id in self._decided):
            return
        if decided:
            self._decided.add(node_id)
        else:
            self._decided.discard(node_id)
        for loop_id in loops:
            self._undecided[loop_id] += -1 if decided else 1
            if decided:
                self._queue_loop(loop_id)

    def _queue_loop(self, node_id: str) -> None:
        if node_id in self.graph.loop_outputs and self._is_ready(node_id):
            self._push(node_id)

    def _push(self, node_id: str) -> None:
        position = self.graph.position[node_id]
        if position not in self._queued:
            self._queued.add(position)
            heapq.heappush(self._heap, position)


def collect_inputs(graph: Graph, finished: Mapping[str, NodeOutputs], node_id: str) -> dict[str, Items]:
    """The items on each input of a ready node (back edges for a loop node's re-entry)."""
    if node_id in finished and node_id in graph.loop_outputs:
        edges = graph.back_edges[node_id]
    else:
        edges = graph.incoming[node_id]
    inputs: dict[str, Items] = {}
    for edge in edges:
        outputs = finished.get(edge.source)
        items = outputs.get(edge.output) if outputs else None
        if not items:
            continue
        if edge.input in inputs:
            inputs[edge.input] = inputs[edge.input] + items
        else:
            inputs[edge.input] = items  # shared, not copied: nodes do not mutate inputs
    for name in graph.types[node_id].inputs:
        inputs.setdefault(name, [])
    return inputs


def loop_reset(graph: Graph, node_id: str, outputs: NodeOutputs) -> tuple[str, ...]:
    """Body nodes whose outputs must be cleared because this loop node emitted a new batch."""
    if _iterating(graph, node_id, outputs):
        return graph.loop_bodies[node_id]
    return ()


def downstream_of(graph: Graph, ref: str) -> frozenset[str]:
    """The node and everything reachable from it: what re-running from that node re-runs."""
    node_id = graph.resolve(ref)
    seen = {node_id}
    stack = [node_id]
    while stack:
        for edge in graph.outgoing[stack.pop()]:
            if edge.target not in seen:
                seen.add(edge.target)
                stack.append(edge.target)
    return frozenset(seen)
