"""Ingestion against real PostgreSQL: each bad event is refused on its own with a reason, the rest stored.

Old and far-future times, labels over an index's bytes, nesting past what reads can serve, a real NUL
(not the escaped text ``\\u0000``), numbers that are not finite, and empty optional texts from the SDK.
"""

from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import text, update

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.limits import MAX_JSON_DEPTH
from bilan_core.store.models import VOTES, Event, Turn
from bilan_core.store.rollup_rebuild import rebuild_rollups
from tests.server.test_ingest import count, event, rows

pytestmark = pytest.mark.postgres


def rare_characters(count: int, seed: int) -> str:
    """``count`` random 4-byte characters (CJK extension B): text PostgreSQL cannot compress in an index."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(count))


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def stored_ids(engine) -> set[str]:
    return {row.event_id for row in rows(engine, Event)}


def errors_by_id(reply) -> dict[str, str]:
    assert reply.status_code == 200, reply.text[:500]
    return {error["eventId"]: error["message"] for error in reply.json()["errors"]}


def test_a_vote_25_years_old_leaves_stats_and_analytics_readable(server_project):
    moment = now_ms()
    server_project.post(
        [
            event("t", "turn_started", {"turnId": "t1", "model": "m"}, timestamp=moment),
            event("v", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=moment),
        ]
    )
    with server_project.engine.begin() as connection:  # a row stored before the window existed
        connection.execute(update(VOTES).values(created_ms=moment - 9125 * MS_PER_DAY))
        rebuild_rollups(connection, server_project.project_id)  # as the migration to roll-ups did
    headers = server_project.headers()
    stats = server_project.client.get("/api/stats", headers=headers)
    assert stats.status_code == 200, stats.text
    assert stats.json()["total_votes"] == 1 and stats.json()["trust_score"] == 1.0
    assert server_project.client.post("/api/analytics/dashboard", json={}, headers=headers).status_code == 200
    assert server_project.client.get("/api/analytics/votes", headers=headers).status_code == 200


def test_times_outside_the_window_are_refused_one_by_one(server_project):
    moment = now_ms()
    batch = [
        event("future", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=253_402_300_799_999),
        event("ancient", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=moment - 7300 * MS_PER_DAY),
        event(
            "start", "turn_started", {"turnId": "t2", "startedAt": moment + 2 * MS_PER_DAY}, timestamp=moment
        ),
        event("ok", "vote_cast", {"turn_id": "t1", "value": -1}, timestamp=moment + 60_000),
    ]
    errors = errors_by_id(server_project.post(batch))
    assert set(errors) == {"future", "ancient", "start"}
    assert errors["future"] == "timestamp 9999-12-31 23:59 UTC is more than a day ahead of the server's clock"
    assert errors["ancient"].endswith("is more than 3,650 days old")
    assert errors["start"].startswith("properties.startedAt ") and "ahead" in errors["start"]
    assert stored_ids(server_project.engine) == {"ok"}
    clear = event("clear", "vote_cleared", {"turn_id": "t1"}, timestamp=moment + 120_000)
    assert server_project.post([clear]).json()["stats"]["processed"] == 1  # a later action still wins
    assert (
        server_project.client.get("/api/stats", headers=server_project.headers()).json()["total_votes"] == 0
    )


def test_labels_are_limited_in_bytes_so_every_index_row_fits(server_project):
    moment = now_ms()
    wide = [rare_characters(150, seed) for seed in range(4)]  # 600 bytes: the widest labels, 4 a row
    fits = {"turnId": "t1", "model": wide[0], "systemPromptVersion": wide[1], "team_session": wide[2]}
    wider = [rare_characters(200, seed) for seed in range(4)]  # 200 characters, but 800 bytes
    too_wide = {"turnId": "t2", "model": wider[0], "systemPromptVersion": wider[1], "team_session": wider[2]}
    batch = [
        event("fits", "turn_started", fits, timestamp=moment, userId=wide[3]),
        event("wide", "turn_started", too_wide, timestamp=moment, userId=wide[3]),
        event("wide-user", "custom", {}, timestamp=moment, userId=wider[3]),
        event("after", "turn_started", {"turnId": "t3", "model": "m"}, timestamp=moment),
    ]
    errors = errors_by_id(server_project.post(batch))
    assert errors["wide"].startswith("properties.model is 800 bytes in UTF-8; the limit is 600")
    assert "800 bytes" in errors["wide-user"] and set(errors) == {"wide", "wide-user"}
    assert {turn.prompt_id for turn in rows(server_project.engine, Turn)} == {"t1", "t3"}
    assert server_project.client.get("/api/stats", headers=server_project.headers()).status_code == 200


def test_what_is_written_nests_no_deeper_than_what_can_be_read(server_project):
    moment = now_ms()
    batch = [
        event("deepest", "custom", nested(MAX_JSON_DEPTH), timestamp=moment),
        event("deeper", "custom", nested(MAX_JSON_DEPTH + 1), timestamp=moment),
        event("deep-500", "custom", {"x": json.loads("[" * 500 + "]" * 500)}, timestamp=moment),
    ]
    errors = errors_by_id(server_project.post(batch))
    assert errors == {
        "deeper": f"properties nests deeper than {MAX_JSON_DEPTH} levels",
        "deep-500": f"properties nests deeper than {MAX_JSON_DEPTH} levels",
    }
    page = server_project.client.get("/api/events", headers=server_project.headers())
    assert page.status_code == 200
    assert page.json()["events"][0]["properties"] == nested(MAX_JSON_DEPTH)


def test_only_a_real_nul_is_refused_and_non_finite_numbers_fail_only_their_event(server_project):
    moment = now_ms()
    body = (
        "["
        + ",".join(
            [
                json.dumps(
                    event("escape", "turn_started", {"turnId": "t1"}, timestamp=moment)
                    | {"promptText": "what does \\u0000 mean in JSON?"}
                ),
                json.dumps(event("nul", "custom", {"note": "a\x00b"}, timestamp=moment)),
                json.dumps(event("nul-key", "custom", {"a\x00": 1}, timestamp=moment)),
                json.dumps(event("huge", "custom", {"x": 1}, timestamp=moment)).replace(
                    '"x": 1', '"x": 1e400'
                ),
                json.dumps(event("tiny", "custom", {"x": [1]}, timestamp=moment)).replace("[1]", "[-1e400]"),
                json.dumps(event("fine", "custom", {"x": 1e300}, timestamp=moment)),
            ]
        )
        + "]"
    )
    reply = server_project.client.post("/api/events", content=body.encode(), headers=server_project.headers())
    errors = errors_by_id(reply)
    assert set(errors) == {"nul", "nul-key", "huge", "tiny"}
    assert "NUL" in errors["nul"] and "NUL" in errors["nul-key"]
    assert (
        errors["huge"] == "properties holds the number inf, which is not finite (JSON numbers must be finite)"
    )
    assert stored_ids(server_project.engine) == {"escape", "fine"}
    [turn] = rows(server_project.engine, Turn)
    assert turn.prompt_text == "what does \\u0000 mean in JSON?"


def test_empty_optional_texts_from_the_sdk_are_not_given_so_a_failed_turn_is_settled(server_project):
    moment = now_ms()
    context = {"turnId": "t1", "model": "", "systemPromptVersion": "", "provider": "", "team_session": ""}
    batch = [
        event("s", "turn_started", context, timestamp=moment, promptText="hi"),
        event("f", "turn_failed", {**context, "errorType": "", "errorMessage": ""}, timestamp=moment + 5),
    ]
    assert errors_by_id(server_project.post(batch)) == {}
    [turn] = rows(server_project.engine, Turn)
    assert (turn.status, turn.error_type, turn.error_message, turn.prompt_version) == (
        "error",
        "unknown_error",
        None,
        None,
    )
    with server_project.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM turns WHERE status = 'pending'")).scalar() == 0
    assert count(server_project.engine, Event) == 2


def test_an_event_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_stored(server_project):
    with server_project.engine.begin() as connection:  # a rule of the database no validation knows
        connection.execute(text("ALTER TABLE turns ADD CONSTRAINT no_poison CHECK (model <> 'poison')"))
    moment = now_ms()
    batch = [
        event(
            f"e{i}",
            "turn_started",
            {"turnId": f"t{i}", "model": "poison" if i == 5 else "m"},
            timestamp=moment,
        )
        for i in range(12)
    ]
    batch.append(event("v", "vote_cast", {"turn_id": "t1", "value": 1}, timestamp=moment))
    reply = server_project.post(batch)
    errors = errors_by_id(reply)
    assert list(errors) == ["e5"]
    assert errors["e5"].startswith(
        'the database cannot store this event: new row for relation "turns" violates'
    )
    assert reply.json()["stats"] == {"processed": 12, "skipped": 0, "errors": 1, "total": 13}
    assert stored_ids(server_project.engine) == {f"e{i}" for i in range(12) if i != 5} | {"v"}
    assert len(rows(server_project.engine, Turn)) == 11
