"""Helpers for tests of the engine and of node types: small definitions and one-node runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from wirework.engine.definition import NodeSpec, OnError, WorkflowDefinition
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Node, NodeContext


def node(node_id: str, node_type: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A node dict; the name defaults to the id."""
    return {"id": node_id, "name": name or node_id, "type": node_type, **fields}


def edge(source: str, target: str, output: str = "main", input: str = "main") -> dict[str, str]:
    return {"from": source, "output": output, "to": target, "input": input}


def chain(*ids: str) -> list[dict[str, str]]:
    """main → main edges between consecutive node ids."""
    return [edge(a, b) for a, b in itertools.pairwise(ids)]


def definition(
    nodes: Iterable[Mapping[str, Any]], edges: Iterable[Mapping[str, Any]] = (), **settings: Any
) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(
        {"nodes": list(nodes), "edges": list(edges), "settings": settings}
    )


async def run_node(
    node_type: type[Node],
    parameters: Mapping[str, Any] | None = None,
    items: Items | None = None,
    *,
    inputs: Mapping[str, Items] | None = None,
    on_error: OnError = "stop",
    previous: NodeOutputs | None = None,
    now: datetime | None = None,
    vars: Mapping[str, Any] | None = None,
    workflow: Mapping[str, Any] | None = None,
) -> NodeOutputs:
    """Run one node's `run` directly on items (no graph, no retries, no error routing)."""
    spec = NodeSpec(
        id="node",
        name=node_type.display_name,
        type=node_type.type,
        version=node_type.version,
        parameters=dict(parameters or {}),
        on_error=on_error,
    )
    ctx = NodeContext(
        node=spec,
        inputs=inputs if inputs is not None else {"main": items or []},
        vars=vars,
        now=now,
        previous=previous,
        workflow={"timezone": "UTC", **(workflow or {})},
    )
    return await node_type().run(ctx)


def run_node_sync(
    node_type: type[Node],
    parameters: Mapping[str, Any] | None = None,
    items: Items | None = None,
    **kwargs: Any,
) -> NodeOutputs:
    """`run_node` from synchronous code (e.g. hypothesis tests)."""
    return asyncio.run(run_node(node_type, parameters, items, **kwargs))
