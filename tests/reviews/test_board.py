"""The facilitator's board figures (``ReviewSession.board()``), the same in local mode (SQLite, PostgreSQL)
and server mode."""

from __future__ import annotations

import pytest

from bilan_core.reviews.board import ReviewBoard, ratings_wanted_per_item
from bilan_core.store.review_models import ReviewSessionInfo
from tests.reviews.review_support import answered_experiment, record_turns


def take_and_rate(session, rater: str, votes: list[int], comments: list[str | None]) -> None:
    session.join(rater)
    for vote, comment in zip(votes, comments, strict=True):
        view = session.next_item(rater)
        session.rate(view.item_id, rater, vote=vote, comment=comment)


def test_an_empty_board_counts_what_is_wanted(facilitator) -> None:
    session = facilitator.create_review_session(
        "empty", prompt_ids=record_turns(facilitator, 4), raters_per_item=2, criteria=["tone"]
    )
    session.join("ann")
    board = session.board()
    assert isinstance(board, ReviewBoard) and board.session.status == "open"
    overall = board.overall
    assert (overall.items, overall.ratings, overall.raters, overall.wanted_ratings) == (4, 0, 1, 4)
    assert overall.done == 0.0 and board.results.empty and board.disputed.empty and board.comments.empty
    assert board.raters[["rater", "rated", "remaining", "done"]].values.tolist() == [["ann", 0, 4, 0.0]]
    assert not board.agreement.overall.judged


def test_the_board_follows_progress_results_disputes_and_comments(facilitator) -> None:
    session = facilitator.create_review_session(
        "friday", prompt_ids=record_turns(facilitator, 4), raters_per_item=2
    )
    take_and_rate(session, "ann", [1, 1, 1, 1], ["fine", None, "", "good"])
    take_and_rate(session, "bob", [-1, 1], ["wrong year", None])
    board = session.board()
    overall = board.overall
    assert (overall.ratings, overall.wanted_ratings) == (6, 8)
    assert (overall.rated_items, overall.covered_items) == (4, 2)
    assert overall.done == pytest.approx(6 / 8)
    raters = board.raters.set_index("rater")
    assert raters.loc["ann", "done"] == 1.0 and raters.loc["bob", "rated"] == 2
    assert raters.loc["bob", "remaining"] == 2 and raters.loc["bob", "done"] == pytest.approx(0.5)

    results = board.results.set_index("variant")
    assert results.loc["m-one", ["ratings", "positive"]].tolist() == [3, 2]
    assert results.loc["m-two", ["ratings", "positive"]].tolist() == [3, 3]
    low, high = results.loc["m-one", ["ci_low", "ci_high"]]
    assert 0 < low < 2 / 3 < high < 1, "trust comes with its Wilson interval"

    (disputed,) = board.disputed.itertuples()
    assert disputed.prompt == "question 0" and disputed.disagreement == 1.0
    said = board.disputed_comments[["rater", "rating", "comment"]].values.tolist()
    assert said == [["ann", "👍 up", "fine"], ["bob", "👎 down", "wrong year"]]
    assert board.comments["comment"].tolist() == ["wrong year", "good", "fine"], "newest first, no blanks"
    assert board.comments["rating"].tolist() == ["👎 down", "👍 up", "👍 up"]


def test_a_pairwise_board_ranks_the_variants_by_bradley_terry(facilitator) -> None:
    run_id = answered_experiment(facilitator, items=3)
    session = facilitator.create_review_session("pairs", run_id=run_id, pairwise=True, raters_per_item=1)
    session.join("ann")
    while (view := session.next_item("ann")) is not None:
        winner = "a" if view.position % 2 else "b"
        session.rate(view.item_id, "ann", winner=winner, comment="sides differ")
    board = session.board()
    assert board.leaderboard is not None and set(board.results["variant"]) == {"short", "long"}
    assert board.overall.ratings == 3 and board.comments["rating"].isin(["A better", "B better"]).all()


def test_the_ratings_wanted_per_item_never_exceed_the_raters() -> None:
    info = ReviewSessionInfo(
        id="s", name="n", status="open", pairwise=False, criteria=(), raters_per_item=3, blind=True,
        instructions=None, item_count=1, created_by="lead", created_ms=0,
    )  # fmt: skip
    assert ratings_wanted_per_item(info, 2) == 2 and ratings_wanted_per_item(info, 5) == 3
    assert ratings_wanted_per_item(info, 0) == 3, "before anyone joins, k per item is wanted"
    everyone = info.model_copy(update={"raters_per_item": None})
    assert ratings_wanted_per_item(everyone, 5) == 5
