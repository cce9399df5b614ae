"""Kill a process with SIGKILL in the middle of a node; a new process finishes the execution
and no finished node runs twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from tests.support.crash_worker import registry
from tests.support.workflows import TRIGGER, chain, node
from wirework.accounts import service as accounts
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus
from wirework.workflows import service

ROOT = Path(__file__).resolve().parents[2]


def _worker(url: str, execution_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_worker", url, execution_id],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_sigkill_mid_node_then_a_new_process_completes(db: Database) -> None:
    async with db.session() as session:
        user = await accounts.create_user(session, email="c@example.com", username="crash", password="pw")
        org = await accounts.create_organization(session, name="crash", owner=user)
        definition = chain(
            TRIGGER,
            node("a", "core.crypto", {"operation": "uuid", "field": "a"}),
            node("b", "core.set", {"fields": {"b": True}}),
            node("c", "test.slow", {"seconds": 2}),
        )
        workflow = await service.create_workflow(
            session, org_id=org.id, user_id=user.id, name="crash", definition=definition, registry=registry()
        )
        execution = await service.start_run(
            session, workflow, version=None, input_items=[{"n": 1}], pinned=None, start=None, user_id=user.id
        )
        await session.commit()
    url = db.engine.url.render_as_string(hide_password=False)

    first = _worker(url, str(execution.id))
    assert first.stdout is not None
    seen = [first.stdout.readline()]
    while seen[-1] and "SLOW_STARTED" not in seen[-1]:
        seen.append(first.stdout.readline())
    assert "SLOW_STARTED" in seen[-1], "the first worker never reached the slow node:\n" + "".join(seen)
    first.kill()  # SIGKILL: no cleanup, the lease stays behind
    first.wait(timeout=10)

    async with db.session() as session:
        state = await session.get(Execution, execution.id)
        assert state is not None and state.status == ExecutionStatus.running and state.lease_owner
    started = time.monotonic()
    second = _worker(url, str(execution.id))
    output, _ = second.communicate(timeout=60)
    assert "OUTCOME completed" in output, output
    assert time.monotonic() - started < 30

    async with db.session() as session:
        final = await session.get(Execution, execution.id)
        assert final is not None and final.status == ExecutionStatus.completed
        runs = (
            await session.execute(
                select(ExecutionLog.node_id, ExecutionLog.output_data).where(
                    ExecutionLog.execution_id == execution.id
                )
            )
        ).all()
    assert Counter(node_id for node_id, _ in runs) == {"trigger": 1, "a": 1, "b": 1, "c": 1}
    a_output = next(out for node_id, out in runs if node_id == "a")
    c_output = next(out for node_id, out in runs if node_id == "c")
    assert c_output["main"][0]["a"] == a_output["main"][0]["a"]  # c got the uuid a made before the crash
