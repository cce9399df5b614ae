"""The workflow engine: definitions, items, expressions, the node protocol, graph rules, runner.

It knows nothing of HTTP or the database; the durable runner drives `run_workflow`
through `RunHooks` and resumes from committed outputs.
"""

from __future__ import annotations

from wirework.engine.definition import (
    EdgeSpec,
    NodeSpec,
    RetryPolicy,
    WorkflowDefinition,
    WorkflowSettings,
    parse_definition,
)
from wirework.engine.errors import (
    DefinitionError,
    DefinitionInvalid,
    ExpressionError,
    NodeError,
    NodeFailure,
    ParameterError,
    UnknownNodeType,
    WaitRequested,
)
from wirework.engine.graph import (
    Graph,
    Plan,
    collect_inputs,
    compile_graph,
    downstream_of,
    loop_reset,
    plan,
    start_nodes,
    validate_definition,
)
from wirework.engine.items import Item, Items, NodeOutputs
from wirework.engine.nodes import (
    STATE_OUTPUT,
    Condition,
    CredentialSlot,
    Node,
    NodeContext,
    NodeParameters,
    NodeRegistry,
    OutputName,
    default_registry,
    parameter_errors,
    register,
)
from wirework.engine.runner import NodeStatus, RunHooks, RunResult, RunStatus, run_workflow

__all__ = [
    "STATE_OUTPUT",
    "Condition",
    "CredentialSlot",
    "DefinitionError",
    "DefinitionInvalid",
    "EdgeSpec",
    "ExpressionError",
    "Graph",
    "Item",
    "Items",
    "Node",
    "NodeContext",
    "NodeError",
    "NodeFailure",
    "NodeOutputs",
    "NodeParameters",
    "NodeRegistry",
    "NodeSpec",
    "NodeStatus",
    "OutputName",
    "ParameterError",
    "Plan",
    "RetryPolicy",
    "RunHooks",
    "RunResult",
    "RunStatus",
    "UnknownNodeType",
    "WaitRequested",
    "WorkflowDefinition",
    "WorkflowSettings",
    "collect_inputs",
    "compile_graph",
    "default_registry",
    "downstream_of",
    "loop_reset",
    "parameter_errors",
    "parse_definition",
    "plan",
    "register",
    "run_workflow",
    "start_nodes",
    "validate_definition",
]
