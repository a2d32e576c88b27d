"""POST /api/events against real PostgreSQL: every wire event type, mapping, duplicates, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from bilan_core.analytics.stats import VoteFilter, compute_stats
from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings
from bilan_core.store.models import Conversation, Event, Turn, Vote

pytestmark = pytest.mark.postgres
# The ten real examples of /work/shared/bilan-wire.md, one per line.
EXAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "fixtures" / "wire_examples.jsonl").read_text().splitlines()
]
TURN_ID = "turn_1795464938984_nofh"
T0 = 1_790_000_000_000


def event(event_id: str, event_type: str, properties: dict, **extra: object) -> dict:
    return {
        "eventId": event_id,
        "eventType": event_type,
        "timestamp": extra.pop("timestamp", 1_790_000_000_000),
        "userId": extra.pop("userId", "alice"),
        "properties": properties,
        **extra,
    }


def rows(engine, model):
    with Session(engine) as session:
        return session.exec(select(model)).scalars().all()


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_every_wire_example_is_stored_and_mapped(server_project):
    assert len(EXAMPLES) == 10
    reply = server_project.post({"events": EXAMPLES})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "success": True,
        "message": "Processed 10 events",
        "stats": {"processed": 10, "skipped": 0, "errors": 0, "total": 10},
        "errors": [],
    }
    engine = server_project.engine
    assert {e.event_type for e in rows(engine, Event)} == {e["eventType"] for e in EXAMPLES}
    turns = {t.prompt_id: t for t in rows(engine, Turn)}
    ok = turns[TURN_ID]
    assert (ok.status, ok.prompt_text, ok.response, ok.conversation_id) == ("ok", "What is 2+2?", "4", "c1")
    assert ok.latency_ms == pytest.approx(1.0)
    assert ok.created_ms == 1795464938984
    failed = turns["turn_1795464938986_qyrf"]
    assert (failed.status, failed.error_type, failed.prompt_text) == (
        "error",
        "rate_limit",
        "Email [REDACTED] the 429 report",
    )
    [vote] = rows(engine, Vote)
    assert (vote.prompt_id, vote.user_id, vote.value, vote.comment) == (TURN_ID, "alice", 1, "correct")
    [conversation] = rows(engine, Conversation)
    assert conversation.conversation_id == "3da61a47-1142-4fa1-bada-1ce171062415"
    assert (conversation.status, conversation.created_ms, conversation.ended_ms) == (
        "completed",
        1795464938989,
        1795464939055,
    )
    assert all(e.project_id == server_project.project_id for e in rows(engine, Event))


def test_three_body_shapes_are_accepted(server_project):
    one = event("e-one", "custom", {"n": 1})
    assert server_project.post(one).json()["stats"]["processed"] == 1
    assert server_project.post([event("e-two", "custom", {})]).json()["stats"]["processed"] == 1
    assert server_project.post({"events": [event("e-three", "custom", {})]}).json()["stats"]["processed"] == 1
    assert count(server_project.engine, Event) == 3


def test_duplicates_within_and_across_requests_are_skipped(server_project):
    vote = event("dup-1", "vote_cast", {"turn_id": "t1", "value": 1})
    reply = server_project.post([vote, vote, event("dup-2", "custom", {})]).json()
    assert reply["stats"] == {"processed": 2, "skipped": 1, "errors": 0, "total": 3}
    again = server_project.post([vote, event("dup-2", "custom", {}), event("dup-3", "custom", {})]).json()
    assert again["stats"] == {"processed": 1, "skipped": 2, "errors": 0, "total": 3}
    assert count(server_project.engine, Event) == 3
    assert count(server_project.engine, Vote) == 1


def test_a_repeated_vote_event_does_not_undo_a_later_change(server_project):
    first = event("v-1", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=T0 + 1000)
    server_project.post(
        [first, event("v-2", "vote_cast", {"turn_id": "t1", "value": -1}, timestamp=T0 + 2000)]
    )
    server_project.post([first])  # a client re-sending an old batch
    [vote] = rows(server_project.engine, Vote)
    assert vote.value == -1


def test_turn_events_in_either_order_and_separate_requests_make_one_turn(server_project):
    started = event(
        "s1",
        "turn_started",
        {
            "turnId": "t9",
            "startedAt": T0 + 5000,
            "model": "gpt-4o",
            "systemPromptVersion": "v3",
            "conversationId": "c9",
        },
        timestamp=T0 + 5000,
        promptText="hello?",
    )
    completed = event(
        "c1",
        "turn_completed",
        {"turn_id": "t9", "status": "success", "responseTime": 1.5},
        timestamp=T0 + 6500,
        aiResponse="hi",
    )
    assert server_project.post([completed]).json()["stats"]["processed"] == 1
    [pending] = rows(server_project.engine, Turn)
    assert (pending.status, pending.model, pending.response) == ("ok", "unknown", "hi")
    server_project.post([started])
    [turn] = rows(server_project.engine, Turn)
    assert (turn.status, turn.model, turn.prompt_version, turn.conversation_id) == (
        "ok",
        "gpt-4o",
        "v3",
        "c9",
    )
    assert (turn.prompt_text, turn.response, turn.latency_ms, turn.created_ms) == (
        "hello?",
        "hi",
        1500.0,
        T0 + 5000,
    )


def test_started_only_turn_is_pending(server_project):
    server_project.post([event("s1", "turn_started", {"turnId": "t1", "modelUsed": "m"})])
    [turn] = rows(server_project.engine, Turn)
    assert (turn.status, turn.model) == ("pending", "m")


def test_vote_before_its_turn_is_kept_and_labelled_when_the_turn_arrives(server_project):
    server_project.post([event("v1", "vote_cast", {"turn_id": "t5", "value": -1, "comment": "wrong"})])
    [vote] = rows(server_project.engine, Vote)
    assert (vote.value, vote.model) == (-1, None)
    server_project.post(
        [
            event("s5", "turn_started", {"turnId": "t5", "model": "gpt-4o", "systemPromptVersion": "v2"}),
            event("c5", "turn_completed", {"turnId": "t5", "responseTime": 0.2}),
        ]
    )
    [vote] = rows(server_project.engine, Vote)
    assert (vote.model, vote.prompt_version, vote.comment) == ("gpt-4o", "v2", "wrong")
    figures = compute_stats(
        server_project.engine, VoteFilter(project_id=server_project.project_id, model="gpt-4o")
    )
    assert (figures.total_votes, figures.negative_votes) == (1, 1)


def test_vote_after_its_turn_gets_the_model_at_once(server_project):
    server_project.post([event("s5", "turn_started", {"turnId": "t5", "model": "gpt-4o"})])
    server_project.post([event("v1", "vote_cast", {"turn_id": "t5", "value": 1})])
    [vote] = rows(server_project.engine, Vote)
    assert vote.model == "gpt-4o"


def test_vote_cleared_removes_the_vote_and_a_later_vote_counts_again(server_project):
    server_project.post([event("v1", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=T0 + 1000)])
    server_project.post([event("x1", "vote_cleared", {"turn_id": "t1"}, timestamp=T0 + 2000)])
    assert count(server_project.engine, Vote) == 0
    batch = [
        event("v2", "vote_cast", {"turn_id": "t1", "value": -1}, timestamp=T0 + 3000),
        event("x2", "vote_cleared", {"turn_id": "t1"}, timestamp=T0 + 4000),
        event("v3", "vote_cast", {"turn_id": "t1", "value": 1, "comment": "ok now"}, timestamp=T0 + 5000),
    ]
    server_project.post(batch)
    [vote] = rows(server_project.engine, Vote)
    assert (vote.value, vote.comment) == (1, "ok now")


def test_conversation_end_before_start_keeps_both(server_project):
    ended = event(
        "e1", "conversation_ended", {"conversation_id": "c1", "status": "abandoned", "ended_at": T0 + 9000}
    )
    started = event(
        "s1", "conversation_started", {"conversationId": "c1", "started_at": T0 + 1000, "title": "Hi"}
    )
    server_project.post([ended])
    server_project.post([started])
    [conversation] = rows(server_project.engine, Conversation)
    assert (conversation.status, conversation.created_ms, conversation.ended_ms, conversation.title) == (
        "abandoned",
        T0 + 1000,
        T0 + 9000,
        "Hi",
    )


def test_a_conversations_turns_move_its_updated_time_on_and_title_it(server_project):
    started = event("s1", "conversation_started", {"conversation_id": "c1", "started_at": T0}, timestamp=T0)
    turn = {"turnId": "t1", "conversation_id": "c1", "model": "gpt-4o"}
    asked = event("t1a", "turn_started", turn, timestamp=T0 + 1000, promptText="Where is Lyon?\nThanks")
    answered = event("t1b", "turn_completed", {**turn, "responseTime": 0.5}, timestamp=T0 + 2000)
    server_project.post([started])
    server_project.post([answered, asked])
    [conversation] = rows(server_project.engine, Conversation)
    assert (conversation.title, conversation.created_ms, conversation.updated_ms) == (
        "Where is Lyon? Thanks",
        T0,
        T0 + 2000,
    )
    late = event("t0", "turn_completed", {**turn, "turnId": "t0", "responseTime": 0.1}, timestamp=T0 + 500)
    second = {"turnId": "t2", "conversation_id": "c1"}
    asked_again = event("t2a", "turn_started", second, timestamp=T0 + 3000, promptText="Other")
    server_project.post([late, asked_again])
    [conversation] = rows(server_project.engine, Conversation)
    assert (conversation.title, conversation.updated_ms) == ("Where is Lyon? Thanks", T0 + 3000)


def test_unknown_event_types_are_stored_as_events_only(server_project):
    reply = server_project.post([event("u1", "my_app_signal", {"turnId": "t1", "x": [1, 2]})]).json()
    assert reply["stats"]["processed"] == 1
    [stored] = rows(server_project.engine, Event)
    assert (stored.event_type, stored.properties) == ("my_app_signal", {"turnId": "t1", "x": [1, 2]})
    assert count(server_project.engine, Turn) == 0


INVALID_EVENTS = [
    ({"eventType": "custom", "timestamp": 1, "userId": "a", "properties": {}}, "eventId"),
    (event("b1", "custom", {}, timestamp="yesterday"), "timestamp"),
    (event("b1", "custom", {}, timestamp=1.5), "timestamp"),
    (event("b1", "custom", {}, timestamp=-1), "timestamp"),
    (
        event("b1", "custom", {}, timestamp=1_700_000_000),
        "timestamp: Input should be greater than or equal",
    ),
    (event("b1", "custom", "not an object"), "properties"),
    (event("b1", "", {}), "eventType"),
    (event("b1", "custom", {}, userId=""), "userId"),
    (event("b1", "custom", {}, userId=7), "userId"),
    (event("b1", "custom", {}, promptText=["x"]), "promptText"),
    (event("b1", "vote_cast", {"turn_id": "t", "value": 2}), "value must be exactly 1 or -1"),
    (event("b1", "vote_cast", {"turn_id": "t", "value": True}), "value must be exactly 1 or -1"),
    (event("b1", "vote_cast", {"value": 1}), "turnId is required"),
    (event("b1", "vote_cast", {"turn_id": "t", "value": 1, "comment": 5}), "comment must be text"),
    (event("b1", "turn_started", {}), "turnId is required"),
    (event("b1", "turn_completed", {"turnId": "t", "responseTime": "fast"}), "responseTime"),
    (event("b1", "turn_started", {"turnId": "t", "model": "m" * 201}), "model is longer"),
    (event("b1", "turn_completed", {"turnId": "t", "prompt_tokens": -3}), "prompt_tokens"),
    (event("b1", "conversation_started", {}), "conversation_id is required"),
    (event("b1", "conversation_ended", {"conversation_id": "c", "status": 3}), "status"),
    (event("b1", "custom", {}, promptText="nul\x00byte"), "NUL"),
    (event("b" * 201, "custom", {}), "eventId"),
    ("just a string", "valid dictionary"),
]


def test_invalid_events_are_reported_one_by_one_and_valid_ones_kept(server_project):
    for number, (bad, fragment) in enumerate(INVALID_EVENTS):
        good = event(f"good-{number}", "vote_cast", {"turn_id": f"t{number}", "value": 1})
        reply = server_project.post([good, bad, event(f"fine-{number}", "custom", {})])
        assert reply.status_code == 200
        body = reply.json()
        assert body["stats"] == {"processed": 2, "skipped": 0, "errors": 1, "total": 3}, bad
        [error] = body["errors"]
        assert error["index"] == 1
        assert fragment in error["message"], (bad, error)
        assert count(server_project.engine, Event) == 2 * (number + 1)
        assert count(server_project.engine, Vote) == number + 1


def test_one_megabyte_comment_is_refused_with_a_clear_error_and_nothing_cut(server_project):
    huge = event("big", "vote_cast", {"turn_id": "t1", "value": 1, "comment": "x" * 1_000_000})
    reply = server_project.post([huge, event("ok", "custom", {"note": "y" * 1_000_000})])
    assert reply.status_code == 200
    [error] = reply.json()["errors"]
    assert error["eventId"] == "big" and "1,000,000 characters; the limit is 10,000" in error["message"]
    [stored] = rows(server_project.engine, Event)
    assert len(stored.properties["note"]) == 1_000_000
    assert count(server_project.engine, Vote) == 0


def test_unpaired_surrogate_escape_is_an_event_error_not_a_crash(server_project):
    raw = (
        b'[{"eventId":"s","eventType":"custom","timestamp":1790000000000,"userId":"a","properties":{"x":"\\ud800"}},'
        + json.dumps(event("fine", "custom", {"emoji": "\U0001f44d"}), ensure_ascii=True).encode()
        + b"]"
    )
    reply = server_project.client.post("/api/events", content=raw, headers=server_project.headers())
    assert reply.status_code == 200
    assert reply.json()["stats"] == {"processed": 1, "skipped": 0, "errors": 1, "total": 2}
    [stored] = rows(server_project.engine, Event)
    assert stored.properties == {"emoji": "\U0001f44d"}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"42", "body must be an array"),
        (b'{"events": {"a": 1}}', '"events" must be an array'),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'[{"eventId": "n", "properties": {"x": NaN}}]', "NaN is not a JSON value"),
        (b'{"eventId": "n", "timestamp": -Infinity}', "-Infinity is not a JSON value"),
    ],
)
def test_malformed_bodies_get_400_with_a_clear_error(server_project, raw, fragment):
    reply = server_project.client.post("/api/events", content=raw, headers=server_project.headers())
    assert reply.status_code == 400
    assert fragment in reply.json()["error"]
    assert count(server_project.engine, Event) == 0


def test_more_than_1000_events_is_refused_with_413(server_project):
    batch = [event(f"e{i}", "custom", {}) for i in range(1001)]
    reply = server_project.post({"events": batch})
    assert reply.status_code == 413
    assert reply.json() == {"error": "a request may carry at most 1,000 events, this one has 1,001"}
    assert count(server_project.engine, Event) == 0
    assert server_project.post(batch[:1000]).json()["stats"]["processed"] == 1000


def test_body_over_the_size_limit_is_refused_with_413(postgres_url):
    app = create_app(load_settings(database_url=postgres_url, rate_limit=0, max_body_bytes=2048))
    headers = {"Authorization": f"Bearer {create_key(app.state.engine, project='alpha').key}"}
    with TestClient(app) as client:
        reply = client.post("/api/events", json=[event("e", "custom", {"pad": "x" * 4000})], headers=headers)
    assert reply.status_code == 413
    assert "the limit is 2,048" in reply.json()["error"]
    assert count(app.state.engine, Event) == 0


def test_projects_are_isolated(server_project):
    other = create_key(server_project.engine, project="beta")
    shared = event("same-id", "vote_cast", {"turn_id": "t1", "value": 1})
    assert server_project.post([shared]).json()["stats"]["processed"] == 1
    # the same eventId in another project is a different event
    assert (
        server_project.post([dict(shared, properties={"turn_id": "t1", "value": -1})], key=other.key).json()[
            "stats"
        ]["processed"]
        == 1
    )
    mine = server_project.client.get("/api/stats", headers=server_project.headers()).json()
    theirs = server_project.client.get("/api/stats", headers=server_project.headers(other.key)).json()
    assert (mine["positive_votes"], mine["negative_votes"]) == (1, 0)
    assert (theirs["positive_votes"], theirs["negative_votes"]) == (0, 1)
    listed = server_project.client.get("/api/events", headers=server_project.headers(other.key)).json()
    assert [e["properties"]["value"] for e in listed["events"]] == [-1]
    # a turn of one project is invisible to the other, even by its id
    turn = event("turn-a", "turn_started", {"turnId": "only-alpha", "model": "gpt-4o"})
    assert server_project.post([turn]).json()["stats"]["processed"] == 1
    stranger = server_project.client.get(
        "/api/stats/prompts/only-alpha", headers=server_project.headers(other.key)
    )
    assert stranger.status_code == 404
    assert (
        server_project.client.get(
            "/api/stats/prompts/only-alpha", headers=server_project.headers()
        ).status_code
        == 200
    )
    overview = server_project.client.get("/api/overview", headers=server_project.headers(other.key)).json()
    assert (overview["events"], overview["turns"], overview["votes"]) == (1, 0, 1)
    # clearing a vote in one project leaves the other's vote alone
    clear = event("clear-1", "vote_cleared", {"turn_id": "t1"}, timestamp=T0 + 10_000)
    assert server_project.post([clear], key=other.key).json()["stats"]["processed"] == 1
    [kept] = [vote for vote in rows(server_project.engine, Vote)]
    assert (kept.project_id, kept.value) == (server_project.project_id, 1)


def test_a_server_on_sqlite_maps_events_the_same_way(sqlite_url):
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0))
    key = create_key(app.state.engine, project="trial").key
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key}"}
        first = client.post("/api/events", json={"events": EXAMPLES}, headers=headers).json()
        again = client.post("/api/events", json=EXAMPLES[:3], headers=headers).json()
    assert first["stats"] == {"processed": 10, "skipped": 0, "errors": 0, "total": 10}
    assert again["stats"] == {"processed": 0, "skipped": 3, "errors": 0, "total": 3}
    engine = app.state.engine
    assert count(engine, Event) == 10
    turns = {t.prompt_id: (t.status, t.response, t.latency_ms) for t in rows(engine, Turn)}
    assert turns == {
        TURN_ID: ("ok", "4", pytest.approx(1.0)),
        "turn_1795464938986_qyrf": ("error", None, 0.0),
    }
    [vote] = rows(engine, Vote)
    assert (vote.prompt_id, vote.value, vote.comment) == (TURN_ID, 1, "correct")
    [conversation] = rows(engine, Conversation)
    assert (conversation.status, conversation.ended_ms) == ("completed", 1795464939055)
