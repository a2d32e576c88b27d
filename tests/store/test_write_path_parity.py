"""One write path: the same turns, votes and conversations stored by local mode and by the server's
ingestion give the same rows, on SQLite and on PostgreSQL.

The local side calls the local backend as the client does; the server side calls the server-mode
backend, whose outbox sends its wire events one per request to ``server.ingest.ingest`` (through an
HTTP transport standing in for the server's ``POST /api/events``); the same events are then stored once
more as a single request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from sqlalchemy import Engine, select

from bilan_core.client.backend import Backend
from bilan_core.client.local import LocalBackend
from bilan_core.clock import now_ms
from bilan_core.privacy.capture import FULL_CAPTURE
from bilan_core.remote.backend import ServerBackend
from bilan_core.remote.wire_events import VOTE_CAST, IngestReply, make_event, turn_events
from bilan_core.server.ingest import ingest
from bilan_core.server.validation import needs_text_check, parse_body
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.models import CONVERSATIONS, LOCAL_PROJECT, TURNS, VOTES, Turn, turn_fields_of
from bilan_core.store.votes import cast_vote
from tests.helpers import figures, server_options

ONE_BY_ONE = 7
ALL_AT_ONCE = 8
TURN_FIELDS = [
    name
    for name in TURNS.c.keys()  # noqa: SIM118 (a Core column collection, not a dict)
    if name not in ("id", "project_id")
]
VOTE_FIELDS = ["prompt_id", "user_id", "value", "comment", "team_session", "model", "prompt_version"]
CONVERSATION_FIELDS = ["conversation_id", "user_id", "title", "team_session", "status"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    return get_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))


class EventsEndpoint:
    """``POST /api/events`` of project ``ONE_BY_ONE`` as an HTTP transport handler: each request body is
    parsed and stored as the server's route does, and kept."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.bodies: list[bytes] = []
        self.replies: list[IngestReply] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        assert (request.method, request.url.path) == ("POST", "/api/events")
        raw = request.read()
        reply = ingest(
            self.engine, project_id=ONE_BY_ONE, items=parse_body(raw), check_text=needs_text_check(raw)
        )
        self.bodies.append(raw)
        self.replies.append(reply)
        return httpx2.Response(200, json=reply.model_dump(mode="json"))


class BothPaths:
    """Applies each step through the local backend and through a server-mode backend, whose outbox is
    then flushed: one request to an ``EventsEndpoint`` per step, as ``turn_events`` and the like build it."""

    def __init__(self, engine: Engine) -> None:
        self.endpoint = EventsEndpoint(engine)
        # The outbox sends only when flushed: each step's events make one request.
        settings = load_settings(**server_options("bk-parity", "http://bilan.test", batch_interval=3600))
        self.server = ServerBackend(settings, transport=httpx2.MockTransport(self.endpoint))
        self.local = LocalBackend(engine)

    def start(self, conversation_id: str, user_id: str, title: str | None, team_session: str | None) -> None:
        self._on_both(
            lambda backend: backend.start_conversation(
                user_id=user_id, title=title, team_session=team_session, conversation_id=conversation_id
            )
        )

    def turn(self, prompt_id: str, user_id: str, model: str, **fields: Any) -> None:
        fresh = Turn(prompt_id=prompt_id, user_id=user_id, model=model, created_ms=now_ms(), **fields)
        turn = as_recorded(fresh)
        self._on_both(lambda backend: backend.record_turn(turn_fields_of(turn)))

    def vote(
        self,
        prompt_id: str,
        user_id: str,
        value: int,
        comment: str | None = None,
        team_session: str | None = None,
    ) -> None:
        self._on_both(
            lambda backend: backend.cast_vote(
                prompt_id=prompt_id, user_id=user_id, value=value, comment=comment, team_session=team_session
            )
        )

    def clear(self, prompt_id: str, user_id: str) -> None:
        self._on_both(lambda backend: backend.clear_vote(prompt_id=prompt_id, user_id=user_id))

    def end(self, conversation_id: str, user_id: str, status: str) -> None:
        self._on_both(
            lambda backend: backend.end_conversation(conversation_id=conversation_id, status=status)
        )

    def _on_both(self, step: Callable[[Backend], object]) -> None:
        """The step locally, then in server mode, whose events are delivered (one request) right away."""
        step(self.local)
        step(self.server)
        assert self.server.flush(timeout=10), f"{self.server.pending()} event(s) still pending"

    def requests(self) -> list[list[dict[str, Any]]]:
        """The events of each request the server-mode backend sent, all stored without an error."""
        assert self.server.failed() == 0
        self.server.close()
        counts = [(reply.stats.errors, reply.stats.processed) for reply in self.endpoint.replies]
        assert counts == [(0, len(parse_body(body))) for body in self.endpoint.bodies]
        return [parse_body(body) for body in self.endpoint.bodies]


def a_team_session(paths: BothPaths) -> None:
    """Two conversations, answers that succeed, fail and are stopped, votes changed and cleared."""
    paths.start("c1", "alice", None, "review")
    paths.turn(
        "t1",
        "alice",
        "gpt-4o",
        conversation_id="c1",
        team_session="review",
        provider="api.openai.com",
        prompt_version="v1",
        messages=[{"role": "user", "content": "What is Bilan?"}],
        parameters={"temperature": 0.2},
        prompt_text="  What is\n  Bilan?  ",
        response="A feedback tool.",
        finish_reason="stop",
        total_tokens=17,
        **figures(tokens=(12, 5), latency_ms=1250.0, ttft_ms=125.0),
    )
    paths.turn(
        "t2",
        "alice",
        "gpt-4o-mini",
        conversation_id="c1",
        prompt_text="And then?",
        status="error",
        error_type="rate_limit",
        error_message="API rate limit exceeded",
        latency_ms=500.0,
        regenerated_from="t1",
    )
    paths.turn(
        "t3",
        "bob",
        "llama-3",
        prompt_version="v2",
        prompt_text="Stop me",
        response="Partial",
        status="cancelled",
        tools=[{"type": "function", "function": {"name": "calculator"}}],
        tool_calls=[{"name": "calculator", "arguments": "{}"}],
        latency_ms=250.0,
    )
    # Turns without a latency, answered and failed: neither path stores one.
    paths.turn("t4", "carol", "gpt-4o", conversation_id="never-started")
    paths.turn("t6", "carol", "gpt-4o", status="error", error_type="timeout")
    paths.vote("t1", "bob", 1, " great ", team_session="review")
    paths.vote("t1", "alice", -1, "too short")
    paths.vote("t1", "alice", 1)
    paths.vote("t2", "carol", -1, "failed")
    paths.clear("t2", "carol")
    paths.vote("t3", "alice", -1, "x" * 300)
    paths.start("c2", "bob", "  A   given\ttitle ", None)
    paths.turn("t5", "bob", "gpt-4o", conversation_id="c2", prompt_text="Hi", latency_ms=2.0)
    paths.end("c2", "bob", "abandoned")
    paths.end("c1", "alice", "completed")


def stored(engine: Engine, project_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of a project, keyed and reduced to the columns that mean the same in both modes."""
    tables: list[tuple[str, Any, list[str], list[str]]] = [
        ("turns", TURNS, TURN_FIELDS, ["prompt_id"]),
        ("votes", VOTES, VOTE_FIELDS, ["prompt_id", "user_id"]),
        ("conversations", CONVERSATIONS, CONVERSATION_FIELDS, ["conversation_id"]),
    ]
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name, table, fields, key in tables:
            statement = select(*(table.c[field] for field in fields)).where(table.c.project_id == project_id)
            found[name] = [tuple(row) for row in connection.execute(statement.order_by(*key))]
        ended = select(CONVERSATIONS.c.conversation_id, CONVERSATIONS.c.ended_ms.is_not(None))
        found["ended"] = [
            tuple(row)
            for row in connection.execute(
                ended.where(CONVERSATIONS.c.project_id == project_id).order_by("conversation_id")
            )
        ]
    return found


def as_recorded(turn: Turn) -> Turn:
    """The turn as a client at the ``full`` capture level hands it to its backend (level, lengths noted)."""
    return Turn(**FULL_CAPTURE.turn_fields(turn.model_dump()))


def vote_event(prompt_id: str, user_id: str, value: int, at_ms: int) -> list[dict[str, Any]]:
    """A request holding one ``vote_cast`` at ``at_ms``."""
    properties = {"turn_id": prompt_id, "value": value}
    return [make_event(VOTE_CAST, user_id=user_id, properties=properties, timestamp_ms=at_ms)]


def ingest_requests(engine: Engine, project_id: int, requests: list[list[dict[str, Any]]]) -> None:
    for events in requests:
        reply = ingest(engine, project_id=project_id, items=events, check_text=True)
        assert (reply.stats.errors, reply.stats.processed) == (0, len(events)), reply.errors


def test_local_mode_and_the_server_store_the_same_rows(engine: Engine) -> None:
    paths = BothPaths(engine)
    a_team_session(paths)
    requests = paths.requests()
    ingest_requests(engine, ALL_AT_ONCE, [[event for request in requests for event in request]])

    local = stored(engine, LOCAL_PROJECT)
    assert stored(engine, ONE_BY_ONE) == local
    assert stored(engine, ALL_AT_ONCE) == local
    # the rules the two paths share, spelled out once
    titles = {row[0]: row[2] for row in local["conversations"]}
    assert titles == {"c1": "What is Bilan?", "c2": "A given title"}
    assert [row[:2] for row in local["votes"]] == [("t1", "alice"), ("t1", "bob"), ("t3", "alice")]
    assert {row[:2]: row[5:] for row in local["votes"]}[("t1", "bob")] == ("gpt-4o", "v1")
    assert local["ended"] == [("c1", True), ("c2", True)]
    latency = TURN_FIELDS.index("latency_ms")
    assert {row[0]: row[latency] for row in local["turns"]}["t4"] is None
    assert {row[0]: row[latency] for row in local["turns"]}["t6"] is None


@pytest.mark.parametrize("first", ["turn", "vote"])
def test_a_vote_is_labelled_from_its_turn_whichever_arrives_first(engine: Engine, first: str) -> None:
    turn = Turn(prompt_id="late", user_id="alice", model="gpt-4o", prompt_version="v3", created_ms=now_ms())
    vote = vote_event("late", "bob", 1, now_ms())
    requests = [turn_events(turn), vote] if first == "turn" else [vote, turn_events(turn)]
    ingest_requests(engine, ONE_BY_ONE, requests)
    LocalBackend(engine).record_turn(turn_fields_of(turn))
    LocalBackend(engine).cast_vote(prompt_id="late", user_id="bob", value=1, comment=None, team_session=None)
    assert stored(engine, ONE_BY_ONE)["votes"] == stored(engine, LOCAL_PROJECT)["votes"]
    assert stored(engine, LOCAL_PROJECT)["votes"][0][5:] == ("gpt-4o", "v3")


def test_an_older_vote_never_replaces_a_newer_one_in_either_path(engine: Engine) -> None:
    turn = Turn(prompt_id="p", user_id="alice", model="m", created_ms=now_ms())
    LocalBackend(engine).record_turn(turn_fields_of(turn))
    ingest_requests(engine, ONE_BY_ONE, [turn_events(turn)])
    newer, older = now_ms() + 1_000, now_ms()
    cast_vote(engine, prompt_id="p", user_id="bob", value=1, at_ms=newer)
    cast_vote(engine, prompt_id="p", user_id="bob", value=-1, at_ms=older)
    ingest_requests(engine, ONE_BY_ONE, [vote_event("p", "bob", 1, newer), vote_event("p", "bob", -1, older)])
    assert [row[2] for row in stored(engine, LOCAL_PROJECT)["votes"]] == [1]
    assert stored(engine, ONE_BY_ONE)["votes"] == stored(engine, LOCAL_PROJECT)["votes"]


def test_a_turn_whose_start_and_end_arrive_in_separate_requests_is_stored_whole(engine: Engine) -> None:
    turn = Turn(
        prompt_id="split",
        user_id="alice",
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hi"}],
        parameters={"temperature": 0.5},
        tools=[{"type": "function", "function": {"name": "calculator"}}],
        response="Hello",
        latency_ms=40.0,
        created_ms=now_ms(),
    )
    turn = as_recorded(turn)
    LocalBackend(engine).record_turn(turn_fields_of(turn))
    ingest_requests(engine, ONE_BY_ONE, [[event] for event in turn_events(turn)])
    assert stored(engine, ONE_BY_ONE)["turns"] == stored(engine, LOCAL_PROJECT)["turns"]
