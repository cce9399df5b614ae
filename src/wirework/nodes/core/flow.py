"""Flow-control nodes: manual trigger, IF, switch, filter, no-op and stop-with-error."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from wirework.engine.errors import NodeError
from wirework.engine.expressions import is_expression
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Condition, Node, NodeContext, NodeParameters, OutputName


class TriggerNode(Node):
    """A start node: it emits the items its trigger hands the execution (or one empty item)."""

    category = "Triggers"
    inputs = ()
    is_trigger = True

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": ctx.items or [{}]}


class ManualTrigger(TriggerNode):
    type = "core.manual_trigger"
    display_name = "Manual trigger"
    description = "Starts the workflow by hand or through the API, with the items given (or {})."
    icon = "play"


class IfParameters(NodeParameters):
    condition: Condition = Field(
        description="Evaluated for each item, e.g. {{ json.total > 100 }}; truthy goes to `true`."
    )


class If(Node):
    type = "core.if"
    display_name = "IF"
    description = "Routes each item to `true` or `false` by a condition."
    category = "Flow"
    icon = "split"
    outputs = ("true", "false")
    Parameters = IfParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        true: Items = []
        false: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                (true if ctx.params(IfParameters, index).condition else false).append(item)
        return {"true": true, "false": false}


class SwitchRule(NodeParameters):
    condition: Condition
    output: OutputName


class SwitchParameters(NodeParameters):
    rules: list[SwitchRule] = Field(
        min_length=1, description="Tried in order; an item goes to the output of the first match."
    )
    fallback: OutputName | None = Field(
        None, description="Output for items no rule matches; none drops them."
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _rules_are_static(cls, value: Any) -> Any:
        if is_expression(value):
            raise PydanticCustomError(
                "static_value",
                "switch rules cannot be an expression; use expressions in each rule's condition",
            )
        return value


class Switch(Node):
    type = "core.switch"
    display_name = "Switch"
    description = "Routes each item to the output of the first rule whose condition holds."
    category = "Flow"
    icon = "signpost"
    outputs = ()
    dynamic_outputs = True
    Parameters = SwitchParameters

    @classmethod
    def output_names(cls, parameters: Any) -> list[str]:
        try:
            params = SwitchParameters.model_validate(parameters, context={"static": True})
        except ValidationError:
            return []
        names = list(dict.fromkeys(rule.output for rule in params.rules))
        if params.fallback is not None and params.fallback not in names:
            names.append(params.fallback)
        return names

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        outputs: NodeOutputs = {name: [] for name in self.output_names(ctx.parameters)}
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(SwitchParameters, index)
                target = next((r.output for r in params.rules if r.condition), params.fallback)
                if target is not None:
                    outputs[target].append(item)
        return outputs


class FilterParameters(NodeParameters):
    condition: Condition = Field(description="Items for which this holds are kept.")


class Filter(Node):
    type = "core.filter"
    display_name = "Filter"
    description = "Keeps the items that match a condition; the rest go to `discarded`."
    category = "Flow"
    icon = "filter"
    outputs = ("main", "discarded")
    Parameters = FilterParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        kept: Items = []
        discarded: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                (kept if ctx.params(FilterParameters, index).condition else discarded).append(item)
        return {"main": kept, "discarded": discarded}


class NoOp(Node):
    type = "core.noop"
    display_name = "No operation"
    description = "Passes items through unchanged (a place to join branches or leave a note)."
    category = "Core"
    icon = "arrow-right"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": ctx.items}


class StopErrorParameters(NodeParameters):
    message: str = Field(
        "The workflow was stopped",
        min_length=1,
        description="The error shown; expressions see the first item.",
    )


class StopError(Node):
    type = "core.stop_error"
    display_name = "Stop and error"
    description = "Fails the execution with a message of your choosing."
    category = "Flow"
    icon = "octagon-x"
    Parameters = StopErrorParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        raise NodeError(ctx.params(StopErrorParameters).message)
