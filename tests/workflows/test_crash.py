"""Kill a process with SIGKILL in the middle of a node; a new process finishes the execution
and no finished node runs twice. A node that kills its process every time is given up on after
three tries; an at_most_once node is not run again; the HTTP Request node's idempotency key is
the same when the resumed run sends the request again."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.crash_worker import registry
from tests.support.workflows import TRIGGER, chain, node
from wirework.accounts import service as accounts
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus
from wirework.workflows import service

ROOT = Path(__file__).resolve().parents[2]


def _worker(url: str, execution_id: str, try_for_s: float = 30) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_worker", url, execution_id, str(try_for_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def _execution(db: Database, definition: dict[str, Any]) -> tuple[str, str]:
    """A pending execution of a new workflow; (database URL, execution id) for workers."""
    async with db.session() as session:
        user = await accounts.create_user(session, email="c@example.com", username="crash", password="pw")
        org = await accounts.create_organization(session, name="crash", owner=user)
        workflow = await service.create_workflow(
            session, org_id=org.id, user_id=user.id, name="crash", definition=definition, registry=registry()
        )
        execution = await service.start_run(
            session, workflow, version=None, input_items=[{"n": 1}], pinned=None, start=None, user_id=user.id
        )
        await session.commit()
    return db.engine.url.render_as_string(hide_password=False), str(execution.id)


def _kill_at(worker: subprocess.Popen[str], marker: str) -> None:
    """SIGKILL the worker once it prints `marker`: no cleanup, its lease stays behind."""
    assert worker.stdout is not None
    seen = [worker.stdout.readline()]
    while seen[-1] and marker not in seen[-1]:
        seen.append(worker.stdout.readline())
    assert marker in seen[-1], f"the worker never printed {marker}:\n" + "".join(seen)
    worker.kill()
    worker.wait(timeout=10)


async def _records(db: Database, execution_id: str) -> list[ExecutionLog]:
    async with db.session() as session:
        query = select(ExecutionLog).where(ExecutionLog.execution_id == uuid.UUID(execution_id))
        return list((await session.execute(query.order_by(ExecutionLog.id))).scalars())


async def test_sigkill_mid_node_then_a_new_process_completes(db: Database) -> None:
    definition = chain(
        TRIGGER,
        node("a", "core.crypto", {"operation": "uuid", "field": "a"}),
        node("b", "core.set", {"fields": {"b": True}}),
        node("c", "test.slow", {"seconds": 2}),
    )
    url, execution_id = await _execution(db, definition)
    _kill_at(_worker(url, execution_id), "SLOW_STARTED")

    async with db.session() as session:
        state = await session.get(Execution, uuid.UUID(execution_id))
        assert state is not None and state.status == ExecutionStatus.running and state.lease_owner
    started = time.monotonic()
    second = _worker(url, execution_id)
    output, _ = second.communicate(timeout=60)
    assert "OUTCOME completed" in output, output
    assert time.monotonic() - started < 30

    async with db.session() as session:
        final = await session.get(Execution, uuid.UUID(execution_id))
        assert final is not None and final.status == ExecutionStatus.completed
        runs = (
            await session.execute(
                select(ExecutionLog.node_id, ExecutionLog.output_data).where(
                    ExecutionLog.execution_id == uuid.UUID(execution_id)
                )
            )
        ).all()
    assert Counter(node_id for node_id, _ in runs) == {"trigger": 1, "a": 1, "b": 1, "c": 1}
    a_output = next(out for node_id, out in runs if node_id == "a")
    c_output = next(out for node_id, out in runs if node_id == "c")
    assert c_output["main"][0]["a"] == a_output["main"][0]["a"]  # c got the uuid a made before the crash


async def test_a_node_that_kills_its_process_every_time_is_given_up_after_three_crashes(
    db: Database,
) -> None:
    url, execution_id = await _execution(db, chain(TRIGGER, node("die", "test.die")))
    for _ in range(3):  # the trigger's record is the only progress: the crashes add up
        output, _ = _worker(url, execution_id).communicate(timeout=60)
        assert "DYING" in output and "OUTCOME" not in output, output

    output, _ = _worker(url, execution_id).communicate(timeout=60)
    assert "OUTCOME failed" in output and "DYING" not in output, output  # not run a fourth time
    async with db.session() as session:
        final = await session.get(Execution, uuid.UUID(execution_id))
    assert final is not None and final.status == ExecutionStatus.failed
    assert final.error is not None and final.error.startswith("Gave up after 3 attempts"), final.error
    assert "its process died" in final.error
    assert [r.node_id for r in await _records(db, execution_id)] == ["trigger"]

    # ... and it is never claimed again: trying for twice the lease (1.5 s) is enough to see that.
    output, _ = _worker(url, execution_id, try_for_s=3).communicate(timeout=60)
    assert "OUTCOME" not in output and "DYING" not in output, output


async def test_an_at_most_once_node_caught_mid_run_fails_instead_of_running_again(db: Database) -> None:
    definition = chain(
        TRIGGER,
        node("charge", "test.slow", {"seconds": 3}, at_most_once=True),
        node("after", "core.noop"),
    )
    url, execution_id = await _execution(db, definition)
    _kill_at(_worker(url, execution_id), "SLOW_STARTED")
    [_, started] = await _records(db, execution_id)
    assert (started.node_id, started.status) == ("charge", NodeRunStatus.running)  # recorded before it ran

    output, _ = _worker(url, execution_id).communicate(timeout=60)
    assert "OUTCOME failed" in output and "SLOW_STARTED" not in output, output
    records = await _records(db, execution_id)
    assert [(r.node_id, r.status) for r in records] == [
        ("trigger", NodeRunStatus.completed),
        ("charge", NodeRunStatus.failed),
    ]
    assert records[1].error is not None and records[1].error.startswith("may have run already; at_most_once")
    assert records[1].started_at == started.started_at  # the start the dead process recorded
    async with db.session() as session:
        final = await session.get(Execution, uuid.UUID(execution_id))
    assert final is not None and final.status == ExecutionStatus.failed and final.error_node == "charge"


class _Payments(ThreadingHTTPServer):
    """Records each request's Idempotency-Key; holds the first request unanswered until told."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PaymentsHandler)
        self.keys: list[str | None] = []
        self.release = threading.Event()


class _PaymentsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Payments

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the first caller is dead by the time it is answered
            super().handle()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.keys.append(self.headers.get("idempotency-key"))
        if len(self.server.keys) == 1:
            self.server.release.wait(30)  # the caller dies meanwhile
        body = json.dumps({"charged": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def payments() -> Iterator[_Payments]:
    server = _Payments()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


async def test_the_http_idempotency_key_is_the_same_when_a_resumed_run_sends_again(
    db: Database, payments: _Payments
) -> None:
    url = f"http://127.0.0.1:{payments.server_port}/charges"
    definition = chain(
        TRIGGER,
        node(
            "pay",
            "core.http_request",
            {"method": "POST", "url": url, "body_type": "json", "body": {"eur": 5}},
        ),
    )
    db_url, execution_id = await _execution(db, definition)
    first = _worker(db_url, execution_id)
    for _ in range(300):  # the request is in flight at the server
        if payments.keys:
            break
        time.sleep(0.05)
    assert payments.keys, "the first worker never sent the request"
    first.kill()
    first.wait(timeout=10)
    payments.release.set()

    output, _ = _worker(db_url, execution_id).communicate(timeout=60)
    assert "OUTCOME completed" in output, output
    assert len(payments.keys) == 2  # sent again after the crash (at-least-once)...
    assert payments.keys[0] and payments.keys[0] == payments.keys[1]  # ...with the same key
