"""Server mode's cache of prompt versions read by name and label (or number).

A version read within ``BILAN_PROMPT_CACHE_SECONDS`` is served from memory. An older one is read again;
if the server does not answer then, the last version read is served instead, so an app keeps working
while the prompt store is down. A client that creates a version or moves a label forgets that prompt.
"""

from __future__ import annotations

import threading
import time

from bilan_core.store.prompts import StoredPromptVersion

CacheKey = tuple[str, int | None, str | None]


class PromptCache:
    """Versions by (name, version, label), each with the monotonic time it was read."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[CacheKey, tuple[float, StoredPromptVersion]] = {}
        self._lock = threading.Lock()

    def fresh(self, key: CacheKey) -> StoredPromptVersion | None:
        """The version read under ``key`` less than the TTL ago, else None."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] >= self.ttl_seconds:
            return None
        return entry[1]

    def last(self, key: CacheKey) -> StoredPromptVersion | None:
        """The version last read under ``key``, however old."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def keep(self, key: CacheKey, stored: StoredPromptVersion) -> None:
        """Remember a version just read."""
        with self._lock:
            self._entries[key] = (time.monotonic(), stored)

    def forget(self, name: str) -> None:
        """Drop every entry of a prompt (after this client changed it)."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == name]:
                del self._entries[key]
