"""Run `wirework serve` as a real process on a free port, for tests that need real HTTP."""

from __future__ import annotations

import os
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
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError((data_dir / "serve.log").read_text())
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not become ready in 30 s")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
