"""Property-based API testing: schemathesis fuzzes every operation of /openapi.json on a real
server, as an authenticated user, and must find no 500 and no response that breaks the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import clean_env, running_server

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_no_server_error_or_schema_break(tmp_path: Path) -> None:
    with running_server(tmp_path, WIREWORK_OPEN_SIGNUP="true", WIREWORK_LOG_LEVEL="WARNING") as (url, _):
        token = httpx.post(
            f"{url}/api/v1/auth/signup",
            json={"email": "fuzz@example.com", "username": "fuzz", "password": "fuzz-fuzz-fuzz"},
        ).json()["session"]["token"]
        key = httpx.post(
            f"{url}/api/v1/api-keys", json={"name": "fuzz"}, headers={"Authorization": f"Bearer {token}"}
        ).json()["key"]
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                CHECKS,
                "--max-examples",
                "30",
                "--seed",
                "1",
                "--generation-deterministic",
                "--continue-on-failure",
                "--phases",
                "examples,coverage,fuzzing",
                "--no-color",
            ],
            env=clean_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "passed" in output.lower()
