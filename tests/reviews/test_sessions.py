"""Review sessions' rules, each checked in local mode (SQLite, PostgreSQL) and server mode alike."""

from __future__ import annotations

import pytest

from bilan_core import (
    AnalyticsFilter,
    EmptyReviewSourceError,
    InvalidRatingError,
    NotFoundError,
    ReviewItemNotAssignedError,
    ReviewItemNotFoundError,
    ReviewSessionClosedError,
    ReviewSessionNotFoundError,
    UnknownPromptError,
)
from tests.reviews.review_support import answered_experiment, record_turns


def rate_everything(session, rater: str, vote: int = 1) -> list[int]:
    """Let ``rater`` take and rate items until none is left; the item ids in order."""
    rated = []
    while (view := session.next_item(rater)) is not None:
        session.rate(view.item_id, rater, vote=vote)
        rated.append(view.item_id)
    return rated


def test_a_rating_is_the_raters_vote_and_rating_again_replaces_it(facilitator) -> None:
    prompt_ids = record_turns(facilitator, 3)
    session = facilitator.create_review_session(
        "friday review", prompt_ids=prompt_ids, criteria=["accuracy", "tone"], raters_per_item=2
    )
    assert (session.status, session.item_count, session.criteria) == ("open", 3, ("accuracy", "tone"))
    session.join("ann")

    first = session.next_item("ann")
    assert (first.position, first.prompt, first.answer, first.rated_by_you) == (
        1,
        "question 0",
        "answer 0",
        0,
    )
    assert first.total_for_you == 3 and first.rating is None
    assert session.next_item("ann").item_id == first.item_id, "a reload must not take a second item"
    session.rate(first.item_id, "ann", vote=1, scores={"accuracy": 4}, comment="clear")
    assert facilitator.get_stats(team_session="friday review").positive_votes == 1

    again = session.rate(
        first.item_id, "ann", vote=-1, scores={"accuracy": 2, "tone": 5}, comment="wrong year"
    )
    stats = facilitator.get_stats(team_session="friday review")
    assert (stats.total_votes, stats.negative_votes, again.complete) == (1, 1, True)
    ratings = session.ratings()
    assert ratings[["rater", "vote", "accuracy", "tone", "comment"]].values.tolist() == [
        ["ann", -1, 2, 5, "wrong year"]
    ]
    assert ratings.loc[0, "prompt_id"] == prompt_ids[0] and ratings.loc[0, "model"] == "m-one"

    second = session.next_item("ann")
    assert (second.position, second.previous_item_id, second.rated_by_you) == (2, first.item_id, 1)
    back = session.item(second.previous_item_id, "ann")
    assert (back.rating.vote, back.rating.scores, back.next_item_id) == (
        -1,
        {"accuracy": 2, "tone": 5},
        second.item_id,
    )
    assert [one.model_dump() for one in session.progress()] == [
        {"rater": "ann", "rated": 1, "skipped": 0, "drafts": 0, "remaining": 2}
    ]


def test_every_item_reaches_k_raters_before_any_gets_more_and_nobody_gets_one_twice(facilitator) -> None:
    session = facilitator.create_review_session(
        "k", prompt_ids=record_turns(facilitator, 3), raters_per_item=2
    )
    ann, bob = session.next_item("ann"), session.next_item("bob")
    assert ann.item_id != bob.item_id, "the least-covered item goes first"
    assert sorted(rate_everything(session, "ann")) == sorted(rate_everything(session, "bob"))
    assert session.next_item("cid") is None, "every item is at k"
    items = session.items()
    assert items["ratings"].tolist() == [2, 2, 2]
    ratings = session.ratings()
    assert not ratings.duplicated(["item_id", "rater"]).any() and len(ratings) == 6


def test_a_skipped_item_goes_to_someone_else_and_never_back(facilitator) -> None:
    session = facilitator.create_review_session(
        "skips", prompt_ids=record_turns(facilitator, 2), raters_per_item=1
    )
    first = session.next_item("ann")
    session.skip(first.item_id, "ann")
    assert session.next_item("bob").item_id == first.item_id
    assert session.next_item("ann").item_id != first.item_id
    assert {one.rater: one.skipped for one in session.progress()} == {"ann": 1, "bob": 0}


def test_a_comment_alone_is_a_draft_kept_but_not_counted(facilitator) -> None:
    session = facilitator.create_review_session("drafts", prompt_ids=record_turns(facilitator, 1))
    view = session.next_item("ann")
    draft = session.rate(view.item_id, "ann", comment="half a thought")
    assert not draft.complete
    assert session.item(view.item_id, "ann").rating.comment == "half a thought"
    assert session.ratings().empty and facilitator.get_stats(team_session="drafts").total_votes == 0
    assert session.progress()[0].drafts == 1
    assert session.next_item("ann").item_id == view.item_id, "the draft's item is still the rater's"
    assert session.rate(view.item_id, "ann", vote=1, comment="half a thought, then sure").complete
    assert session.next_item("ann") is None and len(session.ratings()) == 1


def test_a_blind_session_hides_the_model_until_it_closes(facilitator) -> None:
    session = facilitator.create_review_session("blind", prompt_ids=record_turns(facilitator, 2))
    view = session.next_item("ann")
    assert (view.model, view.prompt_version, view.revealed) == (None, None, False)
    open_session = facilitator.create_review_session(
        "open", prompt_ids=record_turns(facilitator, 1), blind=False
    )
    assert open_session.next_item("ann").model == "m-one"

    session.close()
    assert session.status == "closed" == facilitator.get_review_session(session.id).status
    shown = session.item(view.item_id, "ann")
    assert (shown.model, shown.prompt_version, shown.revealed) == ("m-one", "v1", True)
    with pytest.raises(ReviewSessionClosedError):
        session.rate(view.item_id, "ann", vote=1)
    with pytest.raises(ReviewSessionClosedError):
        session.join("bob")
    assert session.next_item("ann") is None and session.ratings().empty


def test_bad_input_is_refused_with_a_typed_error_and_stores_nothing(facilitator) -> None:
    prompt_ids = record_turns(facilitator, 2)
    session = facilitator.create_review_session("rubric", prompt_ids=prompt_ids, criteria=["accuracy"])
    view = session.next_item("ann")
    refused = [
        ({"vote": 1, "scores": {"accuracy": 6}}, InvalidRatingError, "from 1 to 5"),
        ({"vote": 1, "scores": {"accuracy": 0}}, InvalidRatingError, "from 1 to 5"),
        ({"vote": 1, "scores": {"accuracy": True}}, InvalidRatingError, "whole number"),
        ({"vote": 1, "scores": {"speed": 3}}, InvalidRatingError, "not a criterion"),
        ({"winner": "a"}, InvalidRatingError, "single answers"),
        ({"vote": 2}, InvalidRatingError, "exactly 1"),
        ({"vote": 1, "comment": "x" * 10_001}, InvalidRatingError, "limit"),
        ({}, InvalidRatingError, "needs a vote"),
    ]
    for rating, error, message in refused:
        with pytest.raises(error, match=message):
            session.rate(view.item_id, "ann", **rating)
    other = next(item for item in session.items()["item_id"] if item != view.item_id)
    with pytest.raises(ReviewItemNotAssignedError):
        session.rate(int(other), "ann", vote=1)
    with pytest.raises(ReviewItemNotFoundError):
        session.rate(999_999, "ann", vote=1)
    with pytest.raises(ReviewSessionNotFoundError):
        facilitator.get_review_session("no-such-session")
    assert session.ratings().empty and facilitator.get_stats().total_votes == 0
    assert session.item(view.item_id, "ann").rating is None

    made = len(facilitator.list_review_sessions())
    with pytest.raises(UnknownPromptError, match="1 prompt id"):
        facilitator.create_review_session("x", prompt_ids=[prompt_ids[0], "no-such-turn"])
    with pytest.raises(EmptyReviewSourceError):
        facilitator.create_review_session("x", filter=AnalyticsFilter(models=("no-such-model",)))
    with pytest.raises(NotFoundError):
        facilitator.create_review_session("x", run_id="no-such-run")
    for options in (
        {"criteria": ["accuracy", "accuracy"]},
        {"criteria": ["vote"]},
        {"raters_per_item": 0},
        {"raters_per_item": "2"},
        {"name": ""},
        {"pairwise": True},
        {"prompt_ids": prompt_ids, "run_id": "r"},
        {"prompt_ids": []},
    ):
        with pytest.raises(ValueError):
            facilitator.create_review_session(**{"name": "x", "prompt_ids": prompt_ids, **options})
    assert len(facilitator.list_review_sessions()) == made


def test_a_pairwise_session_compares_variants_and_its_verdicts_reach_the_leaderboard(facilitator) -> None:
    run_id = answered_experiment(facilitator, items=3)
    session = facilitator.create_review_session("a/b", run_id=run_id, pairwise=True, raters_per_item=1)
    assert session.pairwise and session.item_count == 3
    view = session.next_item("ann")
    assert view.answer_a and view.answer_b and view.variant is None
    with pytest.raises(InvalidRatingError, match="verdict"):
        session.rate(view.item_id, "ann", vote=1)
    with pytest.raises(InvalidRatingError, match="one of"):
        session.rate(view.item_id, "ann", winner="c")
    session.rate(view.item_id, "ann", winner="a", comment="A is shorter")
    session.rate(view.item_id, "ann", winner="tie")
    verdicts = facilitator.decided_comparisons(team_session="a/b")
    assert [(one.winner, {one.label_a, one.label_b}) for one in verdicts] == [("tie", {"short", "long"})]
    session.rate(view.item_id, "ann", comment="not sure any more")
    assert facilitator.decided_comparisons(team_session="a/b") == []

    single = facilitator.create_review_session("cells", run_id=run_id)
    assert single.item_count == 6
    assert sorted(single.items()["variant"].tolist()) == ["long"] * 3 + ["short"] * 3


def test_a_filter_source_keeps_feedback_and_samples_reproducibly(facilitator) -> None:
    prompt_ids = record_turns(facilitator, 8)
    facilitator.vote(prompt_ids[0], -1, user_id="zed")
    facilitator.vote(prompt_ids[1], 1, user_id="zed")
    picked = facilitator.create_review_session(
        "thumbs down or unrated", filter=AnalyticsFilter(models=("m-one",)), feedback=("down", "unrated")
    )
    expected = {prompt_ids[index] for index in (0, 2, 4, 6)} - {prompt_ids[1]}
    assert set(picked.items()["prompt_id"]) == expected
    first = facilitator.create_review_session("sample", filter=AnalyticsFilter(), sample=3, seed=7)
    second = facilitator.create_review_session("sample", filter=AnalyticsFilter(), sample=3, seed=7)
    assert first.items()["prompt_id"].tolist() == second.items()["prompt_id"].tolist()
    assert first.item_count == 3
