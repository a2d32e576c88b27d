"""vote(), clear_vote() and their bad inputs, on real SQLite files."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, case, func, select

from bilan_core import Bilan, UnknownPromptError, load_settings
from bilan_core.store.models import Vote
from bilan_core.store.votes import MAX_COMMENT_LENGTH
from tests.helpers import add_turn, exit_codes_of_processes


def stored_votes(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Vote.prompt_id, Vote.user_id, Vote.value, Vote.comment).order_by(Vote.id)
        )
        return [tuple(row) for row in rows]


def test_a_vote_is_stored_with_a_stripped_comment_and_the_turns_model(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine, model="gpt-4o", prompt_version="v2")
    bilan.vote(prompt_id, 1, "  Great response!\n")
    with bilan.engine.connect() as connection:
        vote = connection.execute(select(Vote)).one()
    assert (vote.value, vote.comment, vote.user_id) == (1, "Great response!", "alice")
    assert (vote.model, vote.prompt_version) == ("gpt-4o", "v2")


def test_voting_again_replaces_the_users_vote_and_clearing_removes_it(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine)
    bilan.vote(prompt_id, 1, "good")
    bilan.vote(prompt_id, -1, "on second thought, wrong")
    bilan.vote(prompt_id, 1, user_id="bob")
    assert stored_votes(bilan.engine) == [
        (prompt_id, "alice", -1, "on second thought, wrong"),
        (prompt_id, "bob", 1, None),
    ]
    assert bilan.clear_vote(prompt_id) is True
    assert bilan.clear_vote(prompt_id) is False
    assert stored_votes(bilan.engine) == [(prompt_id, "bob", 1, None)]


@pytest.mark.parametrize("value", [True, False, 0, 2, -2, "up", None, 1.0, "1"])
def test_a_vote_value_other_than_exactly_one_or_minus_one_is_refused(bilan: Bilan, value: object) -> None:
    prompt_id = add_turn(bilan.engine)
    bilan.vote(prompt_id, 1, "kept")
    with pytest.raises(ValueError, match=r"exactly 1 \(👍\) or -1 \(👎\)"):
        bilan.vote(prompt_id, value)  # type: ignore[arg-type]
    assert stored_votes(bilan.engine) == [(prompt_id, "alice", 1, "kept")]


def test_a_comment_over_ten_thousand_characters_is_refused_never_cut(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine)
    bilan.vote(prompt_id, 1, "kept")
    with pytest.raises(ValueError, match="10,001 characters; the limit is 10,000"):
        bilan.vote(prompt_id, -1, "x" * (MAX_COMMENT_LENGTH + 1))
    bilan.vote(prompt_id, -1, " " + "y" * MAX_COMMENT_LENGTH + " ")
    assert stored_votes(bilan.engine) == [(prompt_id, "alice", -1, "y" * MAX_COMMENT_LENGTH)]


def test_a_comment_that_is_not_text_is_refused(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine)
    with pytest.raises(ValueError, match="comment must be text, got int"):
        bilan.vote(prompt_id, 1, 42)  # type: ignore[arg-type]
    assert stored_votes(bilan.engine) == []


def test_an_empty_comment_is_stored_as_none(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine)
    bilan.vote(prompt_id, 1, "   ")
    assert stored_votes(bilan.engine) == [(prompt_id, "alice", 1, None)]


def test_an_unknown_prompt_id_is_a_clear_error_and_stores_nothing(bilan: Bilan) -> None:
    add_turn(bilan.engine)
    with pytest.raises(UnknownPromptError, match="no turn has prompt id 'missing'"):
        bilan.vote("missing", 1)
    with pytest.raises(ValueError, match="prompt_id must be a non-empty string"):
        bilan.vote("", 1)
    assert stored_votes(bilan.engine) == []


def _vote_from_another_process(database_url: str, user_id: str, prompt_ids: list[str]) -> None:
    client = Bilan(load_settings(database_url=database_url, user_id=user_id))
    for prompt_id in prompt_ids:
        client.vote(prompt_id, 1)
    for prompt_id in prompt_ids[:50]:
        client.vote(prompt_id, -1, "changed my mind")


def test_eight_processes_voting_into_one_file_store_every_vote_exactly_once(sqlite_url: str) -> None:
    owner = Bilan(load_settings(database_url=sqlite_url))
    prompt_ids = [add_turn(owner.engine) for _ in range(500)]
    voters = [(sqlite_url, f"user-{n}", prompt_ids) for n in range(8)]
    assert exit_codes_of_processes(_vote_from_another_process, voters) == [0] * 8
    with owner.engine.connect() as connection:
        total, distinct, negative = connection.execute(
            select(
                func.count(),
                func.count(func.distinct(Vote.user_id + ":" + Vote.prompt_id)),
                func.sum(case((Vote.value < 0, 1), else_=0)),
            )
        ).one()
    assert (total, distinct, negative) == (4000, 4000, 400)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda client, pid: client.vote(pid, -1, user_id="  "), "user_id must be a non-empty string"),
        (lambda client, pid: client.vote(pid, -1, user_id=7), "user_id must be a non-empty string, got 7"),
        (lambda client, pid: client.vote("   ", -1), "prompt_id must be a non-empty string"),
        (lambda client, pid: client.clear_vote(None), "prompt_id must be a non-empty string, got None"),
        (lambda client, pid: client.clear_vote(pid, user_id=""), "user_id must be a non-empty string"),
        (lambda client, pid: client.vote(pid, -1, user_id="u" * 201), "user_id is 201 characters"),
    ],
)
def test_bad_prompt_or_user_ids_are_refused_and_the_stored_vote_is_kept(
    bilan: Bilan, call: Any, message: str
) -> None:
    prompt_id = add_turn(bilan.engine)
    bilan.vote(prompt_id, 1, "kept")
    with pytest.raises(ValueError, match=message):
        call(bilan, prompt_id)
    assert stored_votes(bilan.engine) == [(prompt_id, "alice", 1, "kept")]
