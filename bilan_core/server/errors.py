"""Refusals as ``{"error": "..."}`` JSON with the right status (and headers such as Retry-After).

Every answer that is not a success has this one shape: the server's own refusals (``ApiError``),
FastAPI's 422 for a bad parameter (summarised, never echoing the input), Starlette's 404/405, a busy
or unreachable database (503 with Retry-After) and anything unexpected (500, details only in the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from bilan_core.store.db_errors import is_transient

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1
MAX_PROBLEMS = 5
MAX_PROBLEM_CHARS = 200


class ApiError(Exception):
    """A request refused with an HTTP status and a message saying what is wrong."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}
        self.kind = kind  # a typed error's name (``errors.NAMED_ERRORS``), for server-mode clients


def add_error_handlers(app: FastAPI) -> None:
    """Answer every refusal and failure of ``app`` as ``{"error": ...}``."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def _reply(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    if exc.kind is not None:
        body = {"error": exc.message, "kind": exc.kind}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    return _reply(exc.status_code, exc.message, exc.headers)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return _reply(422, validation_summary(exc.errors()))


def validation_summary(errors: object) -> str:
    """Where and what is wrong in a validation error list, short, without the offending input."""
    problems = []
    for error in list(errors)[:MAX_PROBLEMS] if isinstance(errors, list | tuple) else []:
        where = ".".join(str(part) for part in error.get("loc", ())) or "request"
        problems.append(f"{where}: {error.get('msg', 'invalid')}"[:MAX_PROBLEM_CHARS])
    return "; ".join(problems) or "the request is not valid"


async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    return _reply(exc.status_code, str(exc.detail)[:MAX_PROBLEM_CHARS], dict(exc.headers or {}))


async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if not is_transient(exc):
        log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return await _unexpected(request, exc)
    return _reply(
        503,
        f"the database is busy or unavailable; retry in {RETRY_AFTER_SECONDS} s",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    return _reply(500, "internal server error; the server's log has the details")
