"""Worker mode: execution ids travel through a taskiq broker (Redis streams or RabbitMQ).

`serve` with `WIREWORK_BROKER_URL` set only accepts work: it commits the execution row,
then publishes its id. `wirework worker` processes consume ids and run them with the same
local executor the single-process mode uses. The message is only a hint: the database
claim decides who runs what, and every worker also polls for pending rows, so a lost
message delays an execution by a poll interval and a duplicated one runs nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from taskiq import AsyncBroker

from wirework.queue.local import LocalExecutor

log = structlog.get_logger("wirework.broker")

TASK_NAME = "wirework.run_execution"
QUEUE_NAME = "wirework.executions"


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
            xread_count=prefetch,
            xread_block=1000,
        )
    elif url.startswith(("amqp://", "amqps://")):
        from taskiq_aio_pika import AioPikaBroker

        broker = AioPikaBroker(url, qos=prefetch)
    else:
        raise BrokerConfigError(
            f"WIREWORK_BROKER_URL must start with redis:// or amqp://, not {url.split(':', 1)[0]!r}"
        )
    broker.register_task(_never_called, task_name=TASK_NAME)
    return broker


async def _never_called(execution_id: str) -> None:  # pragma: no cover - workers read messages directly
    raise RuntimeError("executions are run by `wirework worker`, not by taskiq's own worker")


class BrokerExecutor:
    """What `serve` uses in worker mode: `submit` publishes, nothing runs here."""

    runs_here = False

    def __init__(self, broker: AsyncBroker, housekeeping: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.broker = broker
        self.housekeeping = housekeeping
        self._sending: set[asyncio.Task[None]] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        self.running = 0

    async def start(self) -> None:
        await self.broker.startup()
        if self.housekeeping:
            self._housekeeper = asyncio.create_task(self._housekeep())

    def submit(self, execution_id: uuid.UUID) -> None:
        task = asyncio.create_task(self.publish(execution_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def publish(self, execution_id: uuid.UUID) -> None:
        try:
            await self.broker.find_task(TASK_NAME).kiq(str(execution_id))  # type: ignore[union-attr]
        except Exception:  # the row is committed: a worker's poll still finds it
            log.exception("publish_failed", execution_id=str(execution_id))

    def poke(self) -> None:
        pass

    async def _housekeep(self) -> None:
        assert self.housekeeping is not None
        while True:
            try:
                await self.housekeeping()
            except Exception:
                log.exception("housekeeping_failed")
            await asyncio.sleep(600)

    async def stop(self, grace: float = 10.0) -> None:
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=grace)
        if self._housekeeper:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
        await self.broker.shutdown()

    async def drain(self) -> None:
        if self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)


async def consume(
    broker: AsyncBroker, executor: LocalExecutor, concurrency: int, stop: asyncio.Event
) -> None:
    """Feed execution ids from the broker to `executor`, taking a message only when a slot is free."""
    messages = broker.listen()
    try:
        while not stop.is_set():
            if executor.running >= concurrency:  # told the moment a run ends
                room = asyncio.ensure_future(executor.wait_for_room())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({room, stopping}, return_when=asyncio.FIRST_COMPLETED)
                room.cancel()
                stopping.cancel()
                continue  # look at `stop` and the room again
            next_message = asyncio.ensure_future(anext(messages))
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({next_message, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if next_message not in done:
                next_message.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_message
                break
            stopping.cancel()
            message = next_message.result()
            execution_id = _execution_id(broker, message.data if hasattr(message, "data") else message)
            if execution_id is not None:
                executor.submit(execution_id)
            ack = getattr(message, "ack", None)
            if ack is not None:
                result = ack()
                if asyncio.iscoroutine(result):
                    await result
    finally:
        with contextlib.suppress(Exception):
            await messages.aclose()


def _execution_id(broker: AsyncBroker, data: bytes) -> uuid.UUID | None:
    try:
        message = broker.formatter.loads(message=data)
        return uuid.UUID(str(message.args[0]))
    except Exception:
        log.warning("unreadable_message", size=len(data))
        return None
