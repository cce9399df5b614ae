"""Error logs that a storm cannot turn into a flood: one line per error with its type and
message, repeats counted, a plain traceback once per distinct error (always at DEBUG)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import structlog

from wirework.observability import ErrorDedup, configure_logging


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("INFO")
    yield capsys
    configure_logging("INFO")  # a fresh processor: no windows left for the next test


def fail(message: str) -> None:
    try:
        raise ConnectionError(message)
    except ConnectionError:
        structlog.get_logger("wirework.test").exception("claim_failed", execution_id=str(uuid.uuid4()))


async def test_a_storm_of_one_error_is_one_line_one_traceback_and_a_count(
    logs: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ErrorDedup, "WINDOW_S", 0.3)
    for n in range(240):
        fail(f"the database system is shutting down (attempt {n})")  # numbers differ: same error
    first = logs.readouterr().err
    assert first.count("claim_failed") == 1
    assert "error='ConnectionError: the database system is shutting down (attempt 0)'" in first
    assert first.count("Traceback (most recent call last)") == 1
    assert "│" not in first  # plain text, not rich's boxes (which rendered locals, ~1 s each)

    await asyncio.sleep(0.5)  # the window ends: one line says how often it came again
    summary = logs.readouterr().err
    assert summary.count("claim_failed") == 1
    assert "same error 239 times in the last" in summary
    assert "Traceback" not in summary

    fail("the database system is shutting down (attempt 240)")  # a new window: logged, no traceback
    again = logs.readouterr().err
    assert again.count("claim_failed") == 1 and "Traceback" not in again


def test_each_distinct_error_gets_its_traceback_once(logs: pytest.CaptureFixture[str]) -> None:
    fail("connection refused")
    fail("server closed the connection unexpectedly")
    out = logs.readouterr().err
    assert out.count("claim_failed") == 2
    assert out.count("Traceback (most recent call last)") == 2


def test_debug_shows_every_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    clock = iter(range(0, 1000, 20))  # each line in a window of its own
    dedup = ErrorDedup(tracebacks_always=True, clock=lambda: next(clock))
    try:
        raise ValueError("x")
    except ValueError as exc:
        first = dedup(None, "error", {"event": "e", "exc_info": True})
        second = dedup(None, "error", {"event": "e", "exc_info": exc})
    assert first["exc_info"][1] is second["exc_info"][1]
    assert first["error"] == second["error"] == "ValueError: x"


def test_lines_without_an_exception_pass_untouched() -> None:
    dedup = ErrorDedup()
    line = {"event": "request", "status": 200, "exc_info": False}
    assert dedup(None, "info", dict(line)) == {"event": "request", "status": 200}
    for _ in range(3):
        assert dedup(None, "info", {"event": "request"}) == {"event": "request"}
