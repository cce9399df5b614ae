"""The webhook target cache: when an entry runs out under load, one lookup refills it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from wirework.errors import NotFound
from wirework.triggers.models import ResponseMode, WebhookAuth
from wirework.triggers.webhooks import Target, TargetCache


def target() -> Target:
    return Target(
        org_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        node_id="hook",
        auth_mode=WebhookAuth.none,
        credential_id=None,
        auth_header=None,
        response_mode=ResponseMode.immediately,
        timeout_s=30,
        version_id=uuid.uuid4(),
    )


async def test_calls_that_miss_together_share_one_lookup() -> None:
    cache, found, lookups = TargetCache(), target(), 0

    async def lookup() -> Target:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.01)
        return found

    answers = await asyncio.gather(*(cache.fill("POST", "orders", lookup) for _ in range(32)))
    assert lookups == 1 and all(answer is found for answer in answers)
    assert cache.get("POST", "orders") is found  # kept for the next calls
    assert cache.get("GET", "orders") is None


async def test_a_failed_lookup_fails_its_waiters_and_is_not_kept() -> None:
    cache, lookups = TargetCache(), 0

    async def lookup() -> Target:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.01)
        raise NotFound("No active workflow listens on /webhook/gone.")

    results = await asyncio.gather(
        *(cache.fill("POST", "gone", lookup) for _ in range(5)), return_exceptions=True
    )
    assert lookups == 1 and all(isinstance(r, NotFound) for r in results)
    with pytest.raises(NotFound):
        await cache.fill("POST", "gone", lookup)
    assert lookups == 2  # the failure was not cached


async def test_a_caller_that_goes_away_does_not_cancel_the_lookup_of_the_others() -> None:
    cache, found = TargetCache(), target()

    async def lookup() -> Target:
        await asyncio.sleep(0.05)
        return found

    impatient = asyncio.ensure_future(cache.fill("POST", "slow", lookup))
    patient = asyncio.ensure_future(cache.fill("POST", "slow", lookup))
    await asyncio.sleep(0.01)
    impatient.cancel()
    assert await patient is found
