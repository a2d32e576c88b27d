"""Bradley–Terry leaderboard: hand-computed fits, recovery of known strengths, intervals, tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from bilan_core.analytics.bradley_terry import (
    NOT_ENOUGH_VOTES,
    enough_votes,
    fit_bradley_terry,
    leaderboard,
    pair_tests,
    ranks_from_intervals,
    win_matrix,
)


def votes_from(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Expand (label_a, label_b, winner, count) into one row per vote."""
    expanded = [(a, b, winner) for a, b, winner, count in rows for _ in range(count)]
    return pd.DataFrame(expanded, columns=["label_a", "label_b", "winner"])


def test_two_variants_match_the_closed_form() -> None:
    # A beats B 3 times out of 4: strength ratio 3, so the gap is 400·log10(3), centred on 1000.
    wins = np.array([[0.0, 3.0], [1.0, 0.0]])
    ratings = fit_bradley_terry(wins, prior=0)
    gap = 400 * math.log10(3)
    assert ratings == pytest.approx([1000 + gap / 2, 1000 - gap / 2], abs=1e-6)


def test_three_variants_match_hand_computed_ratings() -> None:
    # Frequencies 2:1, 2:1 and 4:1 fit strengths 4:2:1 exactly, so the MLE is 4:2:1:
    # ratings 400·log10(4), 400·log10(2), 0, shifted so their mean is 1000.
    votes = votes_from(
        [
            ("A", "B", "a", 2),
            ("A", "B", "b", 1),
            ("B", "C", "a", 2),
            ("C", "B", "a", 1),
            ("A", "C", "a", 4),
            ("C", "A", "a", 1),
        ]
    )
    ratings = fit_bradley_terry(win_matrix(votes, ["A", "B", "C"]), prior=0)
    step = 400 * math.log10(2)
    assert ratings == pytest.approx([1000 + step, 1000.0, 1000 - step], abs=1e-6)


def test_a_tie_is_half_a_win_for_each_side() -> None:
    tied = votes_from([("A", "B", "a", 2), ("A", "B", "tie", 2), ("A", "B", "b", 1)])
    wins = win_matrix(tied, ["A", "B"])
    assert wins.tolist() == [[0.0, 3.0], [2.0, 0.0]]
    gap = 400 * math.log10(3 / 2)
    assert fit_bradley_terry(wins, prior=0) == pytest.approx([1000 + gap / 2, 1000 - gap / 2], abs=1e-6)


def test_without_a_prior_a_winless_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one win and one loss"):
        fit_bradley_terry(np.array([[0.0, 3.0], [0.0, 0.0]]), prior=0)
    ratings = fit_bradley_terry(np.array([[0.0, 3.0], [0.0, 0.0]]), prior=1)
    assert np.isfinite(ratings).all() and ratings[0] > ratings[1]


def test_synthetic_votes_from_known_strengths_recover_their_order() -> None:
    rng = np.random.default_rng(7)
    true_ratings = {"weak": 850.0, "fair": 950.0, "good": 1050.0, "best": 1150.0}
    names = list(true_ratings)
    rows = []
    for _ in range(3000):
        first, second = rng.choice(names, size=2, replace=False)
        p_first = 1 / (1 + 10 ** ((true_ratings[second] - true_ratings[first]) / 400))
        rows.append((first, second, "a" if rng.random() < p_first else "b"))
    board = leaderboard(pd.DataFrame(rows, columns=["label_a", "label_b", "winner"]), rounds=50)
    assert board.ratings["variant"].tolist() == ["best", "good", "fair", "weak"]
    assert board.ratings["rank"].tolist() == [1, 2, 3, 4]
    fitted = dict(zip(board.ratings["variant"], board.ratings["rating"], strict=True))
    for name, rating in true_ratings.items():
        assert fitted[name] == pytest.approx(rating, abs=25)


def test_bootstrap_intervals_are_seeded_and_contain_the_rating() -> None:
    votes = votes_from([("A", "B", "a", 14), ("A", "B", "b", 6), ("B", "C", "a", 12), ("B", "C", "b", 8)])
    first = leaderboard(votes, rounds=100, seed=3)
    again = leaderboard(votes, rounds=100, seed=3)
    pd.testing.assert_frame_equal(first.ratings, again.ratings)
    table = first.ratings
    assert (table["ci_low"] <= table["rating"]).all() and (table["rating"] <= table["ci_high"]).all()
    assert leaderboard(votes, rounds=100, seed=4).ratings["ci_low"].tolist() != table["ci_low"].tolist()


def test_rank_counts_variants_clearly_above() -> None:
    low = np.array([1100.0, 1000.0, 1050.0, 800.0])
    high = np.array([1200.0, 1120.0, 1090.0, 900.0])
    # The second overlaps the first; the third is below the first's interval; the fourth below all.
    assert ranks_from_intervals(low, high).tolist() == [1, 1, 2, 4]


def test_both_bad_is_counted_but_not_rated() -> None:
    votes = votes_from([("A", "B", "a", 3), ("A", "B", "b", 1), ("B", "A", "both_bad", 5)])
    board = leaderboard(votes, rounds=20, min_votes=1)
    without = leaderboard(votes[votes["winner"] != "both_bad"], rounds=20, min_votes=1)
    pd.testing.assert_series_equal(board.ratings["rating"], without.ratings["rating"])
    assert board.ratings.set_index("variant")["both_bad"].to_dict() == {"A": 5, "B": 5}
    assert board.ratings.set_index("variant")["games"].to_dict() == {"A": 4, "B": 4}
    assert board.total_votes == 9


def test_win_rate_matrix_and_counts() -> None:
    votes = votes_from([("A", "B", "a", 3), ("B", "A", "a", 1), ("A", "C", "tie", 2)])
    board = leaderboard(votes, rounds=10, min_votes=1)
    rates = board.win_rates
    assert rates.loc["A", "B"] == pytest.approx(0.75) and rates.loc["B", "A"] == pytest.approx(0.25)
    assert rates.loc["A", "C"] == pytest.approx(0.5)
    assert math.isnan(rates.loc["B", "C"]) and math.isnan(rates.loc["A", "A"])
    row = board.ratings.set_index("variant").loc["A"]
    assert (row["wins"], row["losses"], row["ties"], row["games"]) == (3, 1, 2, 6)


def test_pair_tests_use_the_exact_binomial_test_on_decisive_votes() -> None:
    votes = votes_from([("A", "B", "a", 9), ("B", "A", "b", 3), ("A", "B", "b", 2), ("A", "B", "tie", 4)])
    pairs = pair_tests(votes, min_votes=10)
    row = pairs.iloc[0]
    counts = (row["variant_a"], row["wins_a"], row["wins_b"], row["ties"], row["decisive"])
    assert counts == ("A", 12, 2, 4, 14)
    assert row["p_value"] == pytest.approx(binomtest(12, 14, 0.5).pvalue)
    assert row["verdict"] == "A is better (p < 0.05)"


def test_pairs_below_the_minimum_say_not_enough_votes() -> None:
    votes = votes_from([("A", "B", "a", 3), ("A", "B", "b", 1)])
    board = leaderboard(votes, rounds=10, min_votes=10)
    assert board.pairs.iloc[0]["p_value"] is None
    assert board.pairs.iloc[0]["verdict"] == NOT_ENOUGH_VOTES
    assert not board.has_enough_votes


def test_bad_vote_tables_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="winner"):
        leaderboard(pd.DataFrame({"label_a": ["A"], "label_b": ["B"]}))
    with pytest.raises(ValueError, match="unknown winner"):
        leaderboard(votes_from([("A", "B", "left", 1)]))
    with pytest.raises(ValueError, match="two different variants"):
        leaderboard(votes_from([("A", "A", "a", 1)]))
    with pytest.raises(ValueError, match="min_votes"):
        leaderboard(votes_from([("A", "B", "a", 1)]), min_votes=0)


def test_an_empty_table_gives_an_empty_leaderboard() -> None:
    board = leaderboard(pd.DataFrame(columns=["label_a", "label_b", "winner"]))
    assert board.ratings.empty and board.pairs.empty and board.total_votes == 0
    assert not board.has_enough_votes


def test_one_vote_gives_a_provisional_rating_without_an_interval() -> None:
    votes = votes_from([("A", "B", "a", 1)])
    table = leaderboard(votes, min_votes=2, rounds=20).ratings.set_index("variant")
    # A bootstrap over one vote would say 1131–1131; below the minimum there is no interval at all.
    assert table["ci_low"].isna().all() and table["ci_high"].isna().all()
    assert table["rating"].notna().all() and (~table["enough_votes"]).all()
    assert table["rank"].tolist() == [1, 1]  # without an interval nobody is clearly above anybody


def test_the_interval_appears_with_enough_votes() -> None:
    votes = votes_from([("A", "B", "a", 3), ("A", "B", "b", 1), ("B", "C", "a", 1)])
    table = leaderboard(votes, min_votes=4, rounds=20).ratings.set_index("variant")
    assert table.loc[["A", "B"], "ci_low"].notna().all() and pd.isna(table.loc["C", "ci_low"])
    assert enough_votes(np.array([3, 4, 5]), 4).tolist() == [False, True, True]
    assert ranks_from_intervals(np.array([1100.0, np.nan]), np.array([1200.0, np.nan])).tolist() == [1, 1]
