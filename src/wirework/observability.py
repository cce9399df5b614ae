"""Logs and metrics: structlog set-up, a request-id and access-log middleware, Prometheus metrics.

Errors are logged so that a storm of them cannot hurt: a line that carries an exception says
its type and message in one field (`error`); the same error (same event, type and message,
ids and numbers aside) again within `ErrorDedup.WINDOW_S` is counted instead of logged, and
said once when the window ends ("same error 240 times in the last 10 s"); a traceback is
rendered once per distinct error in the life of the process (always at DEBUG), as plain
text: structlog's default, rich, renders locals and took ~0.9 s a traceback, on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "wirework_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "wirework_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLIENT_LEFT = "wirework.client_left"
"""Set in an ASGI scope by a handler whose caller hung up before the answer: logged as 499."""


class _StderrLogger:
    """Writes each line to whatever `sys.stderr` is now (so redirection and capture work)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|[0-9a-f]{12,}|\d+", re.I
)


@dataclass
class _Window:
    started: float
    error: str
    repeats: int = 0


class ErrorDedup:
    """A structlog processor for lines that carry an exception (`log.exception`, `exc_info=`):
    see the module's docstring. Lines without one pass untouched."""

    WINDOW_S = 10.0
    MAX_KEYS = 1000  # distinct errors remembered; more (ids in messages?) start afresh

    def __init__(self, *, tracebacks_always: bool = False, clock: Any = time.monotonic) -> None:
        self.tracebacks_always = tracebacks_always
        self.clock = clock
        self._windows: dict[tuple[str, ...], _Window] = {}
        self._traced: set[tuple[str, ...]] = set()

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        exc_info = _exc_info(event.get("exc_info"))
        if exc_info is None:
            event.pop("exc_info", None)
            return event
        kind, error = exc_info[0], exc_info[1]
        text = str(error).strip()
        event.setdefault("error", f"{kind.__name__}: {text[:500]}" if text else kind.__name__)
        key = (str(event.get("event")), kind.__qualname__, _VARYING.sub("#", text[:500]))
        now = self.clock()
        window = self._windows.get(key)
        if window is not None and now - window.started < self.WINDOW_S:
            window.repeats += 1
            if window.repeats == 1:
                self._say_later(key, logger, method, event)
            raise structlog.DropEvent
        if window is not None and window.repeats:  # said here if no loop could say it on time
            event["repeated"] = _repeats(window.repeats, now - window.started)
        if len(self._windows) >= self.MAX_KEYS:
            self._windows.clear()
            self._traced.clear()
        self._windows[key] = _Window(now, event["error"])
        if self.tracebacks_always or key not in self._traced:
            self._traced.add(key)
            event["exc_info"] = exc_info
        else:
            event.pop("exc_info", None)
        return event

    def _say_later(self, key: tuple[str, ...], logger: Any, method: str, event: dict[str, Any]) -> None:
        """At the end of the window, one line with how often the error came again in it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a thread): the next occurrence after the window says it
        summary = {k: v for k, v in event.items() if k not in ("exc_info", "error", "level")}
        window = self._windows[key]

        def say() -> None:
            if self._windows.get(key) is not window or not window.repeats:
                return
            repeats, window.repeats = window.repeats, 0
            line = {**summary, "error": window.error, "repeated": _repeats(repeats, self.WINDOW_S)}
            structlog.get_logger().log(logging.getLevelNamesMapping().get(method.upper(), 40), **line)

        loop.call_at(loop.time() + max(0.0, window.started + self.WINDOW_S - self.clock()), say)


def _repeats(count: int, seconds: float) -> str:
    return f"same error {count} times in the last {max(1, round(seconds))} s"


def _exc_info(value: Any) -> ExcInfo | None:
    """exc_info as given to a log call (True, an exception, a tuple) as a tuple; None if none."""
    if value is None or value is False:
        return None
    if value is True:
        value = sys.exc_info()
    elif isinstance(value, BaseException):
        value = (type(value), value, value.__traceback__)
    if not isinstance(value, tuple) or len(value) != 3 or value[1] is None:
        return None
    return value


# Broker clients that log each failed connect and each closed connection (with tracebacks)
# through the standard library: Wirework says the same once per outage (queue/health.py).
QUIETED_LOGGERS = ("aio_pika", "aiormq", "taskiq", "taskiq_redis", "taskiq_aio_pika")


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    debug = logging.getLevelName(level.upper()) == logging.DEBUG
    for name in QUIETED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.CRITICAL)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        ErrorDedup(tracebacks_always=debug),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=True,
    )


class RequestLogMiddleware:
    """Gives each request an id (X-Request-ID in, or made), logs it once, and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("wirework.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not started and scope.get(CLIENT_LEFT):
                status = 499  # nginx's "client closed request": nothing went wrong here
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "<unmatched>")
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            self.log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route,
                status=status,
                ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
