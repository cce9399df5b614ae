"""Web-chat benchmark (one JSON line): a scripted bot (chat.trigger → chat.reply, no LLM) on
SQLite in one `wirework serve` process, BENCH_SOCKETS (200) visitors on concurrent sockets,
each sending a message and waiting for the bot's reply, again and again for BENCH_SECONDS (20).

Prints round trips/s, p50/p99 of a round trip (message sent → reply received), whether every
message was recorded (user and bot messages counted in the database afterwards), and the
serve process's memory per 1,000 idle sockets (RSS with 1,000 more open sockets, minus before).
The load comes from a separate process, so the client's cost does not share the server's loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.server import running_server

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
SOCKETS = int(os.environ.get("BENCH_SOCKETS", "200"))
IDLE = 1000
CONCURRENCY = os.environ.get("WIREWORK_EXECUTOR_CONCURRENCY", "64")
"""Each message runs a short execution (two nodes): a conversation's round trip waits for a slot."""

DIALOG = {
    "nodes": [
        {"id": "t", "name": "Chat", "type": "chat.trigger"},
        {"id": "r", "name": "Reply", "type": "chat.reply", "parameters": {"text": "echo {{ json.text }}"}},
    ],
    "edges": [{"from": "t", "to": "r"}],
    "settings": {},
}

LOADGEN = r"""
import asyncio, json, sys, time, websockets
url, sockets, seconds, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
latencies, errors = [], 0
async def visitor(n, deadline):
    global errors
    async with websockets.connect(url, max_queue=None) as ws:
        json.loads(await ws.recv())  # hello
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            text = f"v{n} m{i}"
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": text}))
            while True:
                data = json.loads(await ws.recv())
                if data["type"] == "message" and data["message"]["content"] == "echo " + text:
                    latencies.append(time.perf_counter() - start)
                    break
                if data["type"] == "error":
                    errors += 1
                    break
async def idle_sockets():
    opened = []
    for _ in range(idle):
        ws = await websockets.connect(url)
        json.loads(await ws.recv())
        opened.append(ws)
    print("IDLE_OPEN", flush=True)
    sys.stdin.readline()  # the parent measured the server's memory
    for ws in opened:
        await ws.close()
async def main():
    if sys.argv[5] == "load":
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(visitor(n, deadline) for n in range(sockets)))
        print(json.dumps({"latencies": latencies, "errors": errors}))
    else:
        await idle_sockets()
asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def recorded(client: httpx.Client, headers: dict[str, str], bot_id: str) -> dict[str, int]:
    """User and bot messages in the database, counted page by page."""
    counts = {"user": 0, "assistant": 0}
    for role in counts:
        cursor = None
        while True:
            params: dict[str, Any] = {"bot_id": bot_id, "role": role, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/messages", params=params, headers=headers, timeout=60).json()
            counts[role] += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    return counts


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(
            Path(tmp),
            WIREWORK_LOG_LEVEL="WARNING",
            WIREWORK_EXECUTOR_CONCURRENCY=CONCURRENCY,
            WIREWORK_WEB_CHAT_MAX_SOCKETS_PER_IP="100000",  # every socket comes from 127.0.0.1
        ) as (
            base,
            server,
        ),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        token = client.post(
            "/api/v1/auth/signup",
            json={"email": "bench@example.com", "username": "bench", "password": "correct horse battery"},
        ).json()["session"]["token"]
        headers = {"authorization": f"Bearer {token}"}
        workflow = client.post(
            "/api/v1/workflows", json={"name": "chat", "definition": DIALOG}, headers=headers
        ).json()["id"]
        bot = client.post(
            "/api/v1/bots",
            json={
                "name": "Bench",
                "dialog_workflow_id": workflow,
                "settings": {
                    "web_chat_enabled": True,
                    "flood_max_messages": 10_000,
                    "web_chat_sockets_per_ip": 1000,  # the most a bot may set: IDLE sockets
                    "web_chat_messages_per_ip": 100_000,
                    "web_chat_conversations_per_ip": 10_000,
                },
            },
            headers=headers,
        ).json()
        url = base.replace("http://", "ws://") + f"/chat/{bot['public_id']}/socket"
        started = time.perf_counter()
        load = subprocess.run(
            [sys.executable, "-c", LOADGEN, url, str(SOCKETS), str(SECONDS), "0", "load"],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        result = json.loads(load.stdout)
        latencies = sorted(result["latencies"])
        time.sleep(1)  # replies still in flight when the clients stopped
        counts = recorded(client, headers, bot["id"])

        before = rss_mb(server.pid)
        idle = subprocess.Popen(
            [sys.executable, "-c", LOADGEN, url, "0", "0", str(IDLE), "idle"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert idle.stdout is not None and idle.stdin is not None
        assert idle.stdout.readline().strip() == "IDLE_OPEN"
        time.sleep(1)
        after = rss_mb(server.pid)
        idle.stdin.write("\n")
        idle.stdin.flush()
        idle.wait(timeout=60)
    print(
        json.dumps(
            {
                "bench": "web_chat_round_trip",
                "database": "sqlite",
                "sockets": SOCKETS,
                "executor_concurrency": int(CONCURRENCY),
                "seconds": SECONDS,
                "round_trips_per_s": round(len(latencies) / elapsed),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
                "errors": result["errors"],
                "messages_sent": len(latencies),
                "recorded_user_messages": counts["user"],
                "recorded_bot_messages": counts["assistant"],
                "every_message_recorded": counts["user"] >= len(latencies)
                and counts["assistant"] >= len(latencies),
                "memory_mb_per_1000_idle_sockets": round(after - before, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
