"""Per-key request rate limit: in this process's memory by default, or shared by every server through Redis.

In memory, each key has a token bucket (``rate`` a second, bursts up to ``burst``): right for one
process. With ``BILAN_REDIS_URL`` every process on every host counts a key's requests in one place, so
N servers enforce one limit, not N. The shared limit is the ``limits`` library's moving window on Redis
(an atomic Lua script per request): at most ``burst`` requests in any window of ``burst / rate``
seconds, rounded to whole seconds (the library's granularity), which is the same long-run rate.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Protocol

from bilan_core.errors import ConfigurationError

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)
REDIS_KEY_PREFIX = "bilan-rate"
REDIS_TIMEOUT = 1.0  # seconds; a Redis that hangs must not hang requests


class Limiter(Protocol):
    """What the server asks of a rate limit."""

    def wait_seconds(self, key: str) -> int:
        """Take one request for ``key``: 0 if allowed, else the whole seconds to wait (Retry-After)."""
        ...


class RateLimiter:
    """Allows ``rate`` requests a second per key with bursts up to ``burst``; rate 0 turns it off."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: str) -> int:
        """Take one token for a request: 0 if allowed, else the whole seconds to wait (Retry-After)."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))


class SharedRateLimiter:
    """The limit of every server process that uses the same Redis: a moving window per key."""

    def __init__(self, *, redis_url: str, rate: float, burst: int) -> None:
        from limits import RateLimitItemPerSecond
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        self.storage = RedisStorage(
            redis_url,
            key_prefix=REDIS_KEY_PREFIX,
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        if not self.storage.check():
            raise ConfigurationError("BILAN_REDIS_URL: Redis does not answer at that address")
        window = max(1, round(burst / rate))
        self.item: RateLimitItem = RateLimitItemPerSecond(max(1, round(rate * window)), window)
        self.strategy: MovingWindowRateLimiter = MovingWindowRateLimiter(self.storage)

    def wait_seconds(self, key: str) -> int:
        """Take one request for ``key`` in Redis: 0 if allowed, else the seconds until one is free."""
        from limits.errors import StorageError

        try:
            if self.strategy.hit(self.item, key):
                return 0
            reset_at = self.strategy.get_window_stats(self.item, key).reset_time
        except StorageError:
            # Refusing every request while Redis is away would take the whole service down with it.
            log.warning("Redis did not answer; request let through without a rate limit check")
            return 0
        return max(1, math.ceil(reset_at - time.time()))


def make_limiter(*, rate: float, burst: int, redis_url: str | None) -> Limiter:
    """The shared limit when a Redis URL is given (and the limit is on), else this process's own."""
    if redis_url and rate > 0:
        return SharedRateLimiter(redis_url=redis_url, rate=rate, burst=burst)
    return RateLimiter(rate=rate, burst=burst)
