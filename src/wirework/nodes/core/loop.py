"""The loop node: hands items to its body in batches and collects what comes back."""

from __future__ import annotations

from pydantic import Field

from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import STATE_OUTPUT, Node, NodeContext, NodeParameters


class LoopParameters(NodeParameters):
    batch_size: int = Field(1, ge=1, le=100_000, description="Items handed to the body per pass.")


class Loop(Node):
    """Wire `loop` to the body and the body's last node back into this node's input.

    First run: the incoming items are split into batches and the first batch goes out
    on `loop`. Each time the body has finished, this node runs again with the items the
    body sent back (they are collected) and emits the next batch. After the last batch,
    everything collected goes out on `done`. Progress is kept in `$state`, which the
    durable runner persists like any output, so a resumed execution continues the loop.
    """

    type = "core.loop"
    display_name = "Loop over items"
    description = "Runs the connected body once per batch of items, then outputs the results."
    category = "Flow"
    icon = "repeat"
    outputs = ("loop", "done")
    loop_output = "loop"
    passthrough_output = "done"
    Parameters = LoopParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        state = ctx.state
        if state is None:  # entering the loop
            size = ctx.params(LoopParameters).batch_size
            pending, results, iteration = list(ctx.items), [], 0
        else:  # the body finished a batch
            size = state["batch_size"]
            pending, results = state["pending"], [*state["results"], *ctx.items]
            iteration = state["iteration"]
        if not pending:
            done_state = {"batch_size": size, "pending": [], "results": [], "iteration": iteration}
            return {"loop": [], "done": results, STATE_OUTPUT: [done_state]}
        state = {
            "batch_size": size,
            "pending": pending[size:],
            "results": results,
            "iteration": iteration + 1,
        }
        return {"loop": pending[:size], "done": [], STATE_OUTPUT: [state]}
