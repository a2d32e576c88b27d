"""One data_version, meaning "anything the analytics show changed": votes cast, changed and cleared,
new turns, a turn's outcome arriving later, deleted conversations; locally and through the server route.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from bilan_core.analytics.data_version import data_version
from bilan_core.client.local import LocalBackend
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.remote.wire_events import VOTE_CAST, make_event, turn_events
from bilan_core.store.forget import forget_user
from bilan_core.store.models import Turn, turn_fields_of
from bilan_core.store.retention import prune
from bilan_core.store.rollup_rebuild import rebuild_rollups
from bilan_core.store.votes import cast_vote, upsert_votes, vote_row
from tests.fixtures.bilan_server import ServerProject


def conversation_with_a_vote(local: LocalBackend, conversation_id: str, at_ms: int) -> None:
    local.start_conversation(user_id="alice", title=None, team_session=None, conversation_id=conversation_id)
    turn = Turn(
        prompt_id=f"{conversation_id}-turn",
        conversation_id=conversation_id,
        user_id="alice",
        model="gpt-4o",
        prompt_text="Hello",
        created_ms=at_ms,
    )
    local.record_turn(turn_fields_of(turn))
    cast_vote(local.engine, prompt_id=turn.prompt_id, user_id="bob", value=1, at_ms=at_ms)


def test_every_change_the_analytics_show_changes_it_locally(engine: Engine) -> None:
    local = LocalBackend(engine)
    moment = now_ms()
    versions = [local.data_version()]
    conversation_with_a_vote(local, "first", moment)
    versions.append(local.data_version())
    conversation_with_a_vote(local, "second", moment)
    versions.append(local.data_version())
    cast_vote(engine, prompt_id="first-turn", user_id="bob", value=-1, at_ms=moment + 1)
    versions.append(local.data_version())
    local.clear_vote(prompt_id="first-turn", user_id="bob")
    versions.append(local.data_version())
    local.delete_conversation(conversation_id="second", user_id="alice")
    versions.append(local.data_version())
    assert all(before != after for before, after in itertools.pairwise(versions))
    assert local.data_version() == versions[-1]  # reading it changes nothing
    assert data_version(engine) == versions[-1]


def test_deleting_a_conversation_without_votes_changes_it(engine: Engine) -> None:
    local = LocalBackend(engine)
    local.start_conversation(user_id="alice", title=None, team_session=None, conversation_id="quiet")
    turn = Turn(prompt_id="q", conversation_id="quiet", user_id="alice", model="m")
    local.record_turn(turn_fields_of(turn))
    before = local.data_version()
    local.delete_conversation(conversation_id="quiet", user_id="alice")
    assert local.data_version() != before


def test_pruning_forgetting_and_rebuilding_change_it_and_a_no_op_does_not(engine: Engine) -> None:
    local = LocalBackend(engine)
    moment = now_ms()
    conversation_with_a_vote(local, "old", moment - 40 * MS_PER_DAY)
    conversation_with_a_vote(local, "new", moment)
    before = data_version(engine)
    prune(engine, days=30, dry_run=True)
    assert data_version(engine) == before, "a dry run changed nothing"
    prune(engine, days=30)
    pruned = data_version(engine)
    assert pruned != before
    prune(engine, days=30)
    assert data_version(engine) == pruned, "a prune that deleted nothing changed nothing"
    forget_user(engine, user_id="bob")
    forgot = data_version(engine)
    assert forgot != pruned
    with engine.begin() as connection:
        rebuild_rollups(connection)
    assert data_version(engine) != forgot


def test_a_write_that_rolls_back_leaves_it(engine: Engine) -> None:
    local = LocalBackend(engine)
    conversation_with_a_vote(local, "kept", now_ms())
    before = data_version(engine)
    with pytest.raises(ValueError, match="already exists"):
        local.start_conversation(user_id="alice", title=None, team_session=None, conversation_id="kept")
    with pytest.raises(RuntimeError, match="undone"), engine.begin() as connection:
        cast_vote_in(connection)
        raise RuntimeError("undone")
    assert data_version(engine) == before
    with engine.begin() as connection:  # the rolled-back write's mark must not stay on the pooled connection
        connection.execute(text("SELECT 1"))
    assert data_version(engine) == before


def cast_vote_in(connection: Connection) -> None:
    row = vote_row(0, prompt_id="kept-turn", user_id="zoe", value=1, comment=None, team_session=None, at_ms=1)
    upsert_votes(connection, 0, [row])


def test_another_projects_data_does_not_change_it(engine: Engine) -> None:
    before = data_version(engine, project_id=5)
    conversation_with_a_vote(LocalBackend(engine), "local", now_ms())
    assert data_version(engine, project_id=5) == before


@pytest.mark.postgres
def test_the_server_route_changes_with_a_vote_a_late_outcome_and_a_delete(
    server_project: ServerProject,
) -> None:
    http, headers = server_project.client, server_project.headers()

    def version() -> list[int]:
        reply = http.get("/api/analytics/data-version", headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def send(events: list[dict[str, Any]]) -> None:
        assert server_project.post({"events": events}).json()["stats"]["errors"] == 0

    moment = now_ms()
    started = {"conversation_id": "c1", "started_at": moment}
    turn = Turn(prompt_id="t1", conversation_id="c1", user_id="alice", model="gpt-4o", created_ms=moment)
    turn_started, turn_completed = turn_events(turn)
    vote = {"turn_id": "t1", "value": 1}
    versions = [version()]
    send([make_event("conversation_started", user_id="alice", properties=started, timestamp_ms=moment)])
    versions.append(version())
    send([turn_started])
    versions.append(version())
    send([turn_completed])  # the outcome changes a stored turn
    versions.append(version())
    send([make_event(VOTE_CAST, user_id="bob", properties=vote, timestamp_ms=moment + 1)])
    versions.append(version())
    send([make_event(VOTE_CAST, user_id="bob", properties={**vote, "value": -1}, timestamp_ms=moment + 2)])
    versions.append(version())
    gone = http.delete("/api/conversations/c1", params={"user_id": "alice"}, headers=headers)
    assert gone.status_code == 200, gone.text
    versions.append(version())
    assert all(before != after for before, after in itertools.pairwise(versions))
    local_meaning = data_version(server_project.engine, project_id=server_project.project_id)
    assert version() == list(local_meaning)
