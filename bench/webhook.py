"""Webhook benchmark (one JSON line per set-up): a webhook → core.set → respond workflow under
32 concurrent keep-alive clients for 20 s, through real `wirework serve` (and worker) processes.

- SQLite, one process (the embedded default);
- PostgreSQL with Redis and two `wirework worker` processes (when the services answer; the URLs
  come from WIREWORK_TEST_POSTGRES_URL / WIREWORK_TEST_REDIS_URL, else the local defaults).

Prints completed executions/s (counted in the database), p50/p99 latency of the calls, and the
peak RSS of each Wirework process. BENCH_SECONDS and BENCH_CLIENTS change the load.
The load comes from a separate process speaking plain HTTP/1.1, so the client's own cost does
not share the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.databases import create_database, drop_database
from tests.support.server import running_server, running_workers

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
POSTGRES = os.environ.get("WIREWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("WIREWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

WORKFLOW = {
    "nodes": [
        {"id": "hook", "name": "Webhook", "type": "core.webhook",
         "parameters": {"path": "bench", "response_mode": "respond_node"}},
        {"id": "set", "name": "Set", "type": "core.set",
         "parameters": {"fields": {"total": "{{ json.body.price * json.body.qty }}"}, "keep_only_set": True}},
        {"id": "respond", "name": "Respond", "type": "core.respond_webhook", "parameters": {}},
    ],
    "edges": [{"from": "hook", "to": "set"}, {"from": "set", "to": "respond"}],
    "settings": {},
}  # fmt: skip

LOADGEN = r"""
import asyncio, json, sys, time
host, port, clients, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
body = b'{"price": 3, "qty": 7}'
request = (b"POST /webhook/bench HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
latencies, errors, statuses = [], 0, {}
async def client(deadline):
    global errors
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        if head.startswith(b"HTTP/1.1 200"):
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1
            status = head.split(b" ", 2)[1].decode()
            statuses[status] = statuses.get(status, 0) + 1
    writer.close()
async def main():
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(client(deadline) for _ in range(clients)))
    print(json.dumps({"latencies": latencies, "errors": errors, "statuses": statuses}))
asyncio.run(main())
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def completed(url: str, token: str) -> int:
    """Completed executions, counted through the API (all pages are not needed: one filter)."""
    total, cursor = 0, None
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
        while True:
            params: dict[str, Any] = {"status": "completed", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/executions", params=params).json()
            total += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return total


def run_load(data_dir: Path, env: dict[str, str], worker_count: int) -> dict[str, Any]:
    with (
        running_server(data_dir, **env) as (base, server),
        running_workers(data_dir, worker_count, 16, **env) as processes,
    ):
        with httpx.Client(base_url=base, timeout=30) as client:
            account = client.post(
                "/api/v1/auth/signup",
                json={"email": "bench@example.com", "username": "bench", "password": "correct horse battery"},
            ).json()
            token = account["session"]["token"]
            headers = {"authorization": f"Bearer {token}"}
            workflow = client.post(
                "/api/v1/workflows", json={"name": "bench", "definition": WORKFLOW}, headers=headers
            )
            client.post(
                f"/api/v1/workflows/{workflow.json()['id']}/activate", headers=headers
            ).raise_for_status()
            check = client.post("/webhook/bench", json={"price": 3, "qty": 7})
            assert check.status_code == 200 and check.json() == {"total": 21}, check.text
        host, port = base.removeprefix("http://").split(":")
        started = time.perf_counter()
        load = subprocess.run(
            [sys.executable, "-c", LOADGEN, host, port, str(CLIENTS), str(SECONDS)],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        result = json.loads(load.stdout)
        if result["errors"]:  # show why, from the processes' own logs
            for log in sorted(data_dir.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
        done = completed(base, token) - 1  # minus the check call
        latencies = sorted(result["latencies"])
        rss = {"serve": peak_rss_mb(server.pid)} | {
            f"worker{n}": peak_rss_mb(p.pid) for n, p in enumerate(processes)
        }
    return {
        "executions_per_s": round(done / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
        "errors": result["errors"],
        "error_statuses": result["statuses"],
        "peak_rss_mb": rss,
        "clients": CLIENTS,
        "seconds": SECONDS,
    }


def bench_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"WIREWORK_WEBHOOK_RATE_LIMIT": "0", "WIREWORK_LOG_LEVEL": "WARNING"}
        figures = run_load(Path(tmp), env, worker_count=0)
    print(json.dumps({"bench": "webhook", "setup": "sqlite, one process", **figures}), flush=True)


def bench_postgres_redis() -> None:
    os.environ.setdefault("WIREWORK_TEST_POSTGRES_URL", POSTGRES)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            url = asyncio.run(create_database("postgresql", Path(tmp)))
        except Exception as exc:
            print(json.dumps({"bench": "webhook", "setup": "postgresql+redis", "skipped": str(exc)[:200]}))
            return
        try:
            from redis import Redis

            Redis.from_url(REDIS).delete("wirework.executions")
            env = {
                "WIREWORK_DATABASE_URL": url,
                "WIREWORK_BROKER_URL": REDIS,
                "WIREWORK_SECRET_KEY": "bench-" + "k" * 40,
                "WIREWORK_WEBHOOK_RATE_LIMIT": "0",
                "WIREWORK_LOG_LEVEL": "WARNING",
            }
            figures = run_load(Path(tmp), env, worker_count=2)
        finally:
            asyncio.run(drop_database("postgresql", url))
    print(json.dumps({"bench": "webhook", "setup": "postgresql + redis, two workers", **figures}), flush=True)


if __name__ == "__main__":
    if not os.environ.get("BENCH_ONLY_PG"):
        bench_sqlite()
    bench_postgres_redis()
