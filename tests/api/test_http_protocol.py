"""The HTTP server itself, as `wirework serve` runs it: a request head without end is refused."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.support.server import running_server


def test_an_endless_header_is_refused_and_the_server_keeps_answering(tmp_path: Path) -> None:
    with running_server(tmp_path) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as attacker:
            attacker.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ")
            answer = b""
            try:
                for _ in range(8):  # 8 MB of one header value that never ends
                    attacker.sendall(b"a" * (1024 * 1024))
                    started = time.monotonic()
                    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
                    assert time.monotonic() - started < 5
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed on us: what we want
            attacker.settimeout(5)
            try:
                while chunk := attacker.recv(65536):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
        # An ordinary large header still passes.
        response = httpx.get(f"{url}/healthz", headers={"x-note": "n" * 60_000}, timeout=5)
        assert response.status_code == 200
