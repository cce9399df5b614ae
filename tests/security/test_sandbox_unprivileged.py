"""The Code node's sandbox on a server that runs as an ordinary user (no root to drop from).

The outside review read `secret.key` from such a server. Here a real unprivileged process (uid
65534) plays the server: it runs user code with the audit hook off (arbitrary Python) and
reports what the code reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import wirework

SRC = Path(wirework.__file__).resolve().parents[1]
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
SYSTEM_PYTHON = Path("/usr/bin/python3")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None,
    reason="needs root (to become an ordinary user) and a system Python that user can run",
)

SERVER = """
import asyncio, json, sys
sys.path[:0] = [{src!r}, {site!r}]
from wirework.security import sandbox

CODE = '''
import ctypes, os, socket
seen = {{}}
def attempt(name, action):
    try:
        seen[name] = ["reached", repr(action())[:200]]
    except BaseException as exc:
        seen[name] = ["refused", type(exc).__name__]
attempt("key", lambda: open({key!r}).read())
attempt("data_dir", lambda: os.listdir({data!r}))
attempt("server_environ", lambda: open("/proc/{{}}/environ".format(PARENT), "rb").read())
attempt("postgres", lambda: socket.create_connection(("127.0.0.1", 5432), 2))
attempt("fork", lambda: os.fork())
attempt("memfd", lambda: os.memfd_create("hidden-memory"))
for where in ("/", "/dev/", "/dev/shm/"):
    attempt("write " + where, lambda: open(where + "x", "w"))
libc = ctypes.CDLL(None, use_errno=True)
seen["unshare_result"] = libc.unshare(0x10000000)
seen["uid"] = os.getuid()
return seen
'''

async def main():
    policy = sandbox.SandboxPolicy(private_paths=({data!r},))
    code = CODE.replace("PARENT", str(__import__("os").getpid()))
    result = await sandbox._run(code, {{}}, None, timeout_s=20, memory_mb=256, cpu_s=None,
                                policy=policy, audit_hook=False)
    print(json.dumps({{"value": result.value, "protections": result.protections}}))

asyncio.run(main())
"""


def test_an_unprivileged_server_keeps_its_own_files_from_a_subverted_interpreter() -> None:
    if not all(os.access(path, os.R_OK | os.X_OK) for path in (SRC, SITE_PACKAGES)):
        pytest.skip("the checkout is not readable by other users")
    home = Path(tempfile.mkdtemp(prefix="wirework-unprivileged-"))
    try:
        data = home / "data"
        data.mkdir()
        key = data / "secret.key"
        key.write_text("not-for-user-code")
        for path in (home, data, key):
            os.chown(path, 65534, 65534)
        os.chmod(home, 0o755)
        script = SERVER.format(src=str(SRC), site=SITE_PACKAGES, key=str(key), data=str(data))
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON), "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=home,
            env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
    finally:
        shutil.rmtree(home)
    seen = report["value"]
    assert seen["uid"] == 65534  # the server's own user: no root to drop from
    for name in (
        "key",
        "data_dir",
        "server_environ",
        "postgres",
        "fork",
        "memfd",
        "write /",
        "write /dev/shm/",
    ):
        assert seen[name][0] == "refused", (name, seen[name])
    assert seen["key"][1] == "FileNotFoundError"  # not hidden by a check: simply not there
    assert seen["unshare_result"] == -1  # no nested user namespace (seccomp, --disable-userns)
    assert {"mnt_namespace", "pid_namespace", "user_namespace", "seccomp"} <= set(report["protections"])
