"""The app's optional access password (``BILAN_APP_PASSWORD``): checked in constant time, and guessing
slowed down per browser session (``PasswordThrottle``)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bilan_core.settings import BilanSettings

FREE_ATTEMPTS = 5
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 300.0


def password_required(settings: BilanSettings) -> bool:
    """True when ``BILAN_APP_PASSWORD`` is set to something non-empty."""
    return settings.app_password is not None and bool(settings.app_password.get_secret_value())


def password_matches(settings: BilanSettings, attempt: str | None) -> bool:
    """True when no password is set, or ``attempt`` equals it (compared in constant time)."""
    if not password_required(settings):
        return True
    if not isinstance(attempt, str) or not attempt:
        return False
    expected = settings.app_password.get_secret_value()  # type: ignore[union-attr]
    # Digests have one length, so the comparison's time says nothing about the password's length either.
    return hmac.compare_digest(_digest(attempt), _digest(expected))


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass
class PasswordThrottle:
    """One browser session's attempts: after ``FREE_ATTEMPTS`` wrong ones, each further wrong one locks
    the form for twice as long as the last (1 s, 2 s, 4 s, … up to 5 minutes)."""

    failures: int = 0
    locked_until: float = 0.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def wait_seconds(self) -> float:
        """How long before the next attempt is checked (0 when it can be now)."""
        return max(0.0, self.locked_until - self.clock())

    def attempt(self, settings: BilanSettings, attempt: str | None) -> bool:
        """True when ``attempt`` is the password; while locked, nothing is compared: False."""
        if self.wait_seconds() > 0:
            return False
        if password_matches(settings, attempt):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= FREE_ATTEMPTS:
            delay = FIRST_DELAY_SECONDS * 2 ** min(self.failures - FREE_ATTEMPTS, 20)
            self.locked_until = self.clock() + min(MAX_DELAY_SECONDS, delay)
        return False
