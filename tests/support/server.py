"""Run `wirework serve` (on a free port) and `wirework worker` as real processes, for tests and
benchmarks that need real HTTP and real worker mode."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

WIREWORK = str(Path(sys.executable).parent / "wirework")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWORK_")}
    env["WIREWORK_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@contextmanager
def running_server(data_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Yields the base URL once /readyz answers 200; stops the server after."""
    port = free_port()
    # Output goes to a file: an unread pipe fills up and blocks the server.
    log = (data_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [WIREWORK, "serve", "--port", str(port)],
        env=clean_env(data_dir, **env),
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core machine can take that long
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError((data_dir / "serve.log").read_text())
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not become ready in 60 s")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def running_workers(
    data_dir: Path, count: int, concurrency: int = 4, **env: str
) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` worker processes, logging to data_dir/worker-N.log; stopped with SIGTERM after
    (killed if one does not stop within 15 s)."""
    first = len(list(data_dir.glob("worker-*.log")))  # a second set does not overwrite the logs
    processes = [
        subprocess.Popen(
            [WIREWORK, "worker", "--concurrency", str(concurrency)],
            env=clean_env(data_dir, **env),
            cwd=data_dir,
            stdout=(data_dir / f"worker-{first + n}.log").open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
