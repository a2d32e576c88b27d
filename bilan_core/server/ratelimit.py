"""Per-key request rate limit: an in-memory token bucket per API key (one server process)."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    """Allows ``rate`` requests a second per key with bursts up to ``burst``; rate 0 turns it off."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key_id: int) -> int:
        """Take one token for a request: 0 if allowed, else the whole seconds to wait (Retry-After)."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0
            self._buckets[key_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
