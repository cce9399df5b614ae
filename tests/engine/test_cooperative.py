"""Heavy renders inside a node share the event loop and stop at the node's time limit (defect 3)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from wirework.engine.cooperative import pause_if_due, run_cooperatively
from wirework.engine.expression_limits import configure, current_limits
from wirework.engine.nodes import NodeRegistry
from wirework.engine.runner import run_workflow
from wirework.engine.testing import chain, definition, node
from wirework.nodes import load_builtin_nodes

REGISTRY = load_builtin_nodes(NodeRegistry())
HEAVY = (
    "{% for a in range(450) %}{% for b in range(450) %}{% for c in range(450) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)  # the payload: about 91 million loop turns


@pytest.fixture
def unbounded_steps() -> Iterator[None]:
    """No step budget, so only the node's time limit can stop the render."""
    previous = current_limits()
    configure(dataclasses.replace(previous, max_steps=10**12))
    yield
    configure(previous)


async def _ticks_during(work: asyncio.Future[object]) -> int:
    ticks = 0
    while not work.done():
        await asyncio.sleep(0)
        ticks += 1
    return ticks


async def test_a_node_timeout_stops_a_heavy_render(unbounded_steps: None) -> None:
    heavy = node("s", "core.set", parameters={"fields": {"x": HEAVY}}, timeout_s=0.2)
    wf = definition([node("t", "core.manual_trigger"), heavy], chain("t", "s"))
    result = await run_workflow(wf, [{}], registry=REGISTRY)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.message == "the node took longer than its time limit"


async def test_the_workflow_time_limit_stops_a_heavy_render(unbounded_steps: None) -> None:
    wf = definition(
        [node("t", "core.manual_trigger"), node("s", "core.set", parameters={"fields": {"x": HEAVY}})],
        chain("t", "s"),
    )
    result = await run_workflow(wf, [{}], registry=REGISTRY, time_limit_s=0.2)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_type == "WorkflowTimeout"


async def test_other_tasks_run_while_a_node_renders_a_heavy_expression() -> None:
    wf = definition(
        [node("t", "core.manual_trigger"), node("s", "core.set", parameters={"fields": {"x": HEAVY}})],
        chain("t", "s"),
    )
    run = asyncio.ensure_future(run_workflow(wf, [{}], registry=REGISTRY))
    ticks = await _ticks_during(run)
    result = await run
    assert result.status == "failed"
    assert result.error is not None
    assert "WIREWORK_EXPRESSION_MAX_STEPS" in result.error.message
    assert ticks > 5  # the render (until its budget ran out) gave the loop turns


async def test_cooperative_work_passes_results_exceptions_and_awaits_through() -> None:
    async def works(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("nope")

    async def nested() -> int:
        return await run_cooperatively(works(1)) + await works(10)

    assert await run_cooperatively(works(1)) == 2
    assert await run_cooperatively(nested()) == 13
    with pytest.raises(KeyError, match="nope"):
        await run_cooperatively(fails())
    assert [await run_cooperatively(works(n)) for n in range(3)] == [1, 2, 3]  # greenlets reused


async def test_a_pause_gives_the_loop_a_turn_and_a_cancellation_lands_there() -> None:
    reached = asyncio.Event()

    async def spins() -> None:
        reached.set()
        while True:  # synchronous work that only ever pauses
            pause_if_due()

    task = asyncio.ensure_future(run_cooperatively(spins()))
    await reached.wait()  # the spinning task let this one run
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_pausing_outside_cooperative_work_does_nothing() -> None:
    pause_if_due()
