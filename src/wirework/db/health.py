"""Whether the database answers: what counts as "unreachable", how long to wait before trying
again, and what this process says (once per outage) and counts (Prometheus) meanwhile.

A database restart shows up in many shapes depending on the driver and the moment: a refused
or timed-out connect, "the database system is shutting down" (PostgreSQL) or "server has gone
away" (MySQL), a pooled connection found closed. `is_disconnect` folds them into one question:
could the same statements succeed on a new connection a moment later? Those writes are then
retried (see `engine.executions`' group commit); anything else is an error to report.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter, Gauge

log = structlog.get_logger("wirework.database")

DATABASE_ERRORS = Counter(
    "wirework_database_errors_total",
    "Database operations of this process that failed because the database was unreachable or "
    "dropped the connection (each is retried or answered 503).",
)
DATABASE_RECONNECTS = Counter(
    "wirework_database_reconnects_total",
    "Times this process found the database answering again after it was unreachable.",
)
DATABASE_UP = Gauge("wirework_database_up", "1 while this process reaches the database, 0 while it does not.")
DATABASE_UP.set(1)

# PostgreSQL (asyncpg) errors that mean the server went away or is restarting, by class name
# so that this module needs no driver imported.
_PG_GONE = {
    "OperatorInterventionError",  # "terminating connection due to administrator command", shutting down
    "PostgresConnectionError",  # the connection does not exist (any more), was rejected, failed
    "CannotConnectNowError",  # "the database system is starting up / shutting down"
}
# MySQL/MariaDB client and server codes for a lost or refused connection.
_MYSQL_GONE = {1053, 1077, 1927, 2002, 2003, 2006, 2013, 2014, 2045, 2055, 4031}


def is_disconnect(exc: BaseException) -> bool:
    """The database is unreachable or dropped the connection (not: the statement was wrong,
    a constraint said no, SQLite was busy). The same work may succeed on a new connection."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "connection_invalidated", False):
            return True
        if isinstance(error, OSError | TimeoutError | ConnectionError):
            return True  # refused, reset, unreachable, or a connect that timed out
        names = {klass.__name__ for klass in type(error).__mro__}
        if names & _PG_GONE or "DisconnectionError" in names:
            return True
        if "InterfaceError" in names and "connection" in str(error) and "closed" in str(error):
            return True  # asyncpg: "connection is closed"; SQLAlchemy's adaptors say the same
        module = type(error).__module__
        if module.startswith(("asyncmy", "pymysql")) and error.args and error.args[0] in _MYSQL_GONE:
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


# Another transaction got in the way and the database rolled this one back whole (savepoints
# included): PostgreSQL's deadlock and serialization failure, MySQL/MariaDB's deadlock and lock
# wait timeout. The same statements may succeed when run again.
_PG_CONFLICT = {"40P01", "40001"}
_MYSQL_CONFLICT = {1213, 1205}


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure anywhere in `exc`'s chain (on MySQL the error seen
    may be the failed ROLLBACK TO SAVEPOINT that followed it)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code in _PG_CONFLICT:
            return True
        module = type(error).__module__
        if module.startswith(("asyncmy", "pymysql")) and error.args and error.args[0] in _MYSQL_CONFLICT:
            return True
        todo += [getattr(error, "orig", None), error.__cause__, error.__context__]
    return False


@dataclass
class Backoff:
    """Capped exponential back-off with full jitter: 0.1, 0.2, 0.4 … s up to `cap`, each
    delay a random fraction of that (so processes that lost a server together do not all
    come back in the same millisecond)."""

    first: float = 0.1
    cap: float = 2.0
    attempts: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.first * (2**self.attempts))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class DatabaseHealth:
    """What one process knows of its database's reachability. An outage is said once when it
    starts and once when it ends (with how long it lasted), whatever happens in between."""

    down_since: float | None = None
    last_error: str = ""
    _said: set[str] = field(default_factory=set)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def lost(self, exc: BaseException, where: str) -> None:
        """An operation failed because the database is away (`is_disconnect`)."""
        DATABASE_ERRORS.inc()
        self.last_error = _describe(exc)
        if self.down_since is None:
            self.down_since = time.monotonic()
            DATABASE_UP.set(0)
            log.warning(
                "database_unreachable",
                error=self.last_error,
                where=where,
                note="waiting for it: writes are sent again once it answers",
            )

    def answered(self) -> None:
        """An operation succeeded: the database is back, if it was away."""
        if self.down_since is None:
            return
        lasted = time.monotonic() - self.down_since
        self.down_since = None
        DATABASE_UP.set(1)
        DATABASE_RECONNECTS.inc()
        log.info("database_back", after_s=round(lasted, 2))


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {text}"[:300] if text else type(inner).__name__
