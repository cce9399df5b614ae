"""The `wirework` command as a user runs it: a real process on a fresh data directory."""

from __future__ import annotations

import itertools
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


def _write_workflow(path: Path, nodes: list[dict[str, object]]) -> Path:
    import json

    trigger = {"id": "t", "name": "Start", "type": "core.manual_trigger"}
    all_nodes = [trigger, *nodes]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(all_nodes)]
    path.write_text(json.dumps({"name": "cli", "definition": {"nodes": all_nodes, "edges": edges}}))
    return path


def test_workflow_run_prints_each_node_and_fails_with_nonzero(tmp_path: Path) -> None:
    import json

    good = _write_workflow(
        tmp_path / "good.json",
        [
            {
                "id": "s",
                "name": "Double",
                "type": "core.set",
                "parameters": {"fields": {"d": "{{ json.n * 2 }}"}},
            }
        ],
    )
    result = run("workflow", "run", str(good), "--input", '[{"n": 21}]', data_dir=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1] == {"node": "Double", "outputs": {"main": [{"n": 21, "d": 42}]}}
    bad = _write_workflow(
        tmp_path / "bad.json",
        [{"id": "x", "name": "Boom", "type": "core.stop_error", "parameters": {"message": "nope"}}],
    )
    failed = run("workflow", "run", str(bad), data_dir=tmp_path, check=False)
    assert failed.returncode == 1 and "Boom" in failed.stderr and "nope" in failed.stderr
    invalid = _write_workflow(tmp_path / "invalid.json", [{"id": "x", "name": "X", "type": "core.nope"}])
    refused = run("workflow", "run", str(invalid), data_dir=tmp_path, check=False)
    assert refused.returncode == 1 and "core.nope" in refused.stderr


def test_workflow_import_list_export(tmp_path: Path) -> None:
    import json

    run(
        "user",
        "create",
        "--email",
        "w@example.com",
        "--username",
        "wil",
        "--password",
        "long-enough-pw",
        "--org",
        "Acme",
        data_dir=tmp_path,
    )
    source = _write_workflow(tmp_path / "wf.json", [{"id": "n", "name": "N", "type": "core.noop"}])
    workflow_id = run("workflow", "import", str(source), "--org", "acme", data_dir=tmp_path).stdout.strip()
    assert workflow_id in run("workflow", "list", data_dir=tmp_path).stdout
    exported = json.loads(run("workflow", "export", workflow_id, data_dir=tmp_path).stdout)
    assert (
        exported["name"] == "cli" and exported["definition"] == json.loads(source.read_text())["definition"]
    )
    assert "No executions" not in run("execution", "list", data_dir=tmp_path).stdout
