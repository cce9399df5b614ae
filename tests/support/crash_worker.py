"""A worker process for the crash test: runs one execution with a short lease, using the
built-in nodes plus `test.slow` (sleeps), so the test can SIGKILL it mid-node, and `test.die`
(the process kills itself, as a node that runs it out of memory would). Loopback is allowed
through the SSRF guard, for the test's own HTTP server.

Usage: python -m tests.support.crash_worker DATABASE_URL EXECUTION_ID [SECONDS_TO_TRY (30)]
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import timedelta

from pydantic import Field

import wirework.models  # noqa: F401 - an entry point registers every table
from wirework.db.engine import Database
from wirework.engine.executions import process_id, run_execution
from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import Node, NodeContext, NodeParameters, NodeRegistry
from wirework.nodes import load_builtin_nodes
from wirework.security.ssrf import SsrfPolicy
from wirework.security.vault import Vault
from wirework.workflows import runtime

LEASE = timedelta(seconds=1.5)


class SlowParameters(NodeParameters):
    seconds: float = Field(3, ge=0)


class Slow(Node):
    type = "test.slow"
    display_name = "Slow"
    category = "Test"
    Parameters = SlowParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        print("SLOW_STARTED", flush=True)
        await asyncio.sleep(ctx.params(SlowParameters, 0).seconds)
        return {"main": ctx.items}


class Die(Node):
    type = "test.die"
    display_name = "Die"
    category = "Test"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        print("DYING", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def registry() -> NodeRegistry:
    reg = load_builtin_nodes(NodeRegistry())
    reg.register(Slow)
    reg.register(Die)
    return reg


async def main(url: str, execution_id: uuid.UUID, try_for_s: float = 30) -> None:
    db = Database(url, pool_size=2)
    platform = runtime.Platform(
        db=db,
        registry=registry(),
        vault=Vault("x" * 40),
        owner=process_id(),
        ssrf_policy=SsrfPolicy.from_entries(["127.0.0.1"]),
    )
    read = runtime.context_reader(platform)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + try_for_s
    while loop.time() < deadline:  # the first try fails while a dead process's lease holds
        outcome = await run_execution(
            db, execution_id, owner=platform.owner, registry=platform.registry, read_context=read, lease=LEASE
        )
        if outcome is not None:
            print("OUTCOME", outcome.status.value, flush=True)
            break
        await asyncio.sleep(0.2)
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], uuid.UUID(sys.argv[2]), *(float(a) for a in sys.argv[3:4])))
