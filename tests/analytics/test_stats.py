"""get_stats(): trust score, Wilson interval, trend and feedback against numbers worked out by hand."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from bilan_core import Bilan
from bilan_core.analytics.stats import VoteFilter, compute_stats
from bilan_core.analytics.trust import wilson_interval
from bilan_core.clock import MS_PER_DAY
from bilan_core.store.votes import cast_vote
from tests.helpers import add_turn

NOW = 1_790_000_000_000  # a fixed "now" in epoch ms


def vote_at(bilan: Bilan, *, days_ago: float, value: int, comment: str | None = None, **turn: object) -> str:
    prompt_id = add_turn(bilan.engine, **turn)
    cast_vote(
        bilan.engine,
        prompt_id=prompt_id,
        user_id="alice",
        value=value,
        comment=comment,
        at_ms=NOW - int(days_ago * MS_PER_DAY),
    )
    return prompt_id


def test_no_votes_means_no_score(bilan: Bilan) -> None:
    stats = bilan.get_stats()
    assert stats.trust_score is None and stats.positive_rate is None
    assert (stats.total_votes, stats.confidence_low, stats.recent_trend) == (0, None, "stable")
    assert stats.top_feedback == []


def test_trust_score_weights_votes_by_a_seven_day_half_life_with_a_floor(bilan: Bilan) -> None:
    # Weights by age: 0 d -> 1, 7 d -> 0.5, 14 d -> 0.25, 60 d -> 0.5**(60/7) = 0.0027 -> floor 0.01.
    vote_at(bilan, days_ago=0, value=1)
    vote_at(bilan, days_ago=7, value=-1)
    vote_at(bilan, days_ago=14, value=1)
    vote_at(bilan, days_ago=60, value=-1)
    stats = compute_stats(bilan.engine, VoteFilter(), at_ms=NOW)
    # (1 + 0.25) / (1 + 0.5 + 0.25 + 0.01) = 1.25 / 1.76
    assert stats.trust_score == pytest.approx(0.7102272727, abs=1e-9)
    assert (stats.total_votes, stats.positive_votes, stats.negative_votes) == (4, 2, 2)
    assert stats.positive_rate == 0.5
    # Wilson, 2 of 4, z = 1.959964: centre 0.5, half-width 1.959964 * sqrt(1/16 + z²/64) / (1 + z²/4)
    assert stats.confidence_low == pytest.approx(0.1500390, abs=1e-6)
    assert stats.confidence_high == pytest.approx(0.8499610, abs=1e-6)


def test_wilson_interval_for_seven_of_ten() -> None:
    low, high = wilson_interval(7, 10)
    assert (low, high) == (pytest.approx(0.3967781, abs=1e-6), pytest.approx(0.8922087, abs=1e-6))


@pytest.mark.parametrize(
    ("older", "newer", "expected"),
    [
        ([1, -1, -1, -1, -1], [1, 1, 1, 1, -1], "improving"),  # 0.2 -> 0.8
        ([1, 1, 1, 1, -1], [1, -1, -1, -1, -1], "declining"),  # 0.8 -> 0.2
        ([1, 1, 1, -1, -1], [1, -1, 1, -1, 1], "stable"),  # 0.6 -> 0.6
    ],
)
def test_recent_trend_compares_the_older_and_newer_halves(
    bilan: Bilan, older: list[int], newer: list[int], expected: str
) -> None:
    for age, value in enumerate(older + newer):
        vote_at(bilan, days_ago=10 - age, value=value)
    assert compute_stats(bilan.engine, VoteFilter(), at_ms=NOW).recent_trend == expected


def test_trend_needs_ten_votes_and_splits_an_odd_count_at_n_div_2(bilan: Bilan) -> None:
    for age, value in enumerate([-1, -1, -1, -1, 1, 1, 1, 1, 1]):
        vote_at(bilan, days_ago=10 - age, value=value)
    assert compute_stats(bilan.engine, VoteFilter(), at_ms=NOW).recent_trend == "stable"
    vote_at(bilan, days_ago=0, value=1)  # 10 votes: first 5 -> 1/5, last 5 -> 5/5
    assert compute_stats(bilan.engine, VoteFilter(), at_ms=NOW).recent_trend == "improving"
    vote_at(bilan, days_ago=0, value=-1)  # 11 votes: first 5 -> 0.2, last 6 -> 5/6
    assert compute_stats(bilan.engine, VoteFilter(), at_ms=NOW).recent_trend == "improving"


def test_filters_select_votes_by_model_user_time_conversation_and_variant(bilan: Bilan) -> None:
    vote_at(bilan, days_ago=1, value=1, model="gpt-4o", prompt_version="v1", conversation_id="c1")
    vote_at(bilan, days_ago=2, value=-1, model="gpt-4o", prompt_version="v2", conversation_id="c2")
    vote_at(bilan, days_ago=20, value=-1, model="gpt-4o-mini", prompt_version="v2", conversation_id="c1")
    other = add_turn(bilan.engine, model="gpt-4o-mini")
    cast_vote(bilan.engine, prompt_id=other, user_id="bob", value=1, at_ms=NOW)

    def count(**where: object) -> tuple[int, int]:
        stats = compute_stats(bilan.engine, VoteFilter(**where), at_ms=NOW)  # type: ignore[arg-type]
        return stats.total_votes, stats.positive_votes

    assert count() == (4, 2)
    assert count(model="gpt-4o") == (2, 1)
    assert count(user_id="bob") == (1, 1)
    assert count(since=NOW - 3 * MS_PER_DAY) == (3, 2)
    assert count(conversation_id="c1") == (2, 1)
    assert count(variant="v2") == (2, 0)
    assert count(model="gpt-4o", variant="v2") == (1, 0)
    assert count(model="no-such-model") == (0, 0)


def test_top_feedback_lists_the_five_newest_non_empty_comments(bilan: Bilan) -> None:
    for day in range(8):
        vote_at(bilan, days_ago=day, value=1 if day % 2 else -1, comment=f"comment {day}", model="m")
    vote_at(bilan, days_ago=0, value=1, comment=None)
    top = compute_stats(bilan.engine, VoteFilter(), at_ms=NOW).top_feedback
    assert [(item.comment, item.value, item.model) for item in top] == [
        ("comment 0", -1, "m"),
        ("comment 1", 1, "m"),
        ("comment 2", -1, "m"),
        ("comment 3", 1, "m"),
        ("comment 4", -1, "m"),
    ]


def test_prompt_stats_counts_the_votes_on_one_answer(bilan: Bilan) -> None:
    prompt_id = add_turn(bilan.engine, model="gpt-4o")
    bilan.vote(prompt_id, 1, "clear")
    bilan.vote(prompt_id, -1, user_id="bob")
    stats = bilan.get_prompt_stats(prompt_id)
    assert (stats.model, stats.total_votes, stats.positive_votes, stats.positive_rate) == (
        "gpt-4o",
        2,
        1,
        0.5,
    )
    assert [c.comment for c in stats.comments] == ["clear"]


def test_the_95_percent_interval_covers_the_true_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261125)
    true_rate, votes_per_trial, trials = 0.3, 80, 2000
    positives = rng.binomial(votes_per_trial, true_rate, size=trials)
    covered = 0
    for positive in positives:
        low, high = wilson_interval(int(positive), votes_per_trial)
        assert low is not None and high is not None
        covered += low <= true_rate <= high
    assert 0.93 <= covered / trials <= 0.97


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": "yesterday"}, "since must be a datetime or epoch milliseconds"),
        ({"since": True}, "since must be a datetime or epoch milliseconds"),
        ({"since": -1}, "since must be a datetime or epoch milliseconds"),
        ({"since": 1.5}, "since must be a datetime or epoch milliseconds"),
        ({"model": 5}, "model must be a non-empty string or None, got 5"),
        ({"user_id": "  "}, "user_id must be a non-empty string or None"),
        ({"conversation_id": ["c1"]}, "conversation_id must be a non-empty string"),
        ({"variant": b"v2"}, "variant must be a non-empty string"),
        ({"team_session": ""}, "team_session must be a non-empty string"),
    ],
)
def test_get_stats_refuses_filters_of_the_wrong_kind_clearly(
    bilan: Bilan, filters: dict[str, object], message: str
) -> None:
    vote_at(bilan, days_ago=1, value=1)
    with pytest.raises(ValueError, match=message):
        bilan.get_stats(**filters)  # type: ignore[arg-type]
    assert bilan.get_stats().total_votes == 1


def test_get_stats_takes_since_as_a_datetime_or_epoch_milliseconds(bilan: Bilan) -> None:
    recent = vote_at(bilan, days_ago=0, value=1)
    cast_vote(bilan.engine, prompt_id=recent, user_id="bob", value=-1, at_ms=1_000)
    assert bilan.get_stats(since=datetime(2000, 1, 1)).total_votes == 1
    assert bilan.get_stats(since=0).total_votes == 2


@pytest.mark.parametrize("prompt_id", [None, 5, "", "  "])
def test_prompt_stats_refuses_a_prompt_id_that_is_not_text(bilan: Bilan, prompt_id: object) -> None:
    with pytest.raises(ValueError, match="prompt_id must be a non-empty string"):
        bilan.get_prompt_stats(prompt_id)  # type: ignore[arg-type]


def test_an_unknown_filter_is_refused_by_name(bilan) -> None:
    with pytest.raises(TypeError, match="unknown filter\\(s\\): modle"):
        bilan.get_stats(modle="gpt-4o")  # type: ignore[call-arg]
