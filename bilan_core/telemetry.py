"""Anonymous usage counts (how many turns, votes, events), never any text or raw id.

Sent only when ``BILAN_TELEMETRY_ENDPOINT`` is set and neither ``BILAN_TELEMETRY=false`` nor
``DO_NOT_TRACK=1`` says no; sending happens on a daemon thread and never blocks or raises.
"""

from __future__ import annotations

import logging
import platform
import threading
from collections import Counter

import httpx2

from bilan_core.settings import BilanSettings
from bilan_core.version import __version__

log = logging.getLogger(__name__)
SEND_EVERY_SECONDS = 60.0


class Telemetry:
    """Counts named actions and posts the counts now and then."""

    def __init__(self, settings: BilanSettings) -> None:
        self.enabled = settings.telemetry_enabled
        self._endpoint = settings.telemetry_endpoint
        self._mode = settings.mode
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, action: str) -> None:
        """Add one to an action's count (a no-op when telemetry is off)."""
        if not self.enabled:
            return
        with self._lock:
            self._counts[action] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bilan-telemetry", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Send the counts gathered so far (on the caller's thread; errors are swallowed)."""
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        if not counts or not self._endpoint:
            return
        payload = {
            "sdk": "bilan-python",
            "version": __version__,
            "python": platform.python_version(),
            "mode": self._mode,
            "counts": counts,
        }
        try:
            httpx2.post(self._endpoint, json=payload, timeout=2.0)
        except Exception as exc:  # telemetry must never disturb the caller
            log.debug("telemetry not sent: %s", type(exc).__name__)

    def close(self) -> None:
        """Send what is left and stop the sender."""
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self.flush()

    def _run(self) -> None:
        while not self._wake.wait(SEND_EVERY_SECONDS):
            self.flush()
