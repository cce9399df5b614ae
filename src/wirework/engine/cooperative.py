"""Let long synchronous work inside a node give the event loop its turn.

Nodes render expressions synchronously (`ctx.params(...)` inside `async def run`), so a
heavy render would hold the event loop until it ends: every other request and execution
of the process would wait, and the node's `timeout_s` (an asyncio timeout, which acts only
where the coroutine awaits) could not stop it.

`run_cooperatively(coro)` awaits a node's `run` coroutine while stepping it inside a
greenlet of its own. Synchronous code deep inside it (the expression renderer) calls
`pause_if_due()` at its checkpoints; once the slice (`SLICE_S`) has been used, the greenlet
switches back to the task, which yields to the event loop for one round, then resumes the
work where it stopped. If the task is cancelled meanwhile (a node timeout), the
cancellation is raised at that checkpoint, so the render stops there and then.

Everything else behaves as a plain `await coro`: the coroutine's own awaits pass through
to the task (the greenlet shares the task's contextvars, as SQLAlchemy's do), its result
and exceptions come back unchanged. Outside such a greenlet (another thread, a SQLAlchemy
`run_sync` greenlet, plain calls) `pause_if_due()` does nothing. Starting a greenlet costs
about 10 µs, switching to one well under 1 µs, so finished greenlets are kept (per thread)
and reused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Coroutine, Generator
from typing import Any, Final, TypeVar

from greenlet import getcurrent, greenlet  # type: ignore[import-untyped]

__all__ = ["SLICE_S", "pause_if_due", "run_cooperatively"]

T = TypeVar("T")

SLICE_S: Final = 0.001
"""How long synchronous work may run before it lets the event loop take a turn. Each of k
busy nodes takes a slice per loop round, and an HTTP request needs a few rounds, so a
request waits about rounds * k * SLICE_S; a pause costs a few tens of microseconds."""
_KEPT: Final = 32
"""Idle greenlets kept per thread for reuse."""
_PAUSE: Final = ("yield", None)  # the task yields None: asyncio's "run me again soon"


class _Stepper(greenlet):  # type: ignore[misc]  # greenlet ships no type hints
    """A greenlet that runs coroutines handed to it, one after the other (see `_serve`).
    `resumed_at` is when its current slice began."""

    resumed_at: float = 0.0


def pause_if_due() -> None:
    """At a checkpoint of synchronous work: if this slice is used up, let the loop run once.

    Raises whatever the task was interrupted with meanwhile (CancelledError on a timeout).
    """
    current = getcurrent()
    if type(current) is _Stepper and time.perf_counter() - current.resumed_at > SLICE_S:
        current.parent.switch(_PAUSE)


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Step the coroutine, handing what it yields (futures) to the task and back."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = getcurrent().parent.switch(("yield", yielded))
        except BaseException as exc:  # thrown in by the task (cancellation): pass it on
            error = exc


def _serve(coro: Coroutine[Any, Any, Any] | None) -> None:
    """A stepper's body: run each coroutine it is given; report the outcome in a box the
    task empties, so an idle stepper keeps no result alive."""
    while True:
        assert coro is not None
        try:
            box: list[tuple[str, Any]] = [("done", _drive(coro))]
        except BaseException as exc:
            box = [("raised", exc)]
        coro = None
        coro = getcurrent().parent.switch(box)


_idle = threading.local()


def _stepper() -> _Stepper:
    kept: list[_Stepper] | None = getattr(_idle, "steppers", None)
    if kept is None:
        kept = _idle.steppers = []
    while kept:
        stepper = kept.pop()
        if not stepper.dead:
            return stepper
    return _Stepper(_serve)


def _release(stepper: _Stepper) -> None:
    kept: list[_Stepper] = _idle.steppers
    if len(kept) < _KEPT:
        kept.append(stepper)


class _Cooperative:
    __slots__ = ("_coro",)

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, Any, Any]:
        current = getcurrent()
        stepper = _stepper()
        stepper.parent = current
        stepper.gr_context = current.gr_context
        stepper.resumed_at = time.perf_counter()
        message = stepper.switch(self._coro)
        while type(message) is tuple:  # ("yield", what the coroutine awaits)
            try:
                sent = yield message[1]
            except BaseException as exc:
                stepper.resumed_at = time.perf_counter()
                message = stepper.throw(exc)
            else:
                stepper.resumed_at = time.perf_counter()
                message = stepper.switch(sent)
        kind, value = message.pop()
        _release(stepper)
        if kind == "raised":
            raise value
        return value


async def run_cooperatively(coro: Coroutine[Any, Any, T]) -> T:
    """`await coro`, letting synchronous code inside it pause at `pause_if_due()` checkpoints."""
    result: T = await _Cooperative(coro)
    return result
