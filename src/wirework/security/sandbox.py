"""Run user-written Python (the Code node) in a child process the operating system isolates.

The server never runs user code itself. The Python-level guards below are one layer; the wall
is what the kernel enforces even if the interpreter is fully subverted (the code can walk
frames and rewrite closures, so an audit hook alone is not a boundary).

`bubblewrap` isolation (the default, `SandboxPolicy`): `bwrap` starts `python -I -S` (no
environment, no site-packages) in
1. new mount, PID, network, IPC and UTS namespaces: the filesystem shows only /usr and
   Python's prefix read-only, a private empty /tmp, its own /proc and /dev, and the private
   working directory at /sandbox — never the data dir (a run is refused if the data dir lies
   inside what is shown), the key file, the database or the server's files; no other
   process is visible; no network at all (not even the host's loopback);
2. a seccomp filter: no new namespaces or mounts, no ptrace or process_vm_*, no bpf,
   perf_event_open, userfaultfd, io_uring, keyrings, module or kexec calls (EPERM);
3. as root (no user namespace needed), the bootstrap drops to nobody (65534) after the
   imports; otherwise bubblewrap's user namespace keeps the server's uid, with nested user
   namespaces disabled;
then the bootstrap program locks the child down further:
4. a fixed set of standard-library modules is imported (`AVAILABLE_MODULES`); nothing else
   can be imported later;
5. resource limits: address space (the interpreter's own size + `memory_mb`), CPU time,
   file size, open files, no core dumps, no new processes or threads (RLIMIT_NPROC = 0);
   PR_SET_NO_NEW_PRIVS and a parent-death signal; `--die-with-parent` kills the namespace
   when the server goes;
6. an audit hook (`sys.addaudithook`): no sockets, processes, signals, ctypes, code-object
   forging, tracing, `gc` walks, raising limits or links; files only in the working
   directory and the time-zone database. It gives clear errors for ordinary code; it is
   not what keeps a hostile author out.

`process` isolation is the documented less-safe mode for hosts without namespaces
(`WIREWORK_CODE_ISOLATION=process`): the same child without bubblewrap (a network namespace
via `unshare` when the kernel allows, the uid drop as root, rlimits, the audit hook). There,
files of the server's user are kept out of reach only by Python-level guards. Without
bubblewrap and without that opt-in, the Code node refuses to run and says how to fix it.

Data: the request (code, variables, calls) goes to the child's stdin as JSON; the
child writes one JSON message to its original stdout; whatever the code prints
(stdout and stderr) is captured separately as `logs`, trimmed to LOG_LIMIT_BYTES.
The code is the body of a function: the variables are its arguments and what it
`return`s is the result (any JSON value; dates become ISO strings). Line numbers in
errors refer to the user's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import math
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

Isolation = Literal["bubblewrap", "process"]

SANDBOX_UID: Final = 65534
SANDBOX_GID: Final = 65534
"""nobody/nogroup: the identity user code runs as when the server runs as root."""
OUTPUT_LIMIT_BYTES: Final = 16 * 1024 * 1024
LOG_LIMIT_BYTES: Final = 64 * 1024
FILE_SIZE_LIMIT_BYTES: Final = 32 * 1024 * 1024
SCRATCH_LIMIT_BYTES: Final = 64 * 1024 * 1024
"""Size of each of the sandbox's memory-backed scratch directories (/sandbox and /tmp)."""
OPEN_FILES_LIMIT: Final = 64
WRITTEN_FILES_LIMIT: Final = 32
MIN_MEMORY_MB: Final = 32
CODE_FILENAME: Final = "<code>"

AVAILABLE_MODULES: Final = (
    "base64",
    "binascii",
    "bisect",
    "calendar",
    "cmath",
    "collections",
    "collections.abc",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "math",
    "operator",
    "pprint",
    "random",
    "re",
    "secrets",
    "statistics",
    "string",
    "struct",
    "textwrap",
    "time",
    "typing",
    "unicodedata",
    "urllib.parse",
    "uuid",
    "zlib",
    "zoneinfo",
)
"""Standard-library modules user code can import (all are loaded before the code runs)."""

_SUPPORT_MODULES: Final = (
    "_strptime",
    "ast",
    "linecache",
    "tokenize",
    "traceback",
    "encodings.ascii",
    "encodings.base64_codec",
    "encodings.cp1252",
    "encodings.hex_codec",
    "encodings.idna",
    "encodings.latin_1",
    "encodings.punycode",
    "encodings.raw_unicode_escape",
    "encodings.unicode_escape",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.utf_8_sig",
)
"""Loaded too: what the bootstrap needs, and what the modules above import lazily."""

_TZ_ROOTS: Final = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")
_CHILD_ENV: Final = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
_KILL_WAIT_S: Final = 5.0

# Events the audit hook refuses outright (prefix match), with the reason shown to the user.
_DENIED_EVENTS: Final = {
    "socket.": "network access is not allowed",
    "os.fork": "starting processes is not allowed",
    "os.forkpty": "starting processes is not allowed",
    "os.system": "starting processes is not allowed",
    "os.exec": "starting processes is not allowed",
    "os.posix_spawn": "starting processes is not allowed",
    "os.spawn": "starting processes is not allowed",
    "os.startfile": "starting processes is not allowed",
    "subprocess.": "starting processes is not allowed",
    "pty.": "starting processes is not allowed",
    "os.kill": "sending signals is not allowed",
    "os.killpg": "sending signals is not allowed",
    "signal.pthread_kill": "sending signals is not allowed",
    "ctypes.": "ctypes is not allowed",
    "mmap.": "mmap is not allowed",
    "resource.setrlimit": "changing resource limits is not allowed",
    "resource.prlimit": "changing resource limits is not allowed",
    "os.symlink": "creating links is not allowed",
    "os.link": "creating links is not allowed",
    "code.__new__": "creating code objects is not allowed",
    "marshal.load": "marshal is not allowed",
    "sys.settrace": "tracing is not allowed",
    "sys.setprofile": "profiling is not allowed",
    "sys._current_frames": "inspecting other threads is not allowed",
    "sys.addaudithook": "audit hooks are not allowed",
    "gc.get_": "walking the object graph is not allowed",
    "syslog.": "syslog is not allowed",
    "fcntl.": "fcntl is not allowed",
}

# Path-taking events: (index of the path argument(s), whether they write, index of dir_fd or -1).
_PATH_EVENTS: Final = {
    "os.listdir": ((0,), False, -1),
    "os.scandir": ((0,), False, -1),
    "os.chdir": ((0,), False, -1),
    "os.remove": ((0,), True, 1),
    "os.rmdir": ((0,), True, 1),
    "os.mkdir": ((0,), True, 2),
    "os.rename": ((0, 1), True, 2),
    "os.chmod": ((0,), True, 2),
    "os.chown": ((0,), True, 3),
    "os.truncate": ((0,), True, -1),
    "os.utime": ((0,), True, 3),
    "os.chflags": ((0,), True, -1),
    "os.lchflags": ((0,), True, -1),
    "os.getxattr": ((0,), False, -1),
    "os.listxattr": ((0,), False, -1),
    "os.setxattr": ((0,), True, -1),
    "os.removexattr": ((0,), True, -1),
}


SANDBOX_WORKDIR: Final = "/sandbox"
"""The code's working directory as it sees it (a private directory of the server, bound there)."""
NO_ISOLATION: Final = (
    "The Code node runs only where the operating system can isolate it: install bubblewrap "
    "(Debian/Ubuntu: apt-get install bubblewrap) on a kernel that allows namespaces, or, knowing "
    "the risk, set WIREWORK_CODE_ISOLATION=process (see docs/security.md)"
)
_SECCOMP_DENIED: Final = (
    # New namespaces or mounts: more kernel surface, and the way out of a mount namespace.
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # Looking into or at other processes and the kernel.
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "syslog",
    "perf_event_open", "bpf", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at",
    # Memory the address-space limit does not count.
    "memfd_create", "memfd_secret", "shmget", "mq_open",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "personality",
)  # fmt: skip
"""System calls the sandboxed process gets EPERM for (a seccomp filter bubblewrap installs)."""


@dataclass(frozen=True, slots=True)
class SandboxPolicy:
    """How user code is isolated. `bubblewrap` (the default) runs it in new mount, PID, network,
    IPC and UTS namespaces that show only a read-only system and Python, under a seccomp filter;
    `process` is the documented less-safe mode (a plain child process; only the Python-level
    guards and rlimits stand between the code and the server user's files).
    `private_paths` (the data dir) must never be visible inside: a run is refused if they are."""

    isolation: Isolation = "bubblewrap"
    private_paths: tuple[str, ...] = ()


DEFAULT_POLICY: Final = SandboxPolicy()


class SandboxError(Exception):
    """User code could not run to completion. `message` is written for the workflow author;
    `logs` holds what the code printed before it stopped."""

    def __init__(self, message: str, *, logs: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.logs = logs


class SandboxUnavailable(SandboxError):
    """The sandbox itself failed (could not start, or could not lock the child down)."""


class SandboxTimeout(SandboxError):
    """The code ran longer than its time limit (wall clock or CPU) and was killed."""


class SandboxMemoryExceeded(SandboxError):
    """The code needed more memory than its limit."""


class SandboxCrashed(SandboxError):
    """The code's process ended without a result (a signal, or os._exit)."""


class SandboxBadOutput(SandboxError):
    """The code's return value is not JSON, or too large. `got` names the returned type
    when the value as a whole is not JSON (e.g. `set`, `generator`)."""

    def __init__(
        self, message: str, *, got: str | None = None, call_index: int | None = None, logs: str = ""
    ) -> None:
        super().__init__(message, logs=logs)
        self.got = got
        self.call_index = call_index


class SandboxCodeError(SandboxError):
    """The code raised an exception. `traceback` shows only the user's frames and `line` is
    the line of their code where it happened; `call_index` is the failing call's index."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        reason: str,
        traceback: str,
        line: int | None,
        call_index: int | None = None,
        logs: str = "",
    ) -> None:
        super().__init__(message, logs=logs)
        self.error_type = error_type
        self.reason = reason
        self.traceback = traceback
        self.line = line
        self.call_index = call_index


class SandboxSyntaxError(SandboxCodeError):
    """The code does not compile; `line` is where the parser stopped."""


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """A finished run. `value` is what the code returned (`run_python`), or one value per
    call with None for failed calls (`run_python_each`); `errors` holds those failures
    by call index. `protections` names the layers that were active in the child."""

    value: Any
    logs: str
    duration_s: float
    protections: tuple[str, ...]
    errors: Mapping[int, SandboxCodeError] = field(default_factory=dict)


async def run_python(
    code: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float,
    memory_mb: int,
    cpu_s: int | None = None,
    policy: SandboxPolicy = DEFAULT_POLICY,
) -> SandboxResult:
    """Run `code` as the body of a function whose arguments are `payload`'s keys.

    `payload` must be JSON; its keys must be identifiers. Returns what the code returned
    (JSON round trip), or raises a SandboxError subclass with a message for the author.
    """
    return await _run(
        code, payload, None, timeout_s=timeout_s, memory_mb=memory_mb, cpu_s=cpu_s, policy=policy
    )


async def run_python_each(
    code: str,
    payload: Mapping[str, Any],
    calls: Sequence[Mapping[str, Any]],
    *,
    timeout_s: float,
    memory_mb: int,
    cpu_s: int | None = None,
    keep_going: bool = False,
    policy: SandboxPolicy = DEFAULT_POLICY,
) -> SandboxResult:
    """Run `code` once per entry of `calls` in one child, with `payload` and the entry as its
    arguments; `timeout_s` covers all calls. An exception in a call raises
    SandboxCodeError (with `call_index`), unless `keep_going`: then the failures are
    collected in `SandboxResult.errors` and the other calls still run.
    """
    return await _run(
        code,
        payload,
        calls,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        cpu_s=cpu_s,
        keep_going=keep_going,
        policy=policy,
    )


async def _run(
    code: str,
    payload: Mapping[str, Any],
    calls: Sequence[Mapping[str, Any]] | None,
    *,
    timeout_s: float,
    memory_mb: int,
    cpu_s: int | None,
    keep_going: bool = False,
    policy: SandboxPolicy = DEFAULT_POLICY,
    audit_hook: bool = True,
) -> SandboxResult:
    """`run_python(_each)`; `audit_hook=False` exists only so tests can prove the OS layers alone."""
    if not timeout_s > 0:
        raise ValueError("timeout_s must be positive")
    if memory_mb < MIN_MEMORY_MB:
        raise ValueError(f"memory_mb must be at least {MIN_MEMORY_MB}")
    names = {*payload, *(name for call in calls or () for name in call)}
    bad = sorted(name for name in names if not name.isidentifier())
    if bad:
        raise ValueError(f"variable names must be identifiers: {bad}")
    if not sys.executable:
        raise SandboxUnavailable("no Python interpreter is known to run the code with")
    request = json.dumps(
        {"code": code, "payload": payload, "calls": calls, "keep_going": keep_going},
        default=_payload_default,
    ).encode()
    started = time.monotonic()
    as_root = os.geteuid() == 0
    isolated = policy.isolation == "bubblewrap"
    # bubblewrap's working directory is a size-limited tmpfs inside; a plain child gets one on disk.
    workdir = None if isolated else _make_workdir(as_root)
    seccomp_fd = -1
    try:
        if isolated:
            python = _python_binary()
            roots = _visible_roots(python)
            _refuse_private_paths(roots, policy.private_paths)
            seccomp_fd = _seccomp_filter_fd()
            command = [*_bwrap_command(roots, as_root, seccomp_fd), python]
        else:
            command = [sys.executable]
        config = {
            "workdir": workdir or SANDBOX_WORKDIR,
            "isolated": isolated,
            "uid": SANDBOX_UID if as_root else None,
            "gid": SANDBOX_GID if as_root else None,
            "memory_bytes": memory_mb * 1024 * 1024,
            "cpu_s": cpu_s if cpu_s is not None else math.ceil(timeout_s) + 1,
            "file_size_bytes": FILE_SIZE_LIMIT_BYTES,
            "open_files": OPEN_FILES_LIMIT,
            "written_files": WRITTEN_FILES_LIMIT,
            "output_limit": OUTPUT_LIMIT_BYTES,
            "log_limit": LOG_LIMIT_BYTES,
            "modules": [*AVAILABLE_MODULES, *_SUPPORT_MODULES],
            "read_roots": list(_TZ_ROOTS),
            "denied_events": _DENIED_EVENTS,
            "path_events": _PATH_EVENTS,
            "filename": CODE_FILENAME,
            "parent_pid": os.getpid(),
            "server_namespaces": _namespace_inodes() if isolated else {},
            "audit_hook": audit_hook,
        }
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                "-I",
                "-S",
                "-c",
                _CHILD_SOURCE,
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(_CHILD_ENV),
                cwd=workdir or "/",
                close_fds=True,
                pass_fds=(seccomp_fd,) if seccomp_fd >= 0 else (),
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"the code sandbox could not start: {exc}") from exc
        finally:
            if seccomp_fd >= 0:
                os.close(seccomp_fd)
        raw, logs = await _communicate(process, request, timeout_s=timeout_s)
        returncode = process.returncode
        if isolated and not raw.result:
            if logs.startswith("bwrap:"):
                raise SandboxUnavailable(f"the code sandbox could not start: {logs.strip()}. {NO_ISOLATION}")
            if returncode is not None and returncode > 128:
                returncode = 128 - returncode  # bwrap reports a child killed by signal N as 128 + N
        return _outcome(returncode, raw, logs, timeout_s, memory_mb, time.monotonic() - started)
    finally:
        if workdir is not None:
            _remove_tree(workdir)


@dataclass(slots=True)
class _Raw:
    result: bytes = b""
    too_large: bool = False
    timed_out: bool = False


async def _communicate(
    process: asyncio.subprocess.Process, request: bytes, *, timeout_s: float
) -> tuple[_Raw, str]:
    """Feed the request, collect the result and the logs; kill the process group on timeout,
    on overflow and if we are cancelled. Never leaves the child running."""
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    raw = _Raw()

    def overflow() -> None:
        raw.too_large = True
        _kill(process)

    feeder = asyncio.create_task(_feed(process.stdin, request))
    result_reader = asyncio.create_task(_read_limited(process.stdout, OUTPUT_LIMIT_BYTES, overflow))
    log_reader = asyncio.create_task(_read_limited(process.stderr, LOG_LIMIT_BYTES, None))
    tasks: list[asyncio.Task[Any]] = [feeder, result_reader, log_reader]
    try:
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            raw.timed_out = True
            _kill(process)
            await process.wait()
        raw.result, _ = await result_reader
        log_bytes, logs_trimmed = await log_reader
        await feeder
    finally:
        if process.returncode is None:
            _kill(process)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), _KILL_WAIT_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    logs = log_bytes.decode("utf-8", "replace")
    if logs_trimmed:
        logs += f"\n[output trimmed to {LOG_LIMIT_BYTES // 1024} KB]"
    return raw, logs


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    try:
        stdin.write(data)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child died early; its exit status tells why
    finally:
        stdin.close()


async def _read_limited(
    stream: asyncio.StreamReader, limit: int, on_overflow: Callable[[], None] | None
) -> tuple[bytes, bool]:
    """Read to EOF keeping at most `limit` bytes; the rest is drained and dropped."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if size > limit and on_overflow is not None:
            on_overflow()
            on_overflow = None
    return b"".join(chunks), size > limit


def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's process group (it leads a session of its own) and the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _outcome(
    returncode: int | None, raw: _Raw, logs: str, timeout_s: float, memory_mb: int, duration_s: float
) -> SandboxResult:
    """Turn what the child left behind into a result, or the SandboxError that explains it."""
    if raw.timed_out:
        raise SandboxTimeout(f"Code ran longer than {timeout_s:g} s and was stopped", logs=logs)
    if raw.too_large:
        raise SandboxBadOutput(
            f"Code returned more than {OUTPUT_LIMIT_BYTES // (1024 * 1024)} MB of data", logs=logs
        )
    memory = SandboxMemoryExceeded(f"Code used more than {memory_mb} MB of memory and was stopped", logs=logs)
    if not raw.result:
        code = returncode if returncode is not None else 0
        if code == -signal.SIGXCPU:
            raise SandboxTimeout("Code used more than its CPU time limit and was stopped", logs=logs)
        if code == -signal.SIGKILL:
            raise memory  # nobody else kills it: the kernel's out-of-memory killer
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            hint = " (too deep recursion?)" if -code == signal.SIGSEGV else ""
            raise SandboxCrashed(f"Code crashed the Python process with signal {name}{hint}", logs=logs)
        raise SandboxCrashed(f"Code ended its process (exit status {code}) before returning", logs=logs)
    try:
        message = json.loads(raw.result)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("status"), str):
        # Only the code itself can garble it, by writing to the sandbox's own descriptors.
        raise SandboxBadOutput("Code's result could not be read; it wrote over the result channel", logs=logs)
    status = message["status"]
    if status == "ok":
        protections = message.get("protections")
        failed = message.get("errors")
        errors = {
            int(index): _code_error(error, int(index), logs)
            for index, error in (failed.items() if isinstance(failed, dict) else ())
            if isinstance(index, str) and index.isdigit()
        }
        return SandboxResult(
            value=message.get("value"),
            logs=logs,
            duration_s=duration_s,
            protections=tuple(str(p) for p in protections) if isinstance(protections, list) else (),
            errors=errors,
        )
    if status == "memory":
        raise memory
    if status == "error":
        raise _code_error(message.get("error"), message.get("call"), logs)
    if status == "syntax":
        error = _code_error(message.get("error"), None, logs)
        line = f" on line {error.line}" if error.line else ""
        raise SandboxSyntaxError(
            f"Syntax error{line}: {error.reason}",
            error_type=error.error_type,
            reason=error.reason,
            traceback=error.traceback,
            line=error.line,
            logs=logs,
        )
    if status == "output":
        call = message.get("call")
        got = message.get("got")
        raise SandboxBadOutput(
            str(message.get("message")),
            got=got if isinstance(got, str) else None,
            call_index=call if isinstance(call, int) else None,
            logs=logs,
        )
    raise SandboxUnavailable(f"the code sandbox could not start: {message.get('message')}", logs=logs)


def _code_error(error: Any, call_index: Any, logs: str) -> SandboxCodeError:
    details = error if isinstance(error, dict) else {}
    error_type = str(details.get("type") or "Error")
    reason = str(details.get("message") or "")
    line = details.get("line")
    line = line if isinstance(line, int) else None
    text = f"{error_type}: {reason}" if reason else error_type
    if line is not None:
        text += f" (line {line})"
    return SandboxCodeError(
        text,
        error_type=error_type,
        reason=reason,
        traceback=str(details.get("traceback") or ""),
        line=line,
        call_index=call_index if isinstance(call_index, int) else None,
        logs=logs,
    )


def _payload_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} values cannot be passed to code")


def _namespace_inodes() -> dict[str, int]:
    """The server's own namespaces, so the child can tell which ones it does not share."""
    inodes = {}
    for kind in ("mnt", "pid", "net", "ipc", "uts", "user"):
        with contextlib.suppress(OSError):
            inodes[kind] = os.stat(f"/proc/self/ns/{kind}").st_ino
    return inodes


def _python_binary() -> str:
    """The real interpreter behind the (virtual environment's) `sys.executable`."""
    return os.path.realpath(sys.executable)


def _visible_roots(python: str) -> list[str]:
    """Directories shown read-only inside the sandbox: the system's /usr and Python's prefix."""
    roots = ["/usr"]
    for path in (os.path.realpath(sys.base_prefix), os.path.dirname(python)):
        if not any(path == root or path.startswith(root + "/") for root in roots):
            roots.append(path)
    return roots


def _refuse_private_paths(roots: Sequence[str], private_paths: Sequence[str]) -> None:
    for private in private_paths:
        path = os.path.realpath(private)
        for root in roots:
            if path == root or path.startswith(root + "/"):
                raise SandboxUnavailable(
                    f"the data directory {path} lies inside {root}, which the code sandbox shows to "
                    "user code; move the data directory elsewhere"
                )


def _bwrap_command(roots: Sequence[str], as_root: bool, seccomp_fd: int) -> list[str]:
    """bubblewrap's arguments: a new root with the system read-only, an empty /tmp and working
    directory (tmpfs of SCRATCH_LIMIT_BYTES each), its own /proc and /dev; no network, no
    other processes. As root no user
    namespace is needed (the child then drops to nobody itself); otherwise bubblewrap makes one
    and forbids nested ones."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed. {NO_ISOLATION}")
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if not as_root:
        args += ["--unshare-user", "--disable-userns"]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    for name, value in _CHILD_ENV.items():
        args += ["--setenv", name, value]
    for root in roots:
        # Parents bubblewrap would create private (0700): the dropped uid must traverse them.
        parents = [p for p in Path(root).parents if str(p) != "/"]
        for parent in reversed(parents):
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", root, root]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):  # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", "--proc", "/proc", "--dev", "/dev"]
    private_tmp = "/tmp"  # noqa: S108 - a fresh tmpfs inside the sandbox, not the host's /tmp
    for scratch in (private_tmp, SANDBOX_WORKDIR):
        args += ["--perms", "1777", "--size", str(SCRATCH_LIMIT_BYTES), "--tmpfs", scratch]
    # Nothing else is writable: not the root bubblewrap builds (the sandbox user's own without
    # root), nor /dev and /dev/shm, which are tmpfs without a size limit.
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", SANDBOX_WORKDIR]
    args += ["--seccomp", str(seccomp_fd)]
    return args


_seccomp_program: bytes | None = None


def _seccomp_filter_fd() -> int:
    """A file descriptor holding the compiled seccomp filter, for bubblewrap's --seccomp."""
    global _seccomp_program
    if _seccomp_program is None:
        try:
            import pyseccomp
        except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 is missing
            raise SandboxUnavailable(
                f"the seccomp library could not be loaded ({exc}). {NO_ISOLATION}"
            ) from exc
        program = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
        for name in _SECCOMP_DENIED:
            with contextlib.suppress(ValueError, OSError):  # a call this architecture lacks
                program.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
        with tempfile.TemporaryFile() as out:
            program.export_bpf(out)
            out.seek(0)
            _seccomp_program = out.read()
    fd = os.memfd_create("wirework-seccomp")
    os.write(fd, _seccomp_program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _make_workdir(as_root: bool) -> str:
    """A fresh, empty, private directory for the child (owned by the sandbox uid as root)."""
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="wirework-code-"))
    if as_root:
        os.chown(workdir, SANDBOX_UID, SANDBOX_GID)
    return workdir


def _remove_tree(path: str) -> None:
    """Remove the working directory even if the code took permissions away inside it."""

    def retry(function: Callable[..., Any], target: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            function(target)

    shutil.rmtree(path, onerror=retry)
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


# The child program. It runs as `python -I -S -c _CHILD_SOURCE <config json>` and reads
# the request from stdin. Everything before `_install_audit_hook` runs with the server's
# identity, before any user code: keep it small and free of user input except the JSON.
_CHILD_SOURCE: Final = r"""
import os
import sys


def _main():
    import json

    result_fd = os.dup(1)
    os.dup2(2, 1)  # print() and the code's stdout go to the log pipe; fd 1's old pipe is ours
    _capture_output(sys.argv[1])
    memory_report = b'{"status": "memory"}'

    def finish(data):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        view = memoryview(data)
        while view:
            view = view[os.write(result_fd, view):]
        os._exit(0)

    try:
        config = json.loads(sys.argv[1])
        request = json.loads(sys.stdin.buffer.read())
        protections = _harden(config)
    except MemoryError:
        finish(memory_report)
    except BaseException as exc:
        finish(json.dumps({"status": "setup", "message": f"{type(exc).__name__}: {exc}"}).encode())
    try:
        finish(_execute(config, request, protections))
    except MemoryError:
        finish(memory_report)


class _Log:
    # stdout/stderr for the code: line-buffered, so output printed before a kill is kept, and
    # silent once the parent's log limit is reached, so chatty code does not pay for output
    # that would be dropped anyway.

    def __init__(self, stream, budget):
        self._stream = stream
        self._budget = budget

    def write(self, text):
        if self._budget[0] > 0:
            self._budget[0] -= len(text)
            self._stream.write(text)
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _capture_output(config_text):
    import json

    budget = [json.loads(config_text)["log_limit"] + 1]
    sys.stdout.reconfigure(line_buffering=True)
    sys.stdout = _Log(sys.stdout, budget)
    sys.stderr = _Log(sys.stderr, budget)


def _harden(config):
    import resource

    protections = ["clean_environment", "working_directory"]
    root = os.geteuid() == 0
    libc = None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except Exception:
        libc = None
    if config["isolated"]:
        # bubblewrap made the namespaces: name those that differ from the server's.
        for kind, server_inode in config["server_namespaces"].items():
            if os.stat("/proc/self/ns/" + kind).st_ino != server_inode:
                protections.append(kind + "_namespace")
        with open("/proc/self/status") as status:
            if any(line.split() == ["Seccomp:", "2"] for line in status):
                protections.append("seccomp")
    elif libc is not None:
        clone_newnet, clone_newuser = 0x40000000, 0x10000000
        if root and libc.unshare(clone_newnet) == 0:
            protections.append("network_namespace")
        elif not root and libc.unshare(clone_newuser | clone_newnet) == 0:
            protections += ["user_namespace", "network_namespace"]

    for name in config["modules"]:
        try:
            __import__(name)
        except ImportError:
            pass

    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as statm:
        address_space = int(statm.read().split()[0]) * page
    memory = address_space + config["memory_bytes"]
    cpu = config["cpu_s"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config["file_size_bytes"], config["file_size_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (config["open_files"], config["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    if root:
        uid, gid = config["uid"], config["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
            raise RuntimeError("could not drop privileges")
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("privileges could be regained after dropping them")
        protections.append("unprivileged_uid")
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    protections.append("resource_limits")

    if libc is not None:
        pr_set_pdeathsig, pr_set_no_new_privs = 1, 38
        if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) == 0:
            protections.append("no_new_privileges")
        if libc.prctl(pr_set_pdeathsig, 9, 0, 0, 0) == 0:
            protections.append("parent_death_signal")
    if not config["isolated"] and os.getppid() != config["parent_pid"]:
        os._exit(1)  # the server is gone (in bubblewrap, --die-with-parent sees to it)
    libc = ctypes = None
    for name in [n for n in sys.modules if n in ("ctypes", "_ctypes") or n.startswith("ctypes.")]:
        del sys.modules[name]

    if config["audit_hook"]:
        _install_audit_hook(config)
        protections.append("audit_hook")
    return protections


def _install_audit_hook(config):
    # The hook only uses values captured here (strings, tuples, builtins), so code that
    # monkeypatches modules cannot change its decisions.
    getcwd = os.getcwd
    o_write = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    workdir = config["workdir"]
    write_prefix = workdir + "/"
    read_exact = frozenset([workdir, "/dev/null", "/dev/urandom", *config["read_roots"]])
    read_prefixes = tuple(root + "/" for root in [workdir, *config["read_roots"]])
    denied = tuple(config["denied_events"].items())
    denied_prefixes = tuple(prefix for prefix, _ in denied)
    path_events = {name: (tuple(spec[0]), spec[1], spec[2]) for name, spec in config["path_events"].items()}
    available = "the node's description lists the modules it has"
    writes_left = [config["written_files"]]

    def normalized(path):
        kind = type(path)
        if kind is bytes:
            path = path.decode("utf-8", "surrogateescape")
        elif kind is not str:
            raise PermissionError("file paths must be str in the Code node")
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts = []
        for part in path.split("/"):
            if part == ".." or "\x00" in part:
                raise PermissionError("paths with '..' are not allowed in the Code node")
            if part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def check(path, write):
        if type(path) is int:
            return  # an already-open descriptor
        full = normalized("." if path is None else path)
        if write:
            if full != "/dev/null" and not full.startswith(write_prefix):
                raise PermissionError(f"the Code node writes files only in its working directory, not {full}")
        elif full not in read_exact and not full.startswith(read_prefixes):
            raise PermissionError(f"the Code node cannot read {full}")

    def hook(event, args):
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            write = (type(mode) is str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or (
                type(flags) is int and flags & o_write != 0
            )
            check(path, write)
            if write and type(path) is not int:
                if writes_left[0] <= 0:
                    raise PermissionError("the Code node cannot write more files")
                writes_left[0] -= 1
        elif event in path_events:
            indexes, write, dir_fd_index = path_events[event]
            if dir_fd_index >= 0 and len(args) > dir_fd_index and args[dir_fd_index] not in (None, -1):
                raise PermissionError(f"{event} with dir_fd is not allowed in the Code node")
            for index in indexes:
                check(args[index], write)
        elif event == "import":
            raise ImportError(f"module {args[0]!r} is not available in the Code node ({available})")
        elif event.startswith(denied_prefixes):
            for prefix, reason in denied:
                if event.startswith(prefix):
                    raise PermissionError(f"{reason} in the Code node ({event})")

    sys.addaudithook(hook)


def _execute(config, request, protections):
    import ast
    import builtins
    import datetime
    import json
    import linecache
    import traceback

    filename = config["filename"]
    source = request["code"]
    payload = request["payload"]
    single = request["calls"] is None
    calls = [{}] if single else request["calls"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    names = sorted({*payload, *(name for call in calls for name in call)})

    def plain(value):
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    def code_error(exc):
        frames = [(f, n) for f, n in traceback.walk_tb(exc.__traceback__) if f.f_code.co_filename == filename]
        summary = traceback.TracebackException(type(exc), exc, None, compact=True)
        summary.stack = traceback.StackSummary.extract(iter(frames))
        line = summary.stack[-1].lineno if summary.stack else None
        if isinstance(exc, SyntaxError) and exc.filename == filename:
            line = exc.lineno
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if isinstance(exc, SystemExit):
            message = "the code called exit(); return the result instead"
        return {
            "type": type(exc).__name__,
            "message": message,
            "line": line,
            "traceback": "".join(summary.format(chain=False)),
        }

    try:
        tree = ast.parse(source, filename)
        function = ast.FunctionDef(
            name="<module>",
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg=name) for name in names],
                vararg=None,
                kwonlyargs=[],
                kw_defaults=[],
                kwarg=None,
                defaults=[],
            ),
            body=tree.body or [ast.Pass()],
            decorator_list=[],
            returns=None,
            type_comment=None,
            lineno=1,
            col_offset=0,
        )
        module = ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))
        namespace = {"__name__": "__code__", "__builtins__": builtins}
        exec(compile(module, filename, "exec", dont_inherit=True), namespace)
        main = namespace["<module>"]
    except (SyntaxError, ValueError) as exc:
        return json.dumps({"status": "syntax", "error": code_error(exc)}).encode()

    pieces, errors, size = [], {}, 0
    for index, call in enumerate(calls):
        try:
            value = main(**{**payload, **call})
        except MemoryError:
            raise
        except BaseException as exc:
            error = code_error(exc)
            if not request["keep_going"]:
                failed = {"status": "error", "call": None if single else index, "error": error}
                return json.dumps(failed).encode()
            errors[str(index)] = error
            pieces.append("null")
            continue
        try:
            encoded = json.dumps(value, allow_nan=False, default=plain, separators=(",", ":"))
        except MemoryError:
            raise
        except Exception as exc:
            got = None
            if isinstance(exc, TypeError) and not isinstance(value, (dict, list, str, int, float, bool)):
                got = type(value).__name__
                message = f"Code must return JSON data; got {got}"
            elif isinstance(exc, TypeError):
                message = f"Code returned a {exc} value inside its result; JSON has no such type"
            elif isinstance(exc, RecursionError):
                message = "Code returned data nested too deeply"
            elif "Circular" in str(exc):
                message = "Code returned data that contains itself"
            else:
                message = "Code returned NaN or infinity, which JSON cannot hold"
            return json.dumps(
                {"status": "output", "call": None if single else index, "got": got, "message": message}
            ).encode()
        size += len(encoded)
        if size > config["output_limit"]:
            limit_mb = config["output_limit"] // (1024 * 1024)
            message = f"Code returned more than {limit_mb} MB of data"
            return json.dumps({"status": "output", "message": message}).encode()
        pieces.append(encoded)
    value = pieces[0] if single else "[" + ",".join(pieces) + "]"
    head = json.dumps({"status": "ok", "protections": protections, "errors": errors})
    return (head[:-1] + ', "value": ' + value + "}").encode()


_main()
"""
