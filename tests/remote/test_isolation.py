"""A server-mode client isolates an event the server keeps failing on, so the events behind it flow.

The real server on SQLite, behind a fault injector that answers 500 to any batch holding one marked
event (as a server fails on an input it cannot store): the client splits its batches until that event
is alone, keeps it as failed with the server's reason, and delivers all the others.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlmodel import Session

from bilan_core.api import init
from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings
from bilan_core.store.models import Event
from tests.fixtures.bilan_server import LiveServer
from tests.helpers import server_options

MARKER = b"poison-pill"


class FailOnMarkedEvent:
    """Fault injection around the real app: a POST whose body holds ``MARKER`` gets a 500."""

    def __init__(self, app):
        self.app = app
        self.failed = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if MARKER in body:
            self.failed += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"error": "cannot store poison-pill"}'})
            return

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def test_an_event_the_server_keeps_failing_on_is_kept_as_failed_and_the_rest_is_delivered(sqlite_url):
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0))
    key = create_key(app.state.engine, project="alpha").key
    faulty = FailOnMarkedEvent(app)
    server = LiveServer(faulty)
    server.start()
    client = init(**server_options(key, server.url, batch_size=16, batch_interval=3600))
    try:
        ids = [client.track("step", {"n": n}) for n in range(7)]
        poisoned = client.track("step", {"note": MARKER.decode()})
        ids += [client.track("step", {"n": n}) for n in range(7, 15)]
        began = time.monotonic()
        assert client.backend.flush(timeout=30), f"{client.backend.pending()} still pending"
        assert time.monotonic() - began < 15
        assert client.backend.failures() == [(poisoned, "HTTP 500: cannot store poison-pill")]
        assert client.backend.failed() == 1
        client.vote("after", 1)  # what is queued later flows too
        assert client.backend.flush(timeout=10)
    finally:
        client.close()
        server.stop()
    with Session(app.state.engine) as session:
        stored = set(session.exec(select(Event.event_id).where(Event.event_type == "step")).scalars())
    assert stored == set(ids)
    assert faulty.failed >= 3
