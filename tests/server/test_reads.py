"""Server reads on real PostgreSQL: /api/events filters and paging, /api/stats, prompt stats, overview."""

from __future__ import annotations

import pytest

from bilan_core.analytics.stats import VoteFilter, compute_stats

pytestmark = pytest.mark.postgres
T0 = 1_790_000_000_000


def event(event_id, event_type, properties, *, timestamp, user="alice", **extra):
    return {
        "eventId": event_id,
        "eventType": event_type,
        "timestamp": timestamp,
        "userId": user,
        "properties": properties,
        **extra,
    }


@pytest.fixture
def loaded(server_project):
    batch = [
        event(
            "s1",
            "turn_started",
            {"turnId": "t1", "model": "gpt-4o"},
            timestamp=T0 + 1000,
            promptText="capital of France?",
        ),
        event(
            "c1",
            "turn_completed",
            {"turnId": "t1", "responseTime": 0.5},
            timestamp=T0 + 1500,
            aiResponse="Paris 100%",
        ),
        event(
            "s2", "turn_started", {"turnId": "t2", "model": "gpt-4o-mini"}, timestamp=T0 + 2000, user="bob"
        ),
        event("f2", "turn_failed", {"turnId": "t2", "errorType": "timeout"}, timestamp=T0 + 2600, user="bob"),
        event("v1", "vote_cast", {"turn_id": "t1", "value": 1, "comment": "right"}, timestamp=T0 + 3000),
        event("v2", "vote_cast", {"turn_id": "t1", "value": -1}, timestamp=T0 + 3100, user="bob"),
        event(
            "v3",
            "vote_cast",
            {"turn_id": "t2", "value": -1, "comment": "slow"},
            timestamp=T0 + 3200,
            user="bob",
        ),
        event("k1", "custom", {"note": "under_score"}, timestamp=T0 + 4000),
    ]
    assert server_project.post(batch).json()["stats"]["processed"] == 8
    return server_project


def get(project, path, **params):
    reply = project.client.get(path, params=params, headers=project.headers())
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_events_newest_first_with_paging(loaded):
    page = get(loaded, "/api/events", limit=3)
    assert [e["eventId"] for e in page["events"]] == ["k1", "v3", "v2"]
    assert page["next_offset"] == 3
    rest = get(loaded, "/api/events", limit=10, offset=3)
    assert [e["eventId"] for e in rest["events"]] == ["v1", "f2", "s2", "c1", "s1"]
    assert rest["next_offset"] is None


def test_events_filters(loaded):
    assert [e["eventId"] for e in get(loaded, "/api/events", since=T0 + 2000, until=T0 + 3100)["events"]] == [
        "v1",
        "f2",
        "s2",
    ]
    typed = get(loaded, "/api/events", event_type=["turn_failed", "custom"])
    assert [e["eventId"] for e in typed["events"]] == ["k1", "f2"]
    assert {e["userId"] for e in get(loaded, "/api/events", user_id="bob")["events"]} == {"bob"}
    assert [e["eventId"] for e in get(loaded, "/api/events", q="PARIS")["events"]] == ["c1"]
    # % and _ are searched literally
    assert [e["eventId"] for e in get(loaded, "/api/events", q="100%")["events"]] == ["c1"]
    assert [e["eventId"] for e in get(loaded, "/api/events", q="under_score")["events"]] == ["k1"]
    assert get(loaded, "/api/events", q="Pari_")["events"] == []  # "_" would match the "s" of Paris


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"since": -1}, {"offset": -5}, {"user_id": "a\x00b"}, {"q": "x" * 201}],
)
def test_bad_query_values_get_422(loaded, params):
    reply = loaded.client.get("/api/events", params=params, headers=loaded.headers())
    assert reply.status_code == 422


def test_stats_match_compute_stats_and_filters(loaded):
    served = get(loaded, "/api/stats")
    expected = compute_stats(loaded.engine, VoteFilter(project_id=loaded.project_id))
    assert served["total_votes"] == expected.total_votes == 3
    assert served["positive_votes"] == 1
    assert served["confidence_low"] == pytest.approx(expected.confidence_low)
    assert set(served) == set(expected.model_dump())
    assert get(loaded, "/api/stats", model="gpt-4o-mini")["total_votes"] == 1
    assert get(loaded, "/api/stats", user_id="alice")["positive_votes"] == 1
    assert get(loaded, "/api/stats", since=T0 + 3100)["total_votes"] == 2


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"prompt_name": "", "prompt_version": 1}, "prompt_name must be a non-empty string"),
        ({"model": "   "}, "model must be a non-empty string"),
        ({"prompt_version": 2}, "pass prompt_name= too"),
    ],
)
def test_stats_filters_get_stats_refuses_are_a_400_saying_why(loaded, params, problem):
    reply = loaded.client.get("/api/stats", params=params, headers=loaded.headers())
    assert reply.status_code == 400, reply.text
    assert problem in reply.json()["error"]


def test_prompt_stats_and_unknown_prompt(loaded):
    one = get(loaded, "/api/stats/prompts/t1")
    assert (one["model"], one["status"], one["total_votes"], one["positive_votes"]) == ("gpt-4o", "ok", 2, 1)
    missing = loaded.client.get("/api/stats/prompts/nope", headers=loaded.headers())
    assert missing.status_code == 404 and "no turn has prompt id 'nope'" in missing.json()["error"]


def test_overview_counts(loaded):
    assert get(loaded, "/api/overview") == {
        "events": 8,
        "users": 2,
        "turns": 2,
        "turns_ok": 1,
        "turns_error": 1,
        "turns_pending": 0,
        "votes": 3,
        "positive_votes": 1,
        "negative_votes": 2,
        "conversations": 0,
    }
    assert get(loaded, "/api/overview", since=T0 + 3050)["votes"] == 2
