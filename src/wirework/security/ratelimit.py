"""Sliding-window counters for failed logins, per account and per IP.

In memory, per process: with N `serve` processes an attacker gets N times the budget,
which still bounds guessing; argon2 makes each guess expensive on top.
"""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, max_events: int, window_seconds: float) -> None:
        self.max_events = max_events
        self.window = window_seconds
        self._events: dict[str, deque[float]] = {}

    def _live(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again; 0 when it may now."""
        now = time.monotonic()
        events = self._live(key, now)
        if len(events) < self.max_events:
            return 0
        return max(1, math.ceil(events[0] + self.window - now))

    def hit(self, key: str) -> None:
        now = time.monotonic()
        events = self._live(key, now)
        events.append(now)
        self._events[key] = events

    def reset(self, key: str) -> None:
        self._events.pop(key, None)
