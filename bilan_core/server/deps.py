"""FastAPI dependencies shared by the routes: the authenticated caller and checked query values."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from sqlalchemy import Engine

from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.auth import Caller, authenticate

MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31
bearer = HTTPBearer(auto_error=False, description="An API key made by `python -m bilan_core keys create`")
REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorReply, "description": "Missing, unknown or revoked API key"},
    429: {"model": ErrorReply, "description": "Over this key's rate limit; see Retry-After"},
}


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    return request.app.state.engine


def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller of an endpoint that needs an API key (401/429 otherwise)."""
    key = credentials.credentials if credentials is not None else None
    return authenticate(request.app.state.engine, request.app.state.limiter, key)


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


CallerDep = Annotated[Caller, Depends(current_caller)]
CleanText = AfterValidator(_no_nul)
