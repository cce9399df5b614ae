"""Worker mode: execution ids travel through a taskiq broker (Redis streams or RabbitMQ).

`serve` with `WIREWORK_BROKER_URL` set only accepts work: it commits the execution row,
then publishes its id. `wirework worker` processes consume ids and run them with the same
local executor the single-process mode uses. The message is only a hint: the database
claim decides who runs what, and every worker also polls for pending rows, so a lost
message delays an execution by a poll interval and a duplicated one runs nothing twice.

Neither side gives up on the broker. A lost connection (a restart, a network cut) is said
once; the consumer and the publisher connect again with capped exponential back-off and
jitter, each time with a new taskiq broker: Redis's stream and consumer group are declared
again (a Redis without persistence comes back empty), RabbitMQ's channel and consumer are
opened again. Meanwhile workers keep starting executions from their database poll, and
`serve` does not publish (the rows are committed, so the poll finds them).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from typing import Any

import structlog
from taskiq import AsyncBroker

from wirework.db.health import Backoff
from wirework.queue.health import BROKER_PUBLISH_FAILURES, BrokerLink
from wirework.queue.local import LocalExecutor

log = structlog.get_logger("wirework.broker")

TASK_NAME = "wirework.run_execution"
QUEUE_NAME = "wirework.executions"
CONNECT_TIMEOUT_S = 5.0  # a broker that does not answer a connect within this is away
PUBLISH_TIMEOUT_S = 5.0
LIVENESS_S = 1.0  # how often a consumer waiting for messages looks at its connection
STREAM_MAX_LEN = 100_000  # ids kept in the Redis stream (acknowledged ones are not removed otherwise)


class BrokerConfigError(ValueError):
    pass


def make_broker(url: str, *, prefetch: int = 8) -> AsyncBroker:
    """A taskiq broker for `redis://…` (streams, one consumer group) or `amqp://…`."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from taskiq_redis import RedisStreamBroker

        broker: AsyncBroker = RedisStreamBroker(
            url,
            queue_name=QUEUE_NAME,
            consumer_group_name="wirework-workers",
            # From the stream's start: a group declared again after Redis lost it then gets the
            # ids serve published meanwhile (declaring an existing group changes nothing).
            consumer_id="0",
            maxlen=STREAM_MAX_LEN,
            xread_count=prefetch,
            xread_block=1000,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=CONNECT_TIMEOUT_S + 5,  # longer than a blocking read (xread_block)
        )
    elif url.startswith(("amqp://", "amqps://")):
        from taskiq_aio_pika import AioPikaBroker

        broker = AioPikaBroker(url, qos=prefetch, timeout=CONNECT_TIMEOUT_S)
    else:
        raise BrokerConfigError(
            f"WIREWORK_BROKER_URL must start with redis:// or amqp://, not {url.split(':', 1)[0]!r}"
        )
    broker.register_task(_never_called, task_name=TASK_NAME)
    return broker


async def _never_called(execution_id: str) -> None:  # pragma: no cover - workers read messages directly
    raise RuntimeError("executions are run by `wirework worker`, not by taskiq's own worker")


class BrokerExecutor:
    """What `serve` uses in worker mode: `submit` publishes, nothing runs here. It starts
    without the broker if need be and connects in the background; while it is not connected
    an accepted execution is not published (its row is committed: a worker's poll starts it)."""

    runs_here = False

    def __init__(self, url: str) -> None:
        make_broker(url)  # a bad URL is a configuration error now, not at the first publish
        self.url = url
        self.broker: AsyncBroker | None = None  # connected, or None
        self.link = BrokerLink("publisher")
        self._sending: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None
        self.running = 0

    async def start(self) -> None:
        self._reconnect()

    def _reconnect(self) -> None:
        if self._connector is None or self._connector.done():
            # A context of its own: not the request's (whose id would tag its log lines).
            self._connector = asyncio.create_task(self._connect(), context=contextvars.Context())

    async def _connect(self) -> None:
        backoff = Backoff(first=0.2, cap=2.0)
        while True:
            broker = make_broker(self.url)
            try:
                await _started(broker)
            except Exception as exc:
                self.link.lost(exc)
                await _shut(broker)
                await asyncio.sleep(backoff.next())
                continue
            self.broker = broker
            self.link.up()
            return

    def submit(self, execution_id: uuid.UUID) -> None:
        if self.broker is None:  # away: the row is committed, a worker's poll starts it
            BROKER_PUBLISH_FAILURES.inc()
            return
        task = asyncio.create_task(self.publish(execution_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def publish(self, execution_id: uuid.UUID) -> None:
        broker = self.broker
        if broker is None:
            BROKER_PUBLISH_FAILURES.inc()
            return
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await broker.find_task(TASK_NAME).kiq(str(execution_id))  # type: ignore[union-attr]
        except Exception as exc:  # the row is committed: a worker's poll still finds it
            BROKER_PUBLISH_FAILURES.inc()
            if self.broker is broker:  # the first failure of this connection: start over
                self.broker = None
                self.link.lost(exc)
                closing = asyncio.create_task(_shut(broker))
                self._sending.add(closing)
                closing.add_done_callback(self._sending.discard)
                self._reconnect()

    def poke(self) -> None:
        pass

    async def stop(self, grace: float = 10.0) -> None:
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=grace)
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self.broker is not None:
            await _shut(self.broker)

    async def drain(self) -> None:
        if self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)


class BrokerLost(Exception):
    """The consumer's connection to the broker is gone; it connects again."""


async def consume(url: str, executor: LocalExecutor, concurrency: int, stop: asyncio.Event) -> None:
    """Feed execution ids from the broker to `executor` until `stop` is set, through any number
    of broker outages: each lost connection is said once, then a new broker is connected with
    back-off (0.2 s doubling to 2 s, with jitter). Only an authentication failure (a
    configuration error) ends it early, with BrokerConfigError."""
    link = BrokerLink("consumer")
    backoff = Backoff(first=0.2, cap=2.0)
    while not stop.is_set():
        broker = make_broker(url, prefetch=concurrency)
        broker.is_worker_process = True
        try:
            await _started(broker)
            link.up()
            backoff.reset()
            await _take_messages(broker, executor, concurrency, stop)
        except Exception as exc:
            if _refused_credentials(exc):
                raise BrokerConfigError(
                    f"the broker refused the credentials in WIREWORK_BROKER_URL: {exc}"
                ) from exc
            link.lost(exc)
        finally:
            await _shut(broker)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff.next())


async def _take_messages(
    broker: AsyncBroker, executor: LocalExecutor, concurrency: int, stop: asyncio.Event
) -> None:
    """Take a message only when a slot is free, until `stop` (returns) or the connection is
    lost (raises)."""
    messages = broker.listen()
    next_message: asyncio.Future[Any] | None = None
    try:
        while not stop.is_set():
            if executor.running >= concurrency and next_message is None:  # told the moment a run ends
                room = asyncio.ensure_future(executor.wait_for_room())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({room, stopping}, timeout=LIVENESS_S, return_when=asyncio.FIRST_COMPLETED)
                room.cancel()
                stopping.cancel()
            else:
                if next_message is None:
                    next_message = asyncio.ensure_future(anext(messages))
                stopping = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait(
                    {next_message, stopping}, timeout=LIVENESS_S, return_when=asyncio.FIRST_COMPLETED
                )
                stopping.cancel()
                if next_message in done:
                    try:
                        message = next_message.result()
                    except StopAsyncIteration:
                        raise BrokerLost("the broker ended the subscription") from None
                    next_message = None
                    await _hand_over(broker, message, executor)
                    continue
            if not stop.is_set() and not _connected(broker):
                raise BrokerLost("the connection to the broker was lost")
    finally:
        if next_message is not None:
            next_message.cancel()
            with contextlib.suppress(BaseException):
                await next_message
        with contextlib.suppress(Exception):
            await messages.aclose()


async def _hand_over(broker: AsyncBroker, message: Any, executor: LocalExecutor) -> None:
    execution_id = _execution_id(broker, message.data if hasattr(message, "data") else message)
    if execution_id is not None:
        executor.submit(execution_id)
    ack = getattr(message, "ack", None)
    if ack is not None:  # a failing ack means a lost connection: the caller connects again
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            result = ack()
            if asyncio.iscoroutine(result):
                await result


def _connected(broker: AsyncBroker) -> bool:
    """Whether the consumer's connection is up. Redis says so by failing the blocking read;
    aio-pika's robust connection instead waits quietly to reconnect (and messages taken before
    then could no longer be acknowledged), so it is asked."""
    connection = getattr(broker, "read_conn", None)
    if connection is None:
        return True
    connected = getattr(connection, "connected", None)
    return not connection.is_closed and (connected is None or connected.is_set())


async def _started(broker: AsyncBroker) -> None:
    async with asyncio.timeout(CONNECT_TIMEOUT_S * 2):
        await broker.startup()


async def _shut(broker: AsyncBroker) -> None:
    """Close a broker's connections, whatever state they are in, within a bounded time."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await broker.shutdown()


def _refused_credentials(exc: BaseException) -> bool:
    names = {klass.__name__ for klass in type(exc).__mro__}
    return bool(
        names & {"ProbableAuthenticationError", "AuthenticationError", "AuthenticationWrongNumberOfArgsError"}
    )


def _execution_id(broker: AsyncBroker, data: bytes) -> uuid.UUID | None:
    try:
        message = broker.formatter.loads(message=data)
        return uuid.UUID(str(message.args[0]))
    except Exception:
        log.warning("unreadable_message", size=len(data))
        return None
