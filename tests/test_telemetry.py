"""Telemetry sends anonymous counts only, only when allowed, and never disturbs the caller."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bilan_core import Bilan, load_settings
from tests.helpers import add_turn


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/telemetry"
    server.shutdown()


def use_the_sdk(client: Bilan) -> None:
    prompt_id = add_turn(client.engine, prompt_text="my secret prompt")
    client.vote(prompt_id, 1, "a private comment")
    client.track("custom", {"note": "private"})
    client.close()


def test_counts_are_sent_without_any_text_or_ids(collector: str, sqlite_url: str) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, user_id="alice", telemetry_endpoint=collector))
    use_the_sdk(client)
    assert len(Collector.received) == 1
    payload = Collector.received[0]
    assert payload["counts"] == {"vote": 1, "event": 1}
    sent = json.dumps(payload)
    for private in ("secret", "private", "alice"):
        assert private not in sent


@pytest.mark.parametrize("opt_out", [{"telemetry": False}, {"do_not_track": True}])
def test_opting_out_sends_nothing(collector: str, sqlite_url: str, opt_out: dict[str, bool]) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, telemetry_endpoint=collector, **opt_out))
    use_the_sdk(client)
    assert Collector.received == []


def test_an_unreachable_endpoint_never_raises(sqlite_url: str) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, telemetry_endpoint="http://127.0.0.1:9/nothing"))
    use_the_sdk(client)
