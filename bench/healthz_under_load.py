"""Event-loop responsiveness under load (one JSON line): p50/p99/max latency of GET /healthz on a
real `wirework serve` (SQLite, one process) while

- a workflow whose Set node renders a heavy expression (the issue's three nested loops over
  range(450): about 91 million loop turns, which the step budget stops) runs again and again, and
- a 20,000-node workflow (a chain of No-op nodes) is saved and run.

/healthz is asked one call at a time, every 5 ms, from a separate process speaking plain
HTTP/1.1 on one keep-alive connection, so the figure is the server's loop, not the client's.
Also printed: the heavy runs finished (each failing on its budget) and their error, how long
the big workflow took to save and to run. BENCH_SECONDS sets the longest the load may last.
Aim: p99 under 50 ms.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server import running_server

SECONDS = float(os.environ.get("BENCH_SECONDS", "120"))
NODES = 20_000
HEAVY = (
    "{% for a in range(450) %}{% for b in range(450) %}{% for c in range(450) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)

PROBE = r"""
import asyncio, json, sys, time
host, port, stop_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import os
request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
async def main():
    reader, writer = await asyncio.open_connection(host, port)
    latencies = []
    while not os.path.exists(stop_file):
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.005)
    print(json.dumps(latencies))
asyncio.run(main())
"""


def _definition(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"nodes": nodes, "edges": edges, "settings": {}}


HEAVY_WORKFLOW = _definition(
    [
        {"id": "t", "name": "Start", "type": "core.manual_trigger"},
        {"id": "s", "name": "Heavy", "type": "core.set", "parameters": {"fields": {"x": HEAVY}}},
    ]
)
BIG_WORKFLOW = _definition(
    [{"id": "t", "name": "Start", "type": "core.manual_trigger"}]
    + [{"id": f"n{i}", "name": f"n{i}", "type": "core.noop"} for i in range(1, NODES)]
)


def _wait_done(client: httpx.Client, workflow_id: str, deadline: float) -> dict[str, Any]:
    """The workflow's latest execution once it has ended (read from the list: the detail view
    would load every node's record)."""
    while True:
        page = client.get("/api/v1/executions", params={"workflow_id": workflow_id, "limit": 1}).json()
        execution: dict[str, Any] = page["items"][0]
        if execution["status"] not in ("pending", "running") or time.monotonic() > deadline:
            return execution
        time.sleep(0.2)


def _heavy_runs(
    base: str, headers: dict[str, str], workflow_id: str, stop: threading.Event, out: list[str]
) -> None:
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while not stop.is_set():
            run = client.post(f"/api/v1/workflows/{workflow_id}/run", json={"input": [{}], "wait_s": 60})
            run.raise_for_status()
            out.append(f"{run.json()['status']}: {run.json()['error'] or ''}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        env = {"WIREWORK_LOG_LEVEL": "WARNING"}
        with (
            running_server(data_dir, **env) as (base, _server),
            httpx.Client(base_url=base, timeout=300) as client,
        ):
            account = client.post(
                "/api/v1/auth/signup",
                json={"email": "bench@example.com", "username": "bench", "password": "correct horse battery"},
            ).json()
            headers = {"authorization": f"Bearer {account['session']['token']}"}
            client.headers.update(headers)
            heavy = client.post("/api/v1/workflows", json={"name": "heavy", "definition": HEAVY_WORKFLOW})
            heavy.raise_for_status()

            host, port = base.removeprefix("http://").split(":")
            stop_file = data_dir / "stop-probe"
            probe = subprocess.Popen(
                [sys.executable, "-c", PROBE, host, port, str(stop_file)], stdout=subprocess.PIPE, text=True
            )
            stop = threading.Event()
            heavy_outcomes: list[str] = []
            heavy_thread = threading.Thread(
                target=_heavy_runs, args=(base, headers, heavy.json()["id"], stop, heavy_outcomes)
            )
            heavy_thread.start()
            try:
                time.sleep(1)  # the heavy runs alone first
                started = time.perf_counter()
                big = client.post("/api/v1/workflows", json={"name": "big", "definition": BIG_WORKFLOW})
                big.raise_for_status()
                saved = time.perf_counter()
                run = client.post(f"/api/v1/workflows/{big.json()['id']}/run", json={"input": [{}]})
                run.raise_for_status()
                done = _wait_done(client, big.json()["id"], time.monotonic() + SECONDS)
                finished = time.perf_counter()
                time.sleep(1)
            finally:
                stop.set()
                stop_file.touch()
                latencies = sorted(json.loads(probe.communicate(timeout=60)[0]))
                heavy_thread.join(timeout=180)
            if done["status"] != "completed":
                print((data_dir / "serve.log").read_text()[-3000:], file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "healthz_under_load",
                "healthz_calls": len(latencies),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
                "max_ms": round(latencies[-1] * 1000, 1),
                "heavy_runs": len(heavy_outcomes),
                "heavy_outcome": heavy_outcomes[0][:160] if heavy_outcomes else None,
                "big_nodes": NODES,
                "big_status": done["status"],
                "big_save_s": round(saved - started, 2),
                "big_run_s": round(finished - saved, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
