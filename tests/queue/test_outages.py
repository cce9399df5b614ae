"""Worker mode outlives the services around it, with nobody restarting Wirework: one `serve` and
two `wirework worker` processes (real subprocesses) keep every accepted execution while Redis,
RabbitMQ or PostgreSQL is restarted in the middle of a few hundred webhook calls; a worker
started before its database or broker is there waits for it; serve starts without its broker.

The `chaos` tests restart the machine's shared services and always bring them back (even when
the test fails); they run after every other test (conftest.py). Each prints the time from the
service's return to the first execution completed after it."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.accounts import Account, _account
from tests.support.server import free_port, running_server, running_workers
from tests.support.workflows import TRIGGER, chain, node, pending_executions
from wirework.db import migrate
from wirework.db.engine import Database
from wirework.engine.models import Execution, ExecutionLog, ExecutionStatus, NodeRunStatus
from wirework.engine.nodes import NodeRegistry
from wirework.nodes import load_builtin_nodes

BROKERS = {"redis": "WIREWORK_TEST_REDIS_URL", "amqp": "WIREWORK_TEST_AMQP_URL"}
CALLS = 300
CALLS_PER_S = 25
DOWN_S = 3  # how long a service stays stopped (stopping and starting it take a few seconds more)


def base_env(database_url: str, broker_url: str) -> dict[str, str]:
    return {
        "WIREWORK_DATABASE_URL": database_url,
        "WIREWORK_BROKER_URL": broker_url,
        "WIREWORK_SECRET_KEY": "outage-test-" + "k" * 32,
        "WIREWORK_WEBHOOK_RATE_LIMIT": "0",
        "WIREWORK_LOG_LEVEL": "INFO",
    }


def some_broker() -> str:
    url = os.environ.get(BROKERS["redis"]) or os.environ.get(BROKERS["amqp"])
    if not url:
        pytest.skip("no broker URL set (CI sets WIREWORK_TEST_REDIS_URL and WIREWORK_TEST_AMQP_URL)")
    return url


def log_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).read_text()


async def counts(db: Database) -> dict[ExecutionStatus, int]:
    async with db.session() as session:
        rows = await session.execute(select(Execution.status, func.count()).group_by(Execution.status))
        return {status: number for status, number in rows.all()}


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not await check():
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {seconds} s: {what}") from None


async def signed_up(client: httpx.AsyncClient) -> Account:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "ops@example.com", "username": "ops", "password": "correct horse battery"},
    )
    assert response.status_code == 201, response.text
    return _account(response.json())


async def jobs_webhook(client: httpx.AsyncClient, ann: Account) -> None:
    definition = chain(
        node("hook", "core.webhook", {"path": "jobs"}),
        node("one", "core.set", {"fields": {"n": "{{ json.body.n }}"}, "keep_only_set": True}),
        node("two", "core.set", {"fields": {"double": "{{ json.n * 2 }}"}}),
    )
    created = await client.post(
        "/api/v1/workflows", json={"name": "jobs", "definition": definition}, headers=ann.headers
    )
    activated = await client.post(f"/api/v1/workflows/{created.json()['id']}/activate", headers=ann.headers)
    assert activated.status_code == 200, activated.text


# ----------------------------------------------------------------- without a service at start


async def test_serve_starts_without_its_broker_and_workers_run_the_work(
    tmp_path: Path, cluster_db: str
) -> None:
    """serve connects in the background; what it cannot publish, the workers' poll runs."""
    env = base_env(cluster_db, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with running_server(tmp_path, **env) as (url, server), running_workers(tmp_path, 1, **env) as workers:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            ann = await signed_up(client)
            await jobs_webhook(client, ann)
            answers = [await client.post("/webhook/jobs", json={"n": n}) for n in range(20)]
            assert {a.status_code for a in answers} == {202}
            db = Database(cluster_db)
            try:
                await wait_for(lambda: _all_completed(db, 20), 60, "the workers' poll runs all 20")
            finally:
                await db.dispose()
            metrics = (await client.get("/metrics", headers=ann.headers)).text
        assert server.poll() is None and workers[0].poll() is None
    assert 'wirework_broker_connected{role="publisher"} 0.0' in metrics
    assert "wirework_broker_publish_failures_total 20.0" in metrics
    serve_log = log_of(tmp_path, "serve.log")
    assert serve_log.count("broker_unreachable") == 1 and "Traceback" not in serve_log
    assert workers[0].returncode == 0  # stopped by SIGTERM, cleanly


async def _all_completed(db: Database, expected: int) -> bool:
    return await counts(db) == {ExecutionStatus.completed: expected}


async def test_a_worker_waits_for_its_database_and_works_without_its_broker(
    tmp_path: Path, cluster_db: str
) -> None:
    """Started before the database is migrated and with its broker away, a worker says so once
    each, waits, then runs the pending work from its database poll."""
    env = base_env(cluster_db, f"redis://127.0.0.1:{free_port()}/0")
    db = Database(cluster_db)
    try:
        with running_workers(tmp_path, 1, **env) as workers:
            await wait_for(lambda: _logged(tmp_path / "worker-0.log", "worker_waiting"), 30, "it waits")
            assert workers[0].poll() is None  # before: "The database is at migration nothing", exit 1
            await migrate.upgrade(db)  # what `wirework serve` does at start
            registry = load_builtin_nodes(NodeRegistry())
            ids = await pending_executions(db, chain(TRIGGER, node("set", "core.set", {})), registry, 3)
            await wait_for(lambda: _all_completed(db, len(ids)), 60, "the worker's poll runs them")
            assert workers[0].poll() is None
        assert workers[0].returncode == 0
    finally:
        await db.dispose()
    worker_log = log_of(tmp_path, "worker-0.log")
    assert worker_log.count("worker_waiting") == 1
    assert worker_log.count("broker_unreachable") == 1
    assert "Traceback" not in worker_log


async def test_a_worker_started_while_its_database_is_down_waits(tmp_path: Path) -> None:
    """Before, it exited at once with a traceback; now it waits, saying so once, until stopped."""
    env = base_env(f"postgresql://wirework@127.0.0.1:{free_port()}/wirework", some_broker())
    with running_workers(tmp_path, 1, **env) as workers:
        await wait_for(lambda: _logged(tmp_path / "worker-0.log", "worker_waiting"), 30, "it waits")
        await asyncio.sleep(3)  # still waiting, quietly
        assert workers[0].poll() is None
    assert workers[0].returncode == 0  # SIGTERM ends the wait
    worker_log = log_of(tmp_path, "worker-0.log")
    assert worker_log.count("worker_waiting") == 1 and "the database is unreachable" in worker_log
    assert worker_log.count("database_unreachable") == 1 and "Traceback" not in worker_log


async def _logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


async def _all_logged(paths: list[Path], text: str) -> bool:
    return all([await _logged(path, text) for path in paths])


# ----------------------------------------------------------------------- restarts of services


@dataclass
class Service:
    """A shared service of this machine, as `.ci/run` starts it, that the test may restart."""

    name: str
    port: int
    stop: list[str]
    start: list[str] | str  # a string runs in a shell
    ready: list[str] | None = None  # a command that succeeds once it serves (else: the port answers)

    def answers(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", self.port)) != 0:
                return False
        return self.ready is None or subprocess.run(self.ready, capture_output=True).returncode == 0

    def wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not come back within {seconds} s")
            time.sleep(0.1)


def _loopback_port(variable: str, default: int) -> int:
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} is not set (CI sets it)")
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"{variable} is not on this machine: it cannot be restarted here")
    return parts.port or default


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"cannot restart the service here: {', '.join(missing)} not found")


def redis_service() -> Service:
    port = _loopback_port("WIREWORK_TEST_REDIS_URL", 6379)
    _need("redis-server", "redis-cli")
    return Service(
        "Redis",
        port,
        stop=["redis-cli", "-p", str(port), "shutdown", "nosave"],
        # As .ci/run starts it: nothing on disk, so it comes back empty.
        start=(
            f"redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {port} --save '' --appendonly no "
            "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
        ),
        ready=["redis-cli", "-p", str(port), "ping"],
    )


def rabbitmq_service() -> Service:
    port = _loopback_port("WIREWORK_TEST_AMQP_URL", 5672)
    _need("rabbitmqctl")
    return Service("RabbitMQ", port, stop=["rabbitmqctl", "stop_app"], start=["rabbitmqctl", "start_app"])


def postgresql_service() -> Service:
    port = _loopback_port("WIREWORK_TEST_POSTGRES_URL", 5432)
    _need("pg_ctlcluster", "pg_lsclusters", "pg_isready")
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout
    found = [line.split() for line in clusters.splitlines() if line.split()[2:3] == [str(port)]]
    if not found:
        pytest.skip(f"no local PostgreSQL cluster listens on port {port}")
    version, cluster = found[0][0], found[0][1]
    ctl = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster]
    return Service(
        "PostgreSQL",
        port,
        stop=[*ctl, "stop", "-m", "fast"],
        start=[*ctl, "start"],
        ready=["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)],
    )


def run(command: list[str] | str) -> None:
    subprocess.run(command, shell=isinstance(command, str), check=True, capture_output=True, timeout=120)


@contextmanager
def brought_back(service: Service) -> Iterator[Service]:
    """The service, started again and answering when this ends, however it ends."""
    if not service.answers():
        pytest.skip(f"{service.name} is not running here")
    try:
        yield service
    finally:
        if not service.answers():
            run(service.start)
            service.wait_until_up()


@dataclass
class Outage:
    down_at: float = 0.0  # time.time()
    back_at: float = 0.0


async def run_through_outage(tmp_path: Path, database_url: str, broker_url: str, service: Service) -> None:
    """CALLS webhook calls at a steady pace to one serve and two workers; `service` is stopped for
    DOWN_S seconds once a fifth of them completed. Callers do what the README says: on a 503
    or a dropped connection they try again with the same Idempotency-Key."""
    if broker_url.startswith("redis"):
        from redis.asyncio import Redis

        async with Redis.from_url(broker_url) as redis:
            await redis.delete("wirework.executions")  # ids of earlier runs' databases
    env = base_env(database_url, broker_url)
    db = Database(database_url)
    seen: Counter[str] = Counter()
    outage = Outage()
    with (
        running_server(tmp_path, **env) as (url, server),
        running_workers(tmp_path, 2, **env) as workers,
    ):
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            ann = await signed_up(client)
            await jobs_webhook(client, ann)
            logs = [tmp_path / f"worker-{n}.log" for n in range(len(workers))]
            await wait_for(lambda: _all_logged(logs, "worker_started"), 60, "the workers are up")
            ready_answers: list[int] = []

            async def call(n: int) -> None:
                await asyncio.sleep(n / CALLS_PER_S)
                for _ in range(100):
                    try:
                        response = await client.post(
                            "/webhook/jobs", json={"n": n}, headers={"Idempotency-Key": f"job-{n}"}
                        )
                    except httpx.TransportError as exc:
                        seen[type(exc).__name__] += 1
                        await asyncio.sleep(0.5)
                        continue
                    seen[str(response.status_code)] += 1
                    if response.status_code == 202:
                        return
                    assert response.status_code == 503, response.text
                    await asyncio.sleep(float(response.headers["Retry-After"]))
                raise AssertionError(f"call {n} was never accepted")

            async def fault() -> None:
                await wait_for(lambda: _completed_at_least(db, CALLS // 5), 60, "work under way")
                outage.down_at = time.time()
                run(service.stop)
                await asyncio.sleep(DOWN_S)
                run(service.start)
                await asyncio.to_thread(service.wait_until_up)
                outage.back_at = time.time()

            async def readiness() -> None:
                while True:
                    try:
                        ready_answers.append((await client.get("/readyz", timeout=5)).status_code)
                    except httpx.TransportError:
                        ready_answers.append(0)
                    await asyncio.sleep(0.25)

            watcher = asyncio.create_task(readiness())
            try:
                await asyncio.gather(fault(), *(call(n) for n in range(CALLS)))
                await wait_for(lambda: _all_completed(db, CALLS), 60, "every accepted execution completes")
            finally:
                watcher.cancel()
            assert (await client.get("/readyz")).status_code == 200  # ready again by itself
            processes = [server, *workers]
            assert [p.poll() for p in processes] == [None] * len(processes)  # nobody exited or was restarted
        async with db.session() as session:
            repeated = (
                await session.execute(
                    select(ExecutionLog.execution_id, ExecutionLog.node_id)
                    .where(ExecutionLog.status == NodeRunStatus.completed)
                    .group_by(ExecutionLog.execution_id, ExecutionLog.node_id)
                    .having(func.count() > 1)
                )
            ).all()
            finished = (await session.execute(select(func.count()).select_from(ExecutionLog))).scalar_one()
            first_after = (
                await session.execute(
                    select(func.min(Execution.finished_at)).where(
                        Execution.finished_at >= datetime.fromtimestamp(outage.back_at, UTC)
                    )
                )
            ).scalar_one()
    await db.dispose()
    assert repeated == []  # no node recorded twice
    assert finished == CALLS * 3
    recovery = first_after.timestamp() - outage.back_at if first_after else float("nan")
    print(
        f"\n{service.name} restart: stopped {outage.back_at - outage.down_at:.1f} s; first execution "
        f"completed {recovery:.2f} s after it answered again; calls answered {dict(seen)}; "
        f"/readyz answers {dict(Counter(ready_answers))}"
    )
    for name in ("serve.log", "worker-0.log", "worker-1.log"):
        text = log_of(tmp_path, name)
        lines = [line for line in text.splitlines() if " request " not in line and '"request"' not in line]
        assert len(lines) < 60, f"{name} says too much:\n" + "\n".join(lines[:80])
    if service.name == "PostgreSQL":
        assert 503 in ready_answers  # "database unreachable" while it was
    for worker in workers:
        assert worker.returncode == 0  # SIGTERM at the end, handled


async def _completed_at_least(db: Database, number: int) -> bool:
    try:
        return (await counts(db)).get(ExecutionStatus.completed, 0) >= number
    except Exception:  # the database restarts under this test too
        return False


@pytest.mark.chaos
async def test_redis_restart_loses_nothing(tmp_path: Path, cluster_db: str) -> None:
    with brought_back(redis_service()) as redis:
        await run_through_outage(tmp_path, cluster_db, os.environ[BROKERS["redis"]], redis)
    worker_log = log_of(tmp_path, "worker-0.log")
    assert worker_log.count("broker_unreachable") == 1 and worker_log.count("broker_back") == 1


@pytest.mark.chaos
async def test_rabbitmq_restart_loses_nothing(tmp_path: Path, cluster_db: str) -> None:
    url = os.environ.get(BROKERS["amqp"]) or pytest.skip("WIREWORK_TEST_AMQP_URL is not set (CI sets it)")
    with brought_back(rabbitmq_service()) as rabbitmq:
        await run_through_outage(tmp_path, cluster_db, url, rabbitmq)
    worker_log = log_of(tmp_path, "worker-0.log")
    assert worker_log.count("broker_unreachable") == 1 and worker_log.count("broker_back") == 1


@pytest.mark.chaos
async def test_postgresql_restart_loses_nothing(tmp_path: Path, cluster_db: str) -> None:
    if not cluster_db.startswith("postgresql"):
        pytest.skip("WIREWORK_TEST_POSTGRES_URL is not set (CI sets it)")
    with brought_back(postgresql_service()) as postgresql:
        await run_through_outage(tmp_path, cluster_db, some_broker(), postgresql)
    worker_log = log_of(tmp_path, "worker-0.log")
    assert worker_log.count("database_unreachable") >= 1 and "database_back" in worker_log
