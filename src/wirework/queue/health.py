"""Whether this process is connected to the broker (worker mode): said once when it is lost
and once when it is back, and shown to Prometheus (`wirework_broker_connected`, reconnect and
publish-failure counters). `serve` publishes, `wirework worker` consumes; each process has
its own view, so each worker's is on its own metrics port (WIREWORK_WORKER_METRICS_PORT)."""

from __future__ import annotations

import time

import structlog
from prometheus_client import Counter, Gauge

log = structlog.get_logger("wirework.broker")

BROKER_CONNECTED = Gauge(
    "wirework_broker_connected",
    "1 while this process is connected to the broker, 0 while it is not (work then starts from "
    "the workers' database poll, at a lower rate).",
    ["role"],
)
BROKER_RECONNECTS = Counter(
    "wirework_broker_reconnects_total",
    "Times this process connected to the broker again after losing it (or after starting while it was away).",
    ["role"],
)
BROKER_PUBLISH_FAILURES = Counter(
    "wirework_broker_publish_failures_total",
    "Execution ids serve did not publish because the broker was away; their rows are committed and "
    "the workers' database poll starts them.",
)


class BrokerLink:
    """The connection of one role (`publisher` in serve, `consumer` in a worker)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.connected = False
        self.down_since: float | None = None
        BROKER_CONNECTED.labels(role).set(0)

    def up(self) -> None:
        self.connected = True
        BROKER_CONNECTED.labels(self.role).set(1)
        if self.down_since is not None:
            lasted = time.monotonic() - self.down_since
            self.down_since = None
            BROKER_RECONNECTS.labels(self.role).inc()
            log.info("broker_back", role=self.role, after_s=round(lasted, 2))

    def lost(self, exc: BaseException) -> None:
        self.connected = False
        BROKER_CONNECTED.labels(self.role).set(0)
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "broker_unreachable",
                role=self.role,
                error=describe(exc),
                note="reconnecting with back-off; meanwhile executions start from the database poll",
            )


def describe(exc: BaseException) -> str:
    """The error's root cause, type and first line ("Cannot send task" says less than why)."""
    for _ in range(5):
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
