"""Refusals as ``{"error": "..."}`` JSON with the right status (and headers such as Retry-After)."""

from __future__ import annotations


class ApiError(Exception):
    """A request refused with an HTTP status and a message saying what is wrong."""

    def __init__(self, status_code: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}
