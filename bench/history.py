"""Execution history at scale (issue 15): one JSON line per database and history size.

For SQLite (one `wirework serve`) and PostgreSQL (one `wirework serve`, local executor), with
0, 100k and 1M finished executions in the history (each with a node record; filled with bulk
INSERT … SELECT, not through the engine), it measures from outside, over real HTTP:

- webhook calls/s and p50/p99 (a webhook → set → respond workflow, BENCH_CLIENTS keep-alive
  clients for BENCH_SECONDS, from a separate process);
- GET /api/v1/executions p50/p95: first page, by status (failed), by workflow (the busiest,
  half the history), by workflow and status;
- DELETE /api/v1/executions/{id} p50/max of one execution;
- while a retention pass (the server's own background job) deletes 100k executions: webhook p99
  under the same load, the longest /healthz answer (probed every 20 ms), and how long runs with a
  `core.wait` of 2 s took from acceptance to their end;
- at size 0: the bytes stored per execution for a 1 MB webhook body through webhook → noop →
  noop (the JSON the rows hold, and the growth of the database on disk).

BENCH_SIZES (default "0,100000,1000000"), BENCH_BACKENDS ("sqlite,postgresql"), BENCH_SECONDS
(10), BENCH_CLIENTS (8) change the run. PostgreSQL comes from WIREWORK_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.databases import create_database, drop_database
from tests.support.server import running_server

from wirework.db import migrate
from wirework.db.engine import Database

SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "0,100000,1000000").split(",")]
BACKENDS = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
OLD = 100_000  # executions of each fill old enough for retention (older than 30 days)
DAY_MS = 86_400_000
CHUNK = 50_000

HOOK = {
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
BIG = {
    "nodes": [
        {"id": "hook", "name": "Webhook", "type": "core.webhook",
         "parameters": {"path": "big", "response_mode": "last_node"}},
        {"id": "a", "name": "A", "type": "core.noop", "parameters": {}},
        {"id": "b", "name": "B", "type": "core.noop", "parameters": {}},
    ],
    "edges": [{"from": "hook", "to": "a"}, {"from": "a", "to": "b"}],
    "settings": {},
}  # fmt: skip
WAITER = {
    "nodes": [
        {"id": "t", "name": "Start", "type": "core.manual_trigger", "parameters": {}},
        {"id": "w", "name": "Wait", "type": "core.wait", "parameters": {"seconds": 2}},
        {"id": "n", "name": "After", "type": "core.noop", "parameters": {}},
    ],
    "edges": [{"from": "t", "to": "w"}, {"from": "w", "to": "n"}],
    "settings": {},
}  # fmt: skip
FILLER = {
    "nodes": [{"id": "t", "name": "Start", "type": "core.manual_trigger", "parameters": {}}],
    "edges": [],
    "settings": {},
}

# Webhook load from its own process: each call's start (epoch s), latency and whether it was a 200.
# It stops after its time or when the stop file appears.
LOADGEN = r"""
import asyncio, json, os, sys, time
host, port, clients, seconds, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), \
    sys.argv[5]
body = b'{"price": 3, "qty": 7}'
request = (b"POST /webhook/bench HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
calls = []
async def client(deadline):
    reader, writer = await asyncio.open_connection(host, port)
    while time.perf_counter() < deadline and not os.path.exists(stop):
        began, start = time.time(), time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        calls.append((began, time.perf_counter() - start, head.startswith(b"HTTP/1.1 200")))
    writer.close()
async def main():
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(client(deadline) for _ in range(clients)))
    print(json.dumps(calls))
asyncio.run(main())
"""


def log(message: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1)


# ---------------------------------------------------------------------------- filling


def _fill_sql(dialect: str, refs: dict[str, Any], old: int, rest: int) -> tuple[str, str]:
    """INSERT … SELECT of executions x in [:lo, :hi) of a fill starting at :base, and of their
    node records (ids in [:first, :last]). The fill's first `old` executions are 31-40 days
    old, the rest 1-29 days; half belong to the busy workflow; ids are UUID v7 of created_at."""
    others = refs["others"]
    ms = (
        f"(:now - {40 * DAY_MS} + CASE WHEN x - :base < {old} THEN (x - :base) * {9 * DAY_MS // old} "
        f"ELSE {11 * DAY_MS} + (x - :base - {old}) * {28 * DAY_MS // rest} END)"
    )
    if dialect == "sqlite":

        def hexid(value: str) -> str:
            return f"'{uuid.UUID(value).hex}'"  # stored as CHAR(32) without dashes

        prefix = "WITH RECURSIVE s(x) AS (SELECT :lo UNION ALL SELECT x + 1 FROM s WHERE x < :hi - 1)"
        source = f"(SELECT x, {ms} AS ms FROM s)"
        new_id = "printf('%012x7%03x8%015x', ms, x % 4096, x)"
        moment = "strftime('%Y-%m-%d %H:%M:%S', ms / 1000, 'unixepoch') || printf('.%03d000', ms % 1000)"
        false, empty_list, empty_map, output = "0", "'[]'", "'{}'", """'{"main": [{"n": 1}]}'"""
    else:

        def hexid(value: str) -> str:
            return f"'{value}'::uuid"

        prefix = ""
        series = "generate_series(CAST(:lo AS BIGINT), CAST(:hi AS BIGINT) - 1)"
        source = f"(SELECT x, {ms} AS ms FROM {series} AS x) q"
        new_id = (
            "(lpad(to_hex(ms), 12, '0') || '7' || lpad(to_hex(x % 4096), 3, '0') || '8' "
            "|| lpad(to_hex(x), 15, '0'))::uuid"
        )
        moment = "to_timestamp(ms / 1000.0)"
        false, empty_list, empty_map = "false", "'[]'::jsonb", "'{}'::jsonb"
        output = """'{"main": [{"n": 1}]}'::jsonb"""
    workflow = "CASE x % 18 " + " ".join(f"WHEN {2 * i + 1} THEN {hexid(w)}" for i, w in enumerate(others))
    workflow += f" ELSE {hexid(refs['busy'])} END"
    status = "CASE WHEN x % 50 < 4 THEN 'failed' WHEN x % 50 = 4 THEN 'cancelled' ELSE 'completed' END"
    executions = f"""{prefix}
INSERT INTO executions (id, org_id, workflow_id, version_id, status, trigger_type, input_items, options,
  created_at, started_at, finished_at, cancel_requested, chain_depth, spawned_runs, claim_failures)
SELECT {new_id}, {hexid(refs["org"])}, {workflow}, {hexid(refs["version"])}, {status}, 'webhook',
  {empty_list}, {empty_map}, {moment}, {moment}, {moment}, {false}, 0, 0, 0 FROM {source}"""
    records = f"""
INSERT INTO execution_logs (id, execution_id, node_id, node_name, attempt, status, started_at, finished_at,
  output_data, item_count, superseded)
SELECT id, id, 'hook', 'Webhook', 1, 'completed', created_at, finished_at, {output}, 1, {false}
FROM executions WHERE id >= :first AND id <= :last"""
    return executions, records


async def fill(db: Database, refs: dict[str, Any], start: int, count: int) -> None:
    """Add `count` finished executions (x from `start` on) with a node record each."""
    from sqlalchemy import text

    old = min(OLD, count)
    rest = max(1, count - old)
    executions, records = _fill_sql(db.dialect, refs, old, rest)
    now = int(time.time() * 1000)

    def ms(x: int) -> int:  # as the SQL computes it
        i = x - start
        return (
            now
            - 40 * DAY_MS
            + (i * (9 * DAY_MS // old) if i < old else 11 * DAY_MS + (i - old) * (28 * DAY_MS // rest))
        )

    began = time.monotonic()
    for lo in range(start, start + count, CHUNK):
        hi = min(start + count, lo + CHUNK)
        # The chunk's ids lie between these (an id starts with its millisecond); other rows there
        # have none: fills keep to their own days, webhook calls are of today.
        first, last = uuid.UUID(int=ms(lo) << 80), uuid.UUID(int=((ms(hi - 1) + 1) << 80) - 1)
        bounds = (first.hex, last.hex) if db.dialect == "sqlite" else (first, last)
        async with db.engine.begin() as connection:
            await connection.execute(text(executions), {"lo": lo, "hi": hi, "base": start, "now": now})
            await connection.execute(text(records), {"first": bounds[0], "last": bounds[1]})
        done = hi - start
        log(
            f"{db.dialect}: {done:,}/{count:,} executions filled ({done / (time.monotonic() - began):,.0f}/s)"
        )
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


# ---------------------------------------------------------------------------- measuring


async def loadgen(base: str, seconds: float, stop: Path) -> list[tuple[float, float, bool]]:
    host, port = base.removeprefix("http://").split(":")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOADGEN, host, port, str(CLIENTS), str(seconds), str(stop),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    return [(float(a), float(b), bool(c)) for a, b, c in json.loads(out)]


def webhook_figures(calls: list[tuple[float, float, bool]], seconds: float) -> dict[str, Any]:
    ok = [latency for _, latency, good in calls if good]
    return {
        "calls_per_s": round(len(ok) / seconds, 1),
        "p50_ms": pct(ok, 0.5),
        "p99_ms": pct(ok, 0.99),
        "errors": sum(1 for *_, good in calls if not good),
    }


async def list_figures(client: httpx.AsyncClient, busy: str) -> dict[str, Any]:
    queries = {
        "first_page": {},
        "by_status": {"status": "failed"},
        "by_workflow": {"workflow_id": busy},
        "by_workflow_and_status": {"workflow_id": busy, "status": "failed"},
    }
    figures: dict[str, Any] = {}
    for name, params in queries.items():
        times = []
        for _ in range(40):
            began = time.perf_counter()
            response = await client.get("/api/v1/executions", params={**params, "limit": 50})
            times.append(time.perf_counter() - began)
            response.raise_for_status()
        figures[name] = {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95)}
    return figures


async def delete_figures(client: httpx.AsyncClient, db: Database, size: int) -> dict[str, Any]:
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id FROM executions WHERE status = 'completed' ORDER BY id LIMIT 20 OFFSET :skip"),
            {"skip": max(0, size // 2)},
        )
        ids = [str(uuid.UUID(str(row[0]))) for row in rows]
    times = []
    for execution_id in ids:
        began = time.perf_counter()
        response = await client.delete(f"/api/v1/executions/{execution_id}")
        times.append(time.perf_counter() - began)
        assert response.status_code == 204, response.text
    return {"p50_ms": pct(times, 0.5), "max_ms": pct(times, 1.0), "count": len(times)}


async def stored_bytes(client: httpx.AsyncClient, db: Database, data_dir: Path) -> dict[str, Any]:
    """Bytes stored per execution of webhook → noop → noop for a 1 MB JSON body."""
    from sqlalchemy import text

    disk_before = await _disk_bytes(db, data_dir)
    ids = []
    for _ in range(5):
        body = {"data": base64.b64encode(os.urandom(768 * 1024)).decode()}  # 1 MB, incompressible
        response = await client.post("/webhook/big", json=body, timeout=60)
        assert response.status_code == 200, response.text[:300]
    async with db.engine.connect() as connection:
        length = "length" if db.dialect == "sqlite" else "octet_length"
        cast = "" if db.dialect == "sqlite" else "::text"
        rows = await connection.execute(
            text(
                f"SELECT e.id, coalesce({length}(e.input_items{cast}), 0), "
                f"(SELECT coalesce(sum(coalesce({length}(l.input_data{cast}), 0) + "
                f"coalesce({length}(l.output_data{cast}), 0)), 0) FROM execution_logs l "
                "WHERE l.execution_id = e.id), "
                "(SELECT coalesce(sum(p.size), 0) FROM execution_payloads p WHERE p.execution_id = e.id) "
                "FROM executions e WHERE e.trigger_type = 'webhook' AND e.workflow_id = :w"
            ),
            {"w": BIG_ID[0] if db.dialect != "sqlite" else uuid.UUID(BIG_ID[0]).hex},
        )
        totals = [int(a) + int(b) + int(c) for _, a, b, c in rows]
        ids = totals
    disk_after = await _disk_bytes(db, data_dir)
    body_bytes = len(json.dumps(body))
    return {
        "body_bytes": body_bytes,
        "json_bytes_per_execution": round(statistics.mean(ids)) if ids else None,
        "disk_bytes_per_execution": round((disk_after - disk_before) / 5),
        "ratio": round(statistics.mean(ids) / body_bytes, 3) if ids else None,
    }


BIG_ID: list[str] = []


async def _disk_bytes(db: Database, data_dir: Path) -> int:
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        if db.dialect == "sqlite":
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = (await connection.exec_driver_sql("PRAGMA page_count")).scalar_one()
            free = (await connection.exec_driver_sql("PRAGMA freelist_count")).scalar_one()
            size = (await connection.exec_driver_sql("PRAGMA page_size")).scalar_one()
            return int((pages - free) * size)
        total = 0
        for table in ("executions", "execution_logs", "execution_payloads"):
            total += (
                await connection.execute(text(f"SELECT pg_total_relation_size('{table}')"))
            ).scalar_one()
        return int(total)


async def retention_figures(base: str, headers: dict[str, str], db: Database, waiter: str) -> dict[str, Any]:
    """While the server's retention job deletes the old executions: webhook p99, /healthz, waits."""
    from sqlalchemy import text

    stop = Path(tempfile.mkdtemp()) / "stop"
    window: dict[str, float] = {}
    healthz: list[tuple[float, float]] = []
    runs: list[str] = []

    async def watch_job() -> None:
        while "end" not in window:
            async with db.engine.connect() as connection:
                row = (
                    await connection.execute(
                        text("SELECT lease_owner, state FROM background_jobs WHERE name = 'retention'")
                    )
                ).first()
            now = time.time()
            if row is not None and row[0] is not None and "start" not in window:
                window["start"] = now
            elif row is not None and row[0] is None and "start" in window:
                state = row[1] if isinstance(row[1], dict) else json.loads(row[1] or "{}")
                window["end"], window["deleted"] = now, state.get("deleted", 0)
                window["slowest_batch_ms"] = round(1000 * state.get("slowest_batch_s", 0), 1)
            await asyncio.sleep(0.05)
        stop.touch()

    async def probe(client: httpx.AsyncClient) -> None:
        while not stop.exists():
            began = time.perf_counter()
            await client.get("/healthz")
            healthz.append((time.time(), time.perf_counter() - began))
            await asyncio.sleep(0.02)

    async def waits(client: httpx.AsyncClient) -> None:
        while not stop.exists():
            if "start" in window:
                response = await client.post(f"/api/v1/workflows/{waiter}/run", json={"input": []})
                runs.append(response.json()["id"])
            await asyncio.sleep(2.5)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        calls, *_ = await asyncio.wait_for(
            asyncio.gather(loadgen(base, 600, stop), watch_job(), probe(client), waits(client)), 900
        )
        await asyncio.sleep(4)  # the last waits end
        delays = []
        for execution_id in runs:
            detail = (await client.get(f"/api/v1/executions/{execution_id}")).json()
            if detail["finished_at"]:
                delays.append(_at(detail["finished_at"]) - _at(detail["created_at"]))
            else:
                delays.append(float("inf"))
    start, end = window["start"], window["end"]
    during = [latency for began, latency, good in calls if good and start <= began <= end]
    return {
        "deleted": window.get("deleted"),
        "slowest_batch_ms": window.get("slowest_batch_ms"),
        "pass_s": round(end - start, 1),
        "webhook_p99_ms": pct(during, 0.99),
        "webhook_calls_per_s": round(len(during) / max(0.001, end - start), 1),
        "errors": sum(1 for began, _, good in calls if not good and start <= began <= end),
        "healthz_p99_ms": pct([t for began, t in healthz if start <= began <= end], 0.99),
        "healthz_max_ms": pct([t for began, t in healthz if start <= began <= end], 1.0),
        "wait_2s_runs": len(delays),
        "wait_2s_max_s": round(max(delays), 2) if delays else None,
    }


def _at(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


# ---------------------------------------------------------------------------- set-ups


def _env(url: str, retention: bool) -> dict[str, str]:
    env = {
        "WIREWORK_WEBHOOK_RATE_LIMIT": "0",
        "WIREWORK_LOG_LEVEL": "WARNING",
        "WIREWORK_SECRET_KEY": "bench-" + "k" * 40,
        "WIREWORK_EXECUTIONS_MAX_COUNT": "0",
        # Measuring: no pass; the retention phase: age 30 days, the first pass 4 s after start.
        "WIREWORK_EXECUTIONS_MAX_AGE_DAYS": "30" if retention else "0",
        "WIREWORK_RETENTION_INTERVAL_S": "4" if retention else "100000",
    }
    if not url.startswith("sqlite"):
        env["WIREWORK_DATABASE_URL"] = url
    return env


async def setup(base: str) -> tuple[dict[str, str], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        account = (
            await client.post(
                "/api/v1/auth/signup",
                json={"email": "bench@example.com", "username": "bench", "password": "correct horse battery"},
            )
        ).json()
        headers = {"authorization": f"Bearer {account['session']['token']}"}
        ids = {}
        for name, definition in [("hook", HOOK), ("big", BIG), ("waiter", WAITER)] + [
            (f"filler{n}", FILLER) for n in range(10)
        ]:
            made = await client.post(
                "/api/v1/workflows", json={"name": name, "definition": definition}, headers=headers
            )
            made.raise_for_status()
            ids[name] = made.json()["id"]
        for name in ("hook", "big"):
            (await client.post(f"/api/v1/workflows/{ids[name]}/activate", headers=headers)).raise_for_status()
        versions = (await client.get(f"/api/v1/workflows/{ids['filler0']}/versions", headers=headers)).json()
    BIG_ID[:] = [ids["big"]]
    refs = {
        "org": account["organization"]["id"] if "organization" in account else None,
        "busy": ids["filler0"],
        "others": [ids[f"filler{n}"] for n in range(1, 10)],
        "version": versions[0]["id"],
        "ids": ids,
    }
    return headers, refs


async def _org_of(db: Database, workflow_id: str) -> str:
    from sqlalchemy import text

    key = workflow_id if db.dialect != "sqlite" else uuid.UUID(workflow_id).hex
    async with db.engine.connect() as connection:
        org = (
            await connection.execute(text("SELECT org_id FROM workflows WHERE id = :w"), {"w": key})
        ).scalar_one()
    return str(uuid.UUID(str(org)))


def bench(backend: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        data_dir = Path(tmp)
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{data_dir / 'wirework.db'}"
        else:
            try:
                url = asyncio.run(create_database(backend, data_dir))
            except Exception as exc:
                print(json.dumps({"bench": "history", "backend": backend, "skipped": str(exc)[:200]}))
                return
            stack.callback(lambda: asyncio.run(drop_database(backend, url)))
        asyncio.run(_migrate(url))
        with running_server(data_dir, **_env(url, retention=False)) as (base, _):
            headers, refs = asyncio.run(setup(base))
        filled = 0
        next_x = 0
        for size in SIZES:
            if size > filled:
                asyncio.run(_fill(url, refs, next_x, size - filled))
                next_x += size - filled
                filled = size
            figures: dict[str, Any] = {"bench": "history", "backend": backend, "history": size}
            with running_server(data_dir, **_env(url, retention=False)) as (base, _):
                figures.update(asyncio.run(_measure(base, headers, url, refs, size, data_dir)))
            if size >= OLD:
                with running_server(data_dir, **_env(url, retention=True)) as (base, _):
                    log(f"{backend} {size:,}: retention pass under load")
                    figures["during_retention"] = asyncio.run(_retention(base, headers, url, refs))
                filled -= OLD
            print(json.dumps(figures), flush=True)


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


async def _fill(url: str, refs: dict[str, Any], start: int, count: int) -> None:
    db = Database(url)
    try:
        if refs.get("org") is None:
            refs["org"] = await _org_of(db, refs["busy"])
        await fill(db, refs, start, count)
    finally:
        await db.dispose()


async def _measure(
    base: str, headers: dict[str, str], url: str, refs: dict[str, Any], size: int, data_dir: Path
) -> dict[str, Any]:
    db = Database(url)
    try:
        log(f"{db.dialect} {size:,}: webhook load")
        loaded = asyncio.Event()
        healthz: list[float] = []

        async def probe() -> None:  # the same probe as during retention: the baseline to compare
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                while not loaded.is_set():
                    began = time.perf_counter()
                    await client.get("/healthz")
                    healthz.append(time.perf_counter() - began)
                    await asyncio.sleep(0.02)

        probing = asyncio.create_task(probe())
        calls = await loadgen(base, SECONDS, Path(tempfile.mkdtemp()) / "never")
        loaded.set()
        await probing
        figures: dict[str, Any] = {"webhook": webhook_figures(calls, SECONDS)}
        figures["webhook"] |= {"healthz_p99_ms": pct(healthz, 0.99), "healthz_max_ms": pct(healthz, 1.0)}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            log(f"{db.dialect} {size:,}: list pages")
            figures["list"] = await list_figures(client, refs["busy"])
            figures["delete"] = await delete_figures(client, db, size)
            if size == 0:
                figures["stored_1mb_body"] = await stored_bytes(client, db, data_dir)
        return figures
    finally:
        await db.dispose()


async def _retention(base: str, headers: dict[str, str], url: str, refs: dict[str, Any]) -> dict[str, Any]:
    db = Database(url)
    try:
        return await retention_figures(base, headers, db, refs["ids"]["waiter"])
    finally:
        await db.dispose()


if __name__ == "__main__":
    for name in BACKENDS:
        bench(name)
