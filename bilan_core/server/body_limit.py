"""``BodyLimit``: the ASGI layer that refuses a request body over its route's limit as it streams in.

It runs before routing, authentication and parsing: a declared ``Content-Length`` over the limit is
refused at once, and a chunked body is counted chunk by chunk and refused as soon as it passes the
limit, so the server never holds more than one limit's worth of a request. The body it read is then
handed to the app unchanged.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SMALL_BODY_BYTES = 1_048_576  # filters, titles, verdicts, answers: every body of a route not listed below
# The routes that carry many items at once (events, a batch run's prompts, a dataset, an experiment's
# cells, a prompt's messages): up to BILAN_MAX_BODY_BYTES.
LARGE_BODY_ROUTES = frozenset(
    ("POST", path)
    for path in (
        "/api/events",
        "/api/batch-runs",
        "/api/datasets",
        "/api/datasets/items",
        "/api/datasets/turns",
        "/api/experiment-runs",
        "/api/prompts",
    )
)


class BodyLimit:
    """Wraps an ASGI app: bodies over ``large_limit`` (large routes) or the small limit get 413."""

    def __init__(self, app: ASGIApp, *, large_limit: int) -> None:
        self.app = app
        self.large_limit = large_limit
        self.small_limit = min(large_limit, SMALL_BODY_BYTES)

    def limit_for(self, method: str, path: str) -> int:
        """The most bytes a body of ``method`` on ``path`` may have."""
        large = (method, path.rstrip("/")) in LARGE_BODY_ROUTES
        return self.large_limit if large else self.small_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within its limit (413 past it), then run the app on that body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, f"request body is {declared:,} bytes; the limit is {limit:,}")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _refuse(send, f"request body is over the limit of {limit:,} bytes")
                return
            more = bool(message.get("more_body", False))
        await self.app(scope, _replay(bytes(body), receive), send)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then waits for the client as the original does."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _refuse(send: Send, message: str) -> None:
    payload = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
