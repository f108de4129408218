"""A fixed-window request counter per key (an access token or an OAuth client)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple


class Verdict(NamedTuple):
    """The limiter's answer for one request (values for the ``inin-ratelimit-*`` headers)."""

    allowed: bool
    count: int  # requests counted in the current window, this one included
    limit: int
    reset: int  # whole seconds until the window resets (also the Retry-After of a 429)

    def headers(self) -> dict[str, str]:
        """The ``inin-ratelimit-count/allowed/reset`` headers."""
        return {"inin-ratelimit-count": str(self.count),
                "inin-ratelimit-allowed": str(self.limit),
                "inin-ratelimit-reset": str(self.reset)}


class RateLimiter:
    """At most ``limit`` requests per key in each window of ``window`` seconds.

    A window opens at a key's first request and lasts ``window`` seconds; requests over the
    limit are refused (and still counted) until it ends.
    """

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit must be >= 1 and window > 0, got {limit}, {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> Verdict:
        """Count one request for ``key`` and say whether it is within the limit."""
        with self._lock:
            now = self._clock()
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.window:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
        reset = max(1, math.ceil(start + self.window - now))
        return Verdict(count <= self.limit, count, self.limit, reset)
