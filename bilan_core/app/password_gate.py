"""The app's optional access password (``BILAN_APP_PASSWORD``), checked in constant time."""

from __future__ import annotations

import hmac

from bilan_core.settings import BilanSettings


def password_required(settings: BilanSettings) -> bool:
    """True when ``BILAN_APP_PASSWORD`` is set to something non-empty."""
    return settings.app_password is not None and bool(settings.app_password.get_secret_value())


def password_matches(settings: BilanSettings, attempt: str | None) -> bool:
    """True when no password is set, or ``attempt`` equals it (compared in constant time)."""
    if not password_required(settings):
        return True
    if not isinstance(attempt, str) or not attempt:
        return False
    expected = settings.app_password.get_secret_value().encode()  # type: ignore[union-attr]
    return hmac.compare_digest(attempt.encode(), expected)
