"""The Python sandbox: real child processes, real limits, and a normal run after every failure."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from wirework.security import sandbox
from wirework.security.sandbox import (
    SandboxBadOutput,
    SandboxCodeError,
    SandboxMemoryExceeded,
    SandboxSyntaxError,
    SandboxTimeout,
    run_python,
    run_python_each,
)

SECRET = "wirework-test-secret-4b1d"
AS_ROOT = os.geteuid() == 0


async def run(code: str, **variables: Any) -> Any:
    result = await run_python(code, variables, timeout_s=5, memory_mb=256)
    return result.value


async def assert_still_works() -> None:
    """The server stays up: after any failure the next run is a normal one."""
    assert await run("return [{**item, 'ok': True} for item in items]", items=[{"a": 1}]) == [
        {"a": 1, "ok": True}
    ]
    assert _sandbox_children() == []


def _sandbox_children() -> list[int]:
    """Live sandbox processes started by this test process (bubblewrap, or the plain child)."""
    markers = (b"wirework-code-", b"bwrap")
    return [
        pid
        for pid, parent, cmdline in _processes()
        if parent == os.getpid() and any(marker in cmdline for marker in markers)
    ]


def _code_processes() -> list[int]:
    """Live Python processes running user code for this test process, at any depth."""
    processes = _processes()
    ours = {os.getpid()}
    for _ in range(4):  # bubblewrap, its init, the child
        ours |= {pid for pid, parent, _ in processes if parent in ours}
    python = os.path.realpath(sys.executable).encode()
    return [pid for pid, _, cmdline in processes if pid in ours and cmdline.split(b"\0")[0] == python]


def _processes() -> list[tuple[int, int, bytes]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(status.split("\nPPid:\t", 1)[1].split("\n", 1)[0])
        found.append((int(entry.name), parent, cmdline))
    return found


@pytest.fixture(autouse=True)
def secret_in_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWORK_SECRET_KEY", SECRET)
    monkeypatch.setenv("WIREWORK_DATABASE_URL", f"postgresql://app:{SECRET}@db/app")


async def test_code_transforms_items_and_its_prints_are_logs_not_results() -> None:
    code = "print('seen', len(items))\nreturn [{'name': i['name'].upper()} for i in items]"
    result = await run_python(code, {"items": [{"name": "ada"}, {"name": "bob"}]}, timeout_s=5, memory_mb=256)
    assert result.value == [{"name": "ADA"}, {"name": "BOB"}]
    assert result.logs == "seen 2\n"
    assert {"clean_environment", "resource_limits", "audit_hook"} <= set(result.protections)
    assert {"mnt_namespace", "pid_namespace", "net_namespace", "seccomp"} <= set(result.protections)
    if AS_ROOT:
        assert {"unprivileged_uid", "no_new_privileges"} <= set(result.protections)


async def test_values_round_trip_as_json_and_dates_become_iso_strings() -> None:
    code = "import datetime\nreturn {'when': datetime.date(2024, 2, 29), 'n': 1.5, 'none': None, 't': (1, 2)}"
    assert await run(code) == {"when": "2024-02-29", "n": 1.5, "none": None, "t": [1, 2]}
    assert await run("x = 1") is None
    assert await run("return f'{{x}} {items}'", items=[]) == "{x} []"


async def test_each_call_runs_in_one_child_and_failures_can_be_collected() -> None:
    code = "if item['n'] == 2:\n    raise ValueError('two')\nreturn {'double': item['n'] * 2, 'at': index}"
    calls = [{"item": {"n": n}, "index": i} for i, n in enumerate([1, 2, 3])]
    result = await run_python_each(code, {}, calls, timeout_s=5, memory_mb=256, keep_going=True)
    assert result.value == [{"double": 2, "at": 0}, None, {"double": 6, "at": 2}]
    assert list(result.errors) == [1]
    assert result.errors[1].message == "ValueError: two (line 2)"
    with pytest.raises(SandboxCodeError) as caught:
        await run_python_each(code, {}, calls, timeout_s=5, memory_mb=256)
    assert caught.value.call_index == 1


async def test_the_environment_is_clean_and_the_server_environ_cannot_be_read() -> None:
    environ = await run("import os\nreturn dict(os.environ)")
    assert environ == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PWD": "/sandbox"}
    with pytest.raises(SandboxCodeError, match="PermissionError"):
        await run("return open('/proc/self/environ', 'rb').read().decode()")
    with pytest.raises(SandboxCodeError, match="PermissionError"):
        await run(f"return open('/proc/{os.getpid()}/environ', 'rb').read().decode()")
    await assert_still_works()


async def bare(code: str, policy: sandbox.SandboxPolicy = sandbox.DEFAULT_POLICY) -> Any:
    """Run `code` with the audit hook off: the attacker has arbitrary Python in the sandbox
    (as after subverting the interpreter), so only what the OS enforces stands."""
    result = await sandbox._run(
        code, {}, None, timeout_s=10, memory_mb=256, cpu_s=None, policy=policy, audit_hook=False
    )
    assert "audit_hook" not in result.protections
    return result.value


async def test_a_subverted_interpreter_cannot_reach_the_data_dir_the_key_or_other_processes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secret.key").write_text(SECRET)
    (data_dir / "wirework.db").write_bytes(b"SQLite format 3\x00" + SECRET.encode())
    probe = f"""
import ctypes, errno, os, socket
seen = {{}}
def attempt(name, action):
    try:
        seen[name] = ["reached", repr(action())[:200]]
    except BaseException as exc:
        seen[name] = ["refused", type(exc).__name__ + ": " + str(exc)]
attempt("key", lambda: open({str(data_dir / "secret.key")!r}).read())
attempt("database", lambda: open({str(data_dir / "wirework.db")!r}, "rb").read())
attempt("server_files", lambda: os.listdir({str(Path.cwd())!r}))
attempt("server_environ", lambda: open("/proc/{os.getpid()}/environ", "rb").read())
attempt("signal_server", lambda: os.kill({os.getpid()}, 0))
attempt("postgres", lambda: socket.create_connection(("127.0.0.1", 5432), 2))
attempt("public_net", lambda: socket.create_connection(("1.1.1.1", 53), 2))
attempt("write_system", lambda: open("/usr/wirework-escape", "w"))
libc = ctypes.CDLL(None, use_errno=True)
def syscall(name, *args):
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
attempt("unshare_user", lambda: syscall("unshare", 0x10000000))
attempt("mount", lambda: syscall("mount", b"none", b"/tmp", b"tmpfs", 0, None))
attempt("fork", lambda: os.fork())
attempt("memfd", lambda: os.memfd_create("hidden-memory"))
for where in ("/", "/dev/", "/dev/shm/"):
    attempt("write " + where, lambda: open(where + "x", "w"))
open("/tmp/left-behind", "w").write("x")
seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["root"] = sorted(os.listdir("/"))
return seen
"""
    seen = await bare(probe, sandbox.SandboxPolicy(private_paths=(str(data_dir),)))
    for name in (
        "key", "database", "server_files", "server_environ", "signal_server", "postgres", "public_net",
        "write_system", "unshare_user", "mount", "fork", "memfd", "write /", "write /dev/", "write /dev/shm/",
    ):  # fmt: skip
        assert seen[name][0] == "refused", (name, seen[name])
    assert "FileNotFoundError" in seen["key"][1] and "FileNotFoundError" in seen["database"][1]
    assert "ProcessLookupError" in seen["signal_server"][1]
    assert max(seen["pids"]) < 10  # a PID namespace of its own: no other process is visible
    assert seen["root"] == sorted(
        ["bin", "dev", "etc", "lib", "lib64", "proc", "root", "sandbox", "sbin", "tmp", "usr"]
    )
    assert not Path("/tmp/left-behind").exists()  # its /tmp was private and is gone
    assert SECRET not in str(seen)
    await assert_still_works()


async def test_scratch_space_is_bounded_even_for_a_subverted_interpreter() -> None:
    fill = (
        "import os\nwritten = 0\ntry:\n"
        "    for n in range(100):\n"
        "        with open(f'{where}/f{n}', 'wb') as f:\n"
        "            f.write(b'x' * (8 * 2**20))\n"
        "        written += 8\n"
        "except OSError as exc:\n    return [written, exc.errno]\n"
    )
    for where in ("/sandbox", "/tmp"):
        written, error = await bare(fill.replace("{where}", where))
        assert written <= 64 and error == 28  # ENOSPC: at most 64 MB, in memory, gone afterwards
    await assert_still_works()


async def test_the_os_alone_keeps_fork_and_root_out_of_reach() -> None:
    with pytest.raises(SandboxCodeError, match=r"BlockingIOError|Resource temporarily unavailable"):
        await bare("import os\nos.fork()")
    if AS_ROOT:
        assert await bare("import os\nreturn [os.getuid(), os.getgid(), os.getgroups()]") == [
            65534,
            65534,
            [],
        ]
    await assert_still_works()


async def test_without_bubblewrap_the_code_is_refused_unless_the_operator_accepts_less(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    with pytest.raises(sandbox.SandboxUnavailable, match=r"bubblewrap.*WIREWORK_CODE_ISOLATION=process"):
        await run("return 1")
    less_safe = sandbox.SandboxPolicy(isolation="process")
    result = await run_python("return 1", {}, timeout_s=5, memory_mb=64, policy=less_safe)
    assert result.value == 1 and "mnt_namespace" not in result.protections


async def test_a_data_dir_the_sandbox_would_show_is_refused() -> None:
    inside = sandbox.SandboxPolicy(private_paths=("/usr/share/wirework",))
    with pytest.raises(sandbox.SandboxUnavailable, match="lies inside /usr"):
        await run_python("return 1", {}, timeout_s=5, memory_mb=64, policy=inside)


@pytest.mark.skipif(not AS_ROOT, reason="inspecting the child from outside needs root")
async def test_a_running_child_is_unprivileged_isolated_and_has_no_secret() -> None:
    task = asyncio.create_task(run("import time\ntime.sleep(3)"))
    for _ in range(300):
        children = _code_processes()
        if children:
            break
        await asyncio.sleep(0.01)
    [pid] = children
    for _ in range(500):  # until the bootstrap has locked the child down (the uid drop is last)
        status = Path(f"/proc/{pid}/status").read_text()
        if "\nUid:\t65534" in status:
            break
        await asyncio.sleep(0.01)
    assert "\nUid:\t65534\t65534\t65534\t65534\n" in status
    assert "\nNoNewPrivs:\t1\n" in status
    for kind in ("net", "mnt", "pid", "ipc"):
        assert os.readlink(f"/proc/{pid}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}")
    assert "\nSeccomp:\t2\n" in status
    assert SECRET.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _sandbox_children() == []  # cancelling the caller kills the child
    await assert_still_works()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("import socket\nsocket.socket()", "not available"),
        ("import _socket", "not available"),
        ("import ctypes", "not available"),
        ("import subprocess", "not available"),
        ("import os\nos.fork()", "starting processes is not allowed"),
        ("import os\nos.system('id')", "starting processes is not allowed"),
        ("import os\nos.execv('/bin/sh', ['sh'])", "starting processes is not allowed"),
        ("import os\nos.kill(os.getppid(), 9)", "sending signals is not allowed"),
        ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", "changing resource limits"),
        ("(lambda: 0).__code__.replace(co_consts=(1,))", "creating code objects"),
        ("import os\nos.symlink('/proc/1/environ', 'link')", "creating links"),
        ("open('/tmp/escaped', 'w')", "writes files only in its working directory"),
        ("return open('../../etc/passwd').read()", "'..'"),
        ("return open('/etc/passwd').read()", "cannot read /etc/passwd"),
        (
            "import _imp, importlib.machinery as m\n"
            "_imp.create_builtin(m.ModuleSpec('gc', None)).get_objects()",
            "graph",
        ),
    ],
)
async def test_escapes_fail_cleanly(code: str, error: str) -> None:
    with pytest.raises(SandboxCodeError, match=error) as caught:
        await run(code)
    assert caught.value.traceback.startswith("Traceback")
    assert await run("return 1") == 1


async def test_an_endless_loop_is_stopped_at_the_time_limit() -> None:
    with pytest.raises(SandboxTimeout, match=r"^Code ran longer than 1 s and was stopped$") as caught:
        await run_python("print('working')\nwhile True: pass", {}, timeout_s=1, memory_mb=256)
    assert caught.value.logs == "working\n"
    await assert_still_works()


async def test_allocating_too_much_memory_is_a_memory_error() -> None:
    with pytest.raises(
        SandboxMemoryExceeded, match=r"^Code used more than 256 MB of memory and was stopped$"
    ):
        await run("b = bytearray(2 * 1024**3)")
    with pytest.raises(SandboxMemoryExceeded):
        await run_python("x = []\nwhile True: x.append(' ' * 10**6)", {}, timeout_s=5, memory_mb=64)
    await assert_still_works()


async def test_files_are_scratch_space_with_a_size_limit_and_vanish_afterwards() -> None:
    assert await run("open('note.txt', 'w').write('hi')\nreturn open('note.txt').read()") == "hi"
    assert await run("import os\nreturn os.listdir('.')") == []  # a fresh directory every run
    tidy = (
        "import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').close()\nos.rename('a/b/f', 'g')\nos.remove('g')"
    )
    assert await run(tidy + "\nreturn [p for p, _, _ in os.walk('.')]") == [".", "./a", "./a/b"]
    with pytest.raises(SandboxCodeError, match="File too large"):
        await run("with open('big', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * 2**20)")
    await assert_still_works()


async def test_errors_show_only_the_users_frames_with_their_line_numbers() -> None:
    code = "total = 0\n\ndef share(n):\n    return total / n\n\nreturn share(len(items))"
    with pytest.raises(SandboxCodeError) as caught:
        await run(code, items=[])
    error = caught.value
    assert error.message == "ZeroDivisionError: division by zero (line 4)"
    assert (error.error_type, error.line) == ("ZeroDivisionError", 4)
    assert 'File "<code>", line 6' in error.traceback and 'File "<code>", line 4, in share' in error.traceback
    assert "<string>" not in error.traceback and "sandbox" not in error.traceback
    with pytest.raises(SandboxCodeError, match="KeyError: 'missing'"):
        await run("return sorted(items, key=lambda i: i['missing'])", items=[{"a": 1}])


async def test_syntax_errors_report_the_line() -> None:
    with pytest.raises(
        SandboxSyntaxError, match=r"^Syntax error on line 3: '\(' was never closed$"
    ) as caught:
        await run("x = 1\n\ny = (\nreturn y")
    assert caught.value.line == 3 and "y = (" in caught.value.traceback
    with pytest.raises(SandboxSyntaxError, match="line 2: 'await' outside"):
        await run("x = 1\nawait x")
    await assert_still_works()


async def test_results_that_are_not_json_or_too_large_are_refused() -> None:
    with pytest.raises(SandboxBadOutput, match="got set") as caught:
        await run("return {1, 2}")
    assert caught.value.got == "set"
    with pytest.raises(SandboxBadOutput, match="NaN"):
        await run("return [{'x': float('nan')}]")
    with pytest.raises(SandboxBadOutput, match="JSON has no such type"):
        await run("return [{'x': object()}]")
    with pytest.raises(SandboxBadOutput, match="more than 16 MB"):
        await run("return 'x' * (17 * 1024 * 1024)")
    await assert_still_works()


async def test_exit_and_crashes_are_reported_not_fatal() -> None:
    with pytest.raises(SandboxCodeError, match="called exit"):
        await run("import sys\nsys.exit(3)")
    with pytest.raises(sandbox.SandboxCrashed, match="exit status 0"):
        await run("import os\nos._exit(0)")
    await assert_still_works()


async def test_bad_arguments_are_refused_before_starting() -> None:
    with pytest.raises(ValueError, match="identifiers"):
        await run_python("", {"not a name": 1}, timeout_s=1, memory_mb=64)
    with pytest.raises(ValueError, match="memory_mb"):
        await run_python("", {}, timeout_s=1, memory_mb=1)
