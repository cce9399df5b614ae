"""The `wirework` command as a user runs it: a real process on a fresh data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from wirework import __version__
from wirework.db.migrate import head_revision

HEAD = head_revision()

WIREWORK = str(Path(sys.executable).parent / "wirework")
ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWORK_")}
    env["WIREWORK_DATA_DIR"] = str(data_dir)
    result = subprocess.run([WIREWORK, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_version(tmp_path: Path) -> None:
    assert run("version", data_dir=tmp_path).stdout.strip() == __version__


def test_user_create_on_a_fresh_machine_migrates_and_reports(tmp_path: Path) -> None:
    made = run(
        "user",
        "create",
        "--email",
        "Root@Example.com",
        "--username",
        "root",
        "--password",
        "long-enough-pw",
        "--admin",
        "--org",
        "Acme",
        data_dir=tmp_path,
    )
    assert "created admin user root, owner of Acme (acme)" in made.stderr
    assert run("db", "current", data_dir=tmp_path).stdout.strip() == f"{HEAD} (head)"
    again = run(
        "user",
        "create",
        "--email",
        "root@example.com",
        "--username",
        "other",
        "--password",
        "long-enough-pw",
        data_dir=tmp_path,
        check=False,
    )
    assert again.returncode == 1 and "already exists" in again.stderr


def test_user_create_explains_bad_input(tmp_path: Path) -> None:
    bad = run(
        "user",
        "create",
        "--email",
        "nope",
        "--username",
        "x!",
        "--password",
        "short",
        data_dir=tmp_path,
        check=False,
    )
    assert bad.returncode == 1
    assert "email" in bad.stderr and "password" in bad.stderr and "Traceback" not in bad.stderr


def test_backup_and_restore_commands(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    run(
        "user",
        "create",
        "--email",
        "r@example.com",
        "--username",
        "rob",
        "--password",
        "long-enough-pw",
        data_dir=source,
    )
    archive = tmp_path / "backup.tar.gz"
    made = run("db", "backup", str(archive), data_dir=source)
    assert "wrote" in made.stderr and f"tables at {HEAD}" in made.stderr
    run("db", "upgrade", data_dir=target)
    restored = run("db", "restore", str(archive), data_dir=target)
    assert "restored" in restored.stderr
    refused = run("db", "restore", str(archive), data_dir=target, check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    run("db", "restore", str(archive), "--force", data_dir=target)


def test_db_doc_check_passes_on_the_committed_doc(tmp_path: Path) -> None:
    assert "is current" in run("db", "doc", "--check", data_dir=tmp_path).stderr


def test_db_history_lists_the_migrations(tmp_path: Path) -> None:
    assert HEAD in run("db", "history", data_dir=tmp_path).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_migrates_and_answers_ready(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWORK_")}
    env["WIREWORK_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        [WIREWORK, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "serve did not start in 30 s"
                time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["revision"] == HEAD
        signup = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/signup",
            json={"email": "a@example.com", "username": "ann", "password": "long-enough-pw"},
        )
        assert signup.status_code == 201
        assert (tmp_path / "wirework.db").exists()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "No users yet" in output and f"http://127.0.0.1:{port}" in output
