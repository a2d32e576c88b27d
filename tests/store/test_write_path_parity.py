"""One write path: the same turns, votes and conversations stored by local mode and by the server's
ingestion give the same rows, on SQLite and on PostgreSQL.

The local side calls the local backend as the client does; the server side sends the same facts as
Bilan wire events (built by ``remote.wire_events``, as the server-mode client sends them) through
``server.ingest.ingest``, once event by event (one request each) and once as a single request.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from bilan_core.client.local import LocalBackend
from bilan_core.clock import now_ms
from bilan_core.remote.wire_events import (
    CONVERSATION_ENDED,
    CONVERSATION_STARTED,
    VOTE_CAST,
    VOTE_CLEARED,
    make_event,
    turn_events,
)
from bilan_core.server.ingest import ingest
from bilan_core.store.engine import get_engine
from bilan_core.store.models import CONVERSATIONS, LOCAL_PROJECT, TURNS, VOTES, Turn
from bilan_core.store.votes import cast_vote

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


class BothPaths:
    """Applies each step locally and records the wire events the server gets for it."""

    def __init__(self, engine: Engine) -> None:
        self.local = LocalBackend(engine)
        self.requests: list[list[dict[str, Any]]] = []

    def start(self, conversation_id: str, user_id: str, title: str | None, team_session: str | None) -> None:
        self.local.start_conversation(
            user_id=user_id, title=title, team_session=team_session, conversation_id=conversation_id
        )
        properties: dict[str, Any] = {"conversation_id": conversation_id, "started_at": now_ms()}
        if title is not None:
            properties["title"] = title
        if team_session is not None:
            properties["team_session"] = team_session
        self._send(CONVERSATION_STARTED, user_id, properties)

    def turn(self, **fields: Any) -> None:
        turn = Turn(created_ms=now_ms(), **fields)
        self.local.record_turn(turn)
        self.requests.append(turn_events(turn))

    def vote(
        self, prompt_id: str, user_id: str, value: int, comment: str | None = None, **extra: Any
    ) -> None:
        team_session = extra.get("team_session")
        self.local.cast_vote(
            prompt_id=prompt_id, user_id=user_id, value=value, comment=comment, team_session=team_session
        )
        properties = {"turn_id": prompt_id, "value": value, "comment": comment, **extra}
        self._send(VOTE_CAST, user_id, properties)

    def clear(self, prompt_id: str, user_id: str) -> None:
        self.local.clear_vote(prompt_id=prompt_id, user_id=user_id)
        self._send(VOTE_CLEARED, user_id, {"turn_id": prompt_id})

    def end(self, conversation_id: str, user_id: str, status: str) -> None:
        self.local.end_conversation(conversation_id=conversation_id, status=status)
        properties = {"conversation_id": conversation_id, "status": status, "ended_at": now_ms()}
        self._send(CONVERSATION_ENDED, user_id, properties)

    def _send(self, event_type: str, user_id: str, properties: dict[str, Any]) -> None:
        moment = now_ms()
        self.requests.append(
            [make_event(event_type, user_id=user_id, properties=properties, timestamp_ms=moment)]
        )


def a_team_session(paths: BothPaths) -> None:
    """Two conversations, answers that succeed, fail and are stopped, votes changed and cleared."""
    paths.start("c1", "alice", None, "review")
    paths.turn(
        prompt_id="t1",
        conversation_id="c1",
        user_id="alice",
        team_session="review",
        model="gpt-4o",
        provider="api.openai.com",
        prompt_version="v1",
        prompt_text="  What is\n  Bilan?  ",
        response="A feedback tool.",
        messages=[{"role": "user", "content": "What is Bilan?"}],
        parameters={"temperature": 0.2},
        finish_reason="stop",
        prompt_tokens=12,
        completion_tokens=5,
        total_tokens=17,
        ttft_ms=125.0,
        latency_ms=1250.0,
    )
    paths.turn(
        prompt_id="t2",
        conversation_id="c1",
        user_id="alice",
        model="gpt-4o-mini",
        prompt_text="And then?",
        status="error",
        error_type="rate_limit",
        error_message="API rate limit exceeded",
        latency_ms=500.0,
    )
    paths.turn(
        prompt_id="t3",
        user_id="bob",
        model="llama-3",
        prompt_version="v2",
        prompt_text="Stop me",
        response="Partial",
        status="cancelled",
        tools=[{"type": "function", "function": {"name": "calculator"}}],
        tool_calls=[{"name": "calculator", "arguments": "{}"}],
        latency_ms=250.0,
    )
    # Turns without a latency, answered and failed: neither path stores one.
    paths.turn(prompt_id="t4", conversation_id="never-started", user_id="carol", model="gpt-4o")
    paths.turn(prompt_id="t6", user_id="carol", model="gpt-4o", status="error", error_type="timeout")
    paths.vote("t1", "bob", 1, " great ", team_session="review")
    paths.vote("t1", "alice", -1, "too short")
    paths.vote("t1", "alice", 1)
    paths.vote("t2", "carol", -1, "failed")
    paths.clear("t2", "carol")
    paths.vote("t3", "alice", -1, "x" * 300)
    paths.start("c2", "bob", "  A   given\ttitle ", None)
    paths.turn(
        prompt_id="t5", conversation_id="c2", user_id="bob", model="gpt-4o", prompt_text="Hi", latency_ms=2.0
    )
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


def vote_event(prompt_id: str, user_id: str, value: int, at_ms: int) -> list[dict[str, Any]]:
    properties = {"turn_id": prompt_id, "value": value}
    return [make_event(VOTE_CAST, user_id=user_id, properties=properties, timestamp_ms=at_ms)]


def ingest_requests(engine: Engine, project_id: int, requests: list[list[dict[str, Any]]]) -> None:
    for events in requests:
        reply = ingest(engine, project_id=project_id, items=events, check_text=True)
        assert (reply.stats.errors, reply.stats.processed) == (0, len(events)), reply.errors


def test_local_mode_and_the_server_store_the_same_rows(engine: Engine) -> None:
    paths = BothPaths(engine)
    a_team_session(paths)
    ingest_requests(engine, ONE_BY_ONE, paths.requests)
    ingest_requests(engine, ALL_AT_ONCE, [[event for request in paths.requests for event in request]])

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
    vote = make_event(
        VOTE_CAST, user_id="bob", properties={"turn_id": "late", "value": 1}, timestamp_ms=now_ms()
    )
    requests = [turn_events(turn), [vote]] if first == "turn" else [[vote], turn_events(turn)]
    ingest_requests(engine, ONE_BY_ONE, requests)
    LocalBackend(engine).record_turn(turn)
    LocalBackend(engine).cast_vote(prompt_id="late", user_id="bob", value=1, comment=None, team_session=None)
    assert stored(engine, ONE_BY_ONE)["votes"] == stored(engine, LOCAL_PROJECT)["votes"]
    assert stored(engine, LOCAL_PROJECT)["votes"][0][5:] == ("gpt-4o", "v3")


def test_an_older_vote_never_replaces_a_newer_one_in_either_path(engine: Engine) -> None:
    turn = Turn(prompt_id="p", user_id="alice", model="m", created_ms=now_ms())
    LocalBackend(engine).record_turn(turn)
    ingest_requests(engine, ONE_BY_ONE, [turn_events(turn)])
    newer, older = now_ms() + 1_000, now_ms()
    cast_vote(engine, prompt_id="p", user_id="bob", value=1, at_ms=newer)
    cast_vote(engine, prompt_id="p", user_id="bob", value=-1, at_ms=older)
    ingest_requests(
        engine,
        ONE_BY_ONE,
        [
            [
                make_event(
                    VOTE_CAST, user_id="bob", properties={"turn_id": "p", "value": 1}, timestamp_ms=newer
                )
            ],
            [
                make_event(
                    VOTE_CAST, user_id="bob", properties={"turn_id": "p", "value": -1}, timestamp_ms=older
                )
            ],
        ],
    )
    assert [row[2] for row in stored(engine, LOCAL_PROJECT)["votes"]] == [1]
    assert stored(engine, ONE_BY_ONE)["votes"] == stored(engine, LOCAL_PROJECT)["votes"]
