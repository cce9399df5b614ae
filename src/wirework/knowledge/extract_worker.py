"""The child process that reads one file for `knowledge.extract.extract_isolated`.

    python -m wirework.knowledge.extract_worker MEMORY_BYTES CPU_SECONDS

It sets its own resource limits before it reads anything -- address space, processor time (SIGXCPU,
then SIGKILL 5 s later), no core files, no files written, few descriptors, no child processes --
then reads from stdin one JSON line `{"filename", "mime_type"}` followed by the file's bytes, runs
`extract_text`, and writes one JSON object (ASCII) to stdout: `{"text", "mime_type"}`,
`{"error"}` (an ExtractionError's message) or `{"limit": "memory"}`. The parent kills it after
its wall-clock deadline and reads a crash (any other exit) as a limit reached.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from typing import Any


def _limit(memory_bytes: int, cpu_s: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # pipes are not files: stdout still works
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no fork (not enforced for root)


def _peak_bytes() -> int:
    """The most address space this process has held (VmPeak), 0 if unknown."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmPeak:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _answer(value: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(value, ensure_ascii=True).encode("ascii"))
    sys.stdout.buffer.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m wirework.knowledge.extract_worker MEMORY_BYTES CPU_SECONDS", file=sys.stderr)
        return 2
    memory_bytes = int(argv[0])
    _limit(memory_bytes, int(argv[1]))
    from wirework.knowledge.extract import MAX_INPUT_BYTES, ExtractionError, extract_text

    header = json.loads(sys.stdin.buffer.readline(65536))
    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    name = str(header.get("filename") or "document")
    mime_type = header.get("mime_type")
    try:
        extracted = extract_text(
            data, filename=name, mime_type=mime_type if isinstance(mime_type, str) else None
        )
    except ExtractionError as exc:
        # A parser that ran out of address space may say so in its own words (lxml: "unknown
        # error"); the peak says which wall it met.
        _answer({"limit": "memory"} if _peak_bytes() >= memory_bytes * 0.9 else {"error": exc.detail})
        return 0
    except MemoryError:
        del data
        _answer({"limit": "memory"})
        return 0
    except RecursionError:
        _answer({"error": f"{name}: the file nests too deeply to read"})
        return 0
    except Exception:
        traceback.print_exc(limit=20)
        return 1
    del data
    _answer({"text": extracted.text, "mime_type": extracted.mime_type})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
