"""What the routes share: the authenticated caller, checked query values and the size-checked body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ValidationError
from sqlalchemy import Engine

from bilan_core.errors import NotFoundError
from bilan_core.remote.wire_events import ErrorReply
from bilan_core.server.auth import Caller, authenticate
from bilan_core.server.errors import ApiError

BodyT = TypeVar("BodyT", bound=BaseModel)
ResultT = TypeVar("ResultT")
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


async def read_body(request: Request) -> bytes:
    """The request body, already held within its route's limit by ``body_limit.BodyLimit``."""
    return await request.body()


async def parsed_body(request: Request, model: type[BodyT]) -> BodyT:
    """The body as ``model``; a 400 naming the first problems when it is not one."""
    raw = await read_body(request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise ApiError(400, f"the body is not a valid {model.__name__}: {problems}") from exc


async def stored(call: Callable[[], ResultT]) -> ResultT:
    """Run a store call off the event loop; its refusals become 404 and 400 answers."""
    try:
        return await run_in_threadpool(call)
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from exc


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


CallerDep = Annotated[Caller, Depends(current_caller)]
CleanText = AfterValidator(_no_nul)
