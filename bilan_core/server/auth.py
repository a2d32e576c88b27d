"""Who is calling: the bearer API key, checked against its stored hash, and the key's rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bilan_core.privacy.levels import CaptureLevel, check_capture_level
from bilan_core.server.api_keys import verify_key
from bilan_core.server.errors import ApiError
from bilan_core.server.ratelimit import Limiter


@dataclass(frozen=True)
class Caller:
    """An authenticated request's key and the project every read and write is scoped to."""

    key_id: int
    project_id: int
    capture: CaptureLevel = "full"  # the most the project's events may keep


def authenticate(engine: Engine, limiter: Limiter, key: str | None) -> Caller:
    """The caller for a bearer key; 401 when missing, unknown or revoked, 429 when over its rate."""
    if not key or not key.strip():
        raise ApiError(401, "Missing API key", headers={"WWW-Authenticate": "Bearer"})
    found = verify_key(engine, key=key.strip())
    if found is None:
        raise ApiError(401, "Invalid API key", headers={"WWW-Authenticate": "Bearer"})
    # The id names the key in this database, the random prefix across databases sharing one Redis.
    wait = limiter.wait_seconds(f"{found.id}:{found.prefix}")
    if wait:
        raise ApiError(
            429, f"Too many requests for this API key; retry in {wait} s", headers={"Retry-After": str(wait)}
        )
    return Caller(key_id=found.id, project_id=found.project_id, capture=check_capture_level(found.capture))
