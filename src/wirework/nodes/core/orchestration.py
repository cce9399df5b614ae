"""Nodes that pause or delegate: `core.wait` and `core.execute_workflow`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import Field, model_validator

from wirework.engine.errors import NodeError, WaitRequested
from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import Node, NodeContext, NodeParameters

MAX_WAIT = timedelta(days=366)


class WaitParameters(NodeParameters):
    seconds: float | None = Field(None, ge=0, description="Wait this long…")
    until: datetime | None = Field(None, description="…or until this moment (ISO 8601; UTC if no zone).")

    @model_validator(mode="after")
    def _one_of(self) -> WaitParameters:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give either seconds or until")
        return self


class Wait(Node):
    type = "core.wait"
    display_name = "Wait"
    description = "Pauses the execution; it survives restarts and goes on at the set time."
    category = "Flow"
    icon = "clock"
    Parameters = WaitParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        if ctx.resume is not None:
            return {"main": ctx.items}
        params = ctx.params(WaitParameters, 0)
        if params.until is not None:
            until = params.until if params.until.tzinfo else params.until.replace(tzinfo=UTC)
        else:
            until = ctx.now.astimezone(UTC) + timedelta(seconds=params.seconds or 0)
        if until - ctx.now.astimezone(UTC) > MAX_WAIT:
            raise NodeError("a wait can last at most a year")
        raise WaitRequested(until.astimezone(UTC))


class SubworkflowRunner(Protocol):
    async def run_subworkflow(
        self, workflow_id: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]: ...


class ExecuteWorkflowParameters(NodeParameters):
    workflow_id: str = Field(description="The workflow to run (of this organization).")


class ExecuteWorkflow(Node):
    type = "core.execute_workflow"
    display_name = "Run sub-workflow"  # not "Execute workflow", the editor's run button
    description = "Runs another workflow with this node's items; outputs that workflow's last node's items."
    category = "Flow"
    icon = "workflow"
    Parameters = ExecuteWorkflowParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = ctx.params(ExecuteWorkflowParameters, 0)
        runner: SubworkflowRunner | None = ctx.services
        if runner is None or not hasattr(runner, "run_subworkflow"):
            raise NodeError("sub-workflows need the platform runtime (run this workflow through Wirework)")
        return {"main": await runner.run_subworkflow(params.workflow_id, list(ctx.items))}
