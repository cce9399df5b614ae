"""The `wirework` command as a user runs it: a real process on a fresh data directory."""

from __future__ import annotations

import itertools
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from wirework import __version__
from wirework.db.migrate import head_revision

HEAD = head_revision()

WIREWORK = str(Path(sys.executable).parent / "wirework")
ROOT = Path(__file__).resolve().parents[1]


def _env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWORK_")}
    env["WIREWORK_DATA_DIR"] = str(data_dir)
    return {**env, **(extra or {})}


def run(
    *args: str, data_dir: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [WIREWORK, *args], env=_env(data_dir, env), cwd=ROOT, capture_output=True, text=True, timeout=60
    )
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


@contextmanager
def serving(data_dir: Path, output: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """`wirework serve` on a free port, ready; yields its URL and leaves its output in `output`."""
    port = _free_port()
    process = subprocess.Popen(
        [WIREWORK, "serve", "--port", str(port)],
        env=_env(data_dir, env),
        cwd=data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "serve did not start in 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        output.append(process.communicate(timeout=10)[0])


def test_serve_migrates_and_answers_ready(tmp_path: Path) -> None:
    output: list[str] = []
    with serving(tmp_path / "data", output) as url:
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["revision"] == HEAD
        signup = httpx.post(
            f"{url}/api/v1/auth/signup",
            json={"email": "a@example.com", "username": "ann", "password": "long-enough-pw"},
        )
        assert signup.status_code == 201
        assert (tmp_path / "data" / "wirework.db").exists()
    assert "No users yet" in output[0] and url in output[0]
    assert output[0].splitlines()[0].endswith(f"open {url} and sign up (the first account becomes admin)")


def _modes(data_dir: Path) -> dict[str, str]:
    """Mode of the data dir and of everything in it, e.g. {'.': '700', 'wirework.db': '600'}."""
    found = {".": oct(stat.S_IMODE(data_dir.stat().st_mode))[2:]}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = oct(stat.S_IMODE(path.lstat().st_mode))[2:]
    return found


def test_data_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """Defect 8: the database, its -wal/-shm files, the key file and backups were 0644."""
    data = tmp_path / "data"
    output: list[str] = []
    with serving(data, output) as url:
        token = httpx.post(
            f"{url}/api/v1/auth/signup",
            json={"email": "a@example.com", "username": "ann", "password": "long-enough-pw"},
        ).json()["session"]["token"]
        made = httpx.post(
            f"{url}/api/v1/credentials",
            json={"name": "api", "type": "http_bearer", "data": {"token": "s3cret"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201
        while_running = _modes(data)
    assert {"wirework.db", "wirework.db-wal", "wirework.db-shm", "secret.key"} <= set(while_running)
    backup = run("db", "backup", str(data / "backup.tar.gz"), data_dir=data)
    assert "wrote" in backup.stderr
    after = _modes(data)
    for modes in (while_running, after):
        assert modes.pop(".") == "700"
        assert set(modes.values()) == {"600"}, modes


def test_serve_tightens_a_looser_data_dir_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("db", "upgrade", data_dir=data)
    data.chmod(0o755)
    (data / "wirework.db").chmod(0o644)
    output: list[str] = []
    with serving(data, output):
        modes = _modes(data)
    assert modes["."] == "700" and modes["wirework.db"] == "600"
    assert "tightened permissions" in output[0] and "was mode 755" in output[0]


def test_production_refuses_weak_set_ups_at_start_saying_what_to_set(tmp_path: Path) -> None:
    refused = run(
        "serve",
        data_dir=tmp_path,
        check=False,
        env={"WIREWORK_ENV": "production", "WIREWORK_BROKER_URL": "redis://x"},
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "WIREWORK_PUBLIC_URL" in refused.stderr and "SQLite serves one process" in refused.stderr
    production = {"WIREWORK_ENV": "production", "WIREWORK_PUBLIC_URL": "http://wirework.internal"}
    (tmp_path / "secret.key").write_text("k" * 48 + "\n")
    (tmp_path / "secret.key").chmod(0o644)
    loose = run("serve", data_dir=tmp_path, check=False, env=production)
    assert loose.returncode == 1 and "Traceback" not in loose.stderr
    assert "secret.key is readable by other users" in loose.stderr and "chmod 600" in loose.stderr


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


def test_workflow_run_reads_a_large_input_from_a_file_or_stdin(tmp_path: Path) -> None:
    import json

    flow = _write_workflow(
        tmp_path / "last.json",
        [{"id": "a", "name": "Last", "type": "core.limit", "parameters": {"max_items": 1, "keep": "last"}}],
    )
    items = [{"n": n, "text": "x" * 20} for n in range(100_000)]  # ~3.5 MB: more than an argument holds
    source = tmp_path / "items.json"
    source.write_text(json.dumps(items))
    result = run("workflow", "run", str(flow), "--input", f"@{source}", data_dir=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last == {"node": "Last", "outputs": {"main": [{"n": 99_999, "text": "x" * 20}]}}
    piped = subprocess.run(
        [WIREWORK, "workflow", "run", str(flow), "--input", "-"],
        input='[{"n": 1}, {"n": 2}]',
        env=_env(tmp_path, None),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout.splitlines()[-1])["outputs"]["main"] == [{"n": 2}]
    missing = run("workflow", "run", str(flow), "--input", "@nope.json", data_dir=tmp_path, check=False)
    assert missing.returncode == 1 and "nope.json" in missing.stderr


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


def _credentials_with_server(data: Path, count: int) -> None:
    output: list[str] = []
    with serving(data, output) as url:
        token = httpx.post(
            f"{url}/api/v1/auth/signup",
            json={"email": "a@example.com", "username": "ann", "password": "long-enough-pw"},
        ).json()["session"]["token"]
        for i in range(count):
            made = httpx.post(
                f"{url}/api/v1/credentials",
                json={"name": f"c{i}", "type": "http_bearer", "data": {"token": f"s3cret-{i}"}},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert made.status_code == 201, made.text


def _open_all(data: Path, secret: str) -> dict[str, str]:
    """Every credential's token opened with `secret` alone (VaultError if one cannot be)."""
    import json
    import sqlite3
    import uuid

    from wirework.security.vault import Vault

    vault = Vault(secret)
    with sqlite3.connect(data / "wirework.db") as connection:
        rows = connection.execute("SELECT id, name, data FROM credentials").fetchall()
    return {
        name: json.loads(vault.open(sealed, context=f"credential:{uuid.UUID(str(id_))}"))["token"]
        for id_, name, sealed in rows
    }


def test_secrets_rotate_reseals_every_credential_with_a_new_key(tmp_path: Path) -> None:
    from wirework.security.vault import VaultError, key_id

    data = tmp_path / "data"
    _credentials_with_server(data, 3)
    old = (data / "secret.key").read_text().strip()
    rotated = run("secrets", "rotate", data_dir=data)
    new = (data / "secret.key").read_text().strip()
    assert new != old and (data / "secret.previous-keys").read_text().split() == [old]
    assert f"new key {key_id(new)}" in rotated.stderr and "3 resealed" in rotated.stderr
    assert _open_all(data, new) == {"c0": "s3cret-0", "c1": "s3cret-1", "c2": "s3cret-2"}
    with pytest.raises(VaultError):
        _open_all(data, old)
    status = run("secrets", "status", data_dir=data)
    assert key_id(new) in status.stdout and "remove them from" in status.stderr
    assert _modes(data)["secret.previous-keys"] == "600"


def test_an_interrupted_rotation_resumes_without_making_another_key(tmp_path: Path) -> None:
    import asyncio

    from wirework.db.engine import Database
    from wirework.security.vault import Vault, replace_key_file
    from wirework.workflows import service

    data = tmp_path / "data"
    _credentials_with_server(data, 4)
    old = (data / "secret.key").read_text().strip()
    new = "n" * 48
    replace_key_file(data, new)  # what a rotation does first; then it stopped after one credential

    async def reseal_one() -> int:
        db = Database(f"sqlite+aiosqlite:///{data / 'wirework.db'}")
        try:
            async with db.session() as session:
                step = await service.reseal_credentials(
                    session, Vault(new, old_secrets=[old]), after=None, limit=1
                )
                await session.commit()
            return step.resealed
        finally:
            await db.dispose()

    assert asyncio.run(reseal_one()) == 1
    resumed = run("secrets", "rotate", data_dir=data)
    assert "3 credentials are sealed with an older key" in resumed.stderr
    assert (data / "secret.key").read_text().strip() == new  # continued, did not rotate again
    assert sorted(_open_all(data, new).values()) == [f"s3cret-{i}" for i in range(4)]


def test_secrets_rotate_with_the_key_in_the_environment_explains_the_steps(tmp_path: Path) -> None:
    env = {"WIREWORK_SECRET_KEY": "e" * 40}
    run("db", "upgrade", data_dir=tmp_path, env=env)
    refused = run("secrets", "rotate", data_dir=tmp_path, check=False, env=env)
    assert refused.returncode == 1 and "WIREWORK_SECRET_KEY_PREVIOUS" in refused.stderr


def test_help_describes_only_what_exists() -> None:
    """`wirework --help` and every command's help name nothing planned that does not exist."""
    import typer
    from typer.testing import CliRunner

    from tests.test_readme import planned_but_missing
    from wirework.cli import app

    def paths(command: Any, prefix: list[str]) -> Iterator[list[str]]:
        yield prefix
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, [*prefix, name])

    umask = os.umask(0o022)  # the CLI sets the process umask; give this process its own back
    try:
        checked = 0
        for path in paths(typer.main.get_command(app), []):
            result = CliRunner().invoke(app, [*path, "--help"])
            assert result.exit_code == 0, (path, result.output)
            assert planned_but_missing(result.output) == [], (path, result.output)
            checked += 1
    finally:
        os.umask(umask)
    assert checked >= 20
