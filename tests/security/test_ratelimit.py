"""Rate-limit rows under concurrency: two "processes" (each its own engine and pool) counting
the same keys at once never lose a hit, never overshoot a limit, never both take one attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from wirework.db.engine import Database
from wirework.security.ratelimit import DatabaseLimits, MemoryCounter, backoff_delay


@pytest.fixture
async def two(db: Database) -> AsyncIterator[tuple[DatabaseLimits, DatabaseLimits]]:
    other = Database(db.url, pool_size=5)
    try:
        yield DatabaseLimits(db), DatabaseLimits(other)
    finally:
        await other.dispose()


async def test_concurrent_hits_never_overshoot_the_limit(two: tuple[DatabaseLimits, DatabaseLimits]) -> None:
    a, b = two
    results = await asyncio.gather(*(limits.hit("calls", 15, 60) for limits in (a, b) * 20))
    assert results.count(0) == 15  # exactly the limit passed, the rest are told how long to wait
    assert all(0 < wait <= 60 for wait in results if wait)
    assert await a.over("calls", 15, 60) > 0 and await b.over("calls", 16, 60) == 0


async def test_concurrent_unlimited_hits_are_all_counted(two: tuple[DatabaseLimits, DatabaseLimits]) -> None:
    a, b = two
    await asyncio.gather(*(limits.hit("failures", 2**31 - 1, 60) for limits in (a, b) * 15))
    assert await a.over("failures", 30, 60) > 0 and await b.over("failures", 31, 60) == 0


async def test_a_window_that_ended_starts_again(two: tuple[DatabaseLimits, DatabaseLimits]) -> None:
    a, b = two
    assert await a.hit("short", 1, 0.3) == 0
    assert await b.hit("short", 1, 0.3) == 1
    await asyncio.sleep(0.35)
    assert await b.hit("short", 1, 0.3) == 0


async def test_one_attempt_at_a_time_and_a_growing_back_off(
    two: tuple[DatabaseLimits, DatabaseLimits],
) -> None:
    a, b = two
    claims = await asyncio.gather(*(limits.claim("account", 10) for limits in (a, b) * 10))
    assert claims.count(0) == 1  # one attempt runs; the others wait for it
    delays = [await a.fail("account", max_delay_s=5, forget_s=300) for _ in range(7)]
    assert delays == [0, 0, 0, 1, 2, 4, 5]
    assert 1 <= await b.claim("account", 10) <= 5
    await b.clear("account")  # the right password
    assert await a.claim("account", 10) == 0


def test_the_back_off_doubles_up_to_its_cap() -> None:
    assert [backoff_delay(n, 60) for n in (1, 3, 4, 5, 6, 9, 10, 100)] == [0, 0, 1, 2, 4, 32, 60, 60]


async def test_memory_windows_count_per_key() -> None:
    counter = MemoryCounter()
    assert [await counter.hit("a", 2, 60) for _ in range(3)] == [0, 0, 60]
    assert await counter.hit("b", 2, 60) == 0
