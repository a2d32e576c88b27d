"""The Compare and Experiments tables as people read them (bilan_core.app, no Streamlit)."""

from __future__ import annotations

import pandas as pd

from bilan_core.analytics.bradley_terry import leaderboard
from bilan_core.app.compare_view import interval_text, p_value_text, pairs_table, ratings_table
from bilan_core.app.experiment_view import readable_flips, side_by_side


def test_run_against_run_flips_read_votes_and_checks_in_words() -> None:
    flips = pd.DataFrame(
        {
            "item": [1, 2], "variant": ["a", "a"], "input": ["x", "y"], "vote_a": [1.0, None],
            "vote_b": [-1.0, None], "check_a": [None, True], "check_b": [None, False],
            "answer_a": ["p", "q"], "answer_b": ["r", "s"],
        }
    )  # fmt: skip
    table = readable_flips(flips)
    assert table["vote_a"].tolist() == ["👍 good", None] and table["vote_b"].tolist() == ["👎 bad", None]
    assert table["check_a"].tolist()[1] == "✅ pass" and table["check_b"].tolist()[1] == "❌ fail"
    assert pd.isna(table["check_a"].tolist()[0])


def test_the_side_by_side_votes_read_in_words() -> None:
    grid = pd.DataFrame(
        {
            "item": [1],
            "input": ["x"],
            "expected": [None],
            "v: answer": ["a"],
            "v: check": [None],
            "v: vote": [-1.0],
        }
    )
    assert side_by_side(grid, ["v"])["v: vote"].tolist() == ["👎 bad"]


def test_the_leaderboard_reads_whole_numbers_and_says_why_a_figure_is_missing() -> None:
    votes = pd.DataFrame(
        [("A", "B", "a")] * 7 + [("A", "B", "b")] * 3 + [("B", "C", "a")],
        columns=["label_a", "label_b", "winner"],
    )
    board = leaderboard(votes, min_votes=5, rounds=20)
    ratings = ratings_table(board.ratings).set_index("Variant")
    assert ratings.loc["C", "95% interval"] == "— (not enough votes yet)"
    low, high = ratings.loc["A", "95% interval"].split("–")
    assert int(low.replace(",", "")) <= ratings.loc["A", "Rating"] <= int(high.replace(",", ""))
    pairs = pairs_table(board.pairs).set_index(["Variant", "Against"])
    assert (
        pairs.loc[("B", "C"), "p-value"] == "—" and pairs.loc[("B", "C"), "Verdict"] == "not enough votes yet"
    )
    assert pairs.loc[("A", "B"), "p-value"] == "0.344"
    assert (p_value_text(0.0004), p_value_text(None), interval_text(990.4, 1131.6)) == (
        "< 0.001",
        "—",
        "990–1,132",
    )
