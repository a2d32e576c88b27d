"""Leaderboard chart specs carry the intended fields, encodings and data (built from a real leaderboard)."""

from __future__ import annotations

import math

import pandas as pd

from bilan_core.analytics.bradley_terry import leaderboard
from bilan_core.analytics.palette import model_color
from bilan_core.experiments.charts import (
    COLUMN_LABEL_LIMIT,
    LABEL_LIMIT,
    rating_intervals_chart,
    variant_model,
    win_rate_chart,
)

VOTES = pd.DataFrame(
    [("A", "B", "a")] * 6 + [("A", "B", "b")] * 2 + [("B", "C", "a")] * 5 + [("C", "B", "tie")] * 2,
    columns=["label_a", "label_b", "winner"],
)


def test_rating_intervals_chart_draws_each_interval_and_rating() -> None:
    board = leaderboard(VOTES, min_votes=9, rounds=30)
    spec = rating_intervals_chart(board.ratings).to_dict()
    interval, point, anchor = spec["layer"]
    assert interval["mark"]["type"] == "rule"
    assert (interval["encoding"]["x"]["field"], interval["encoding"]["x2"]["field"]) == ("ci_low", "ci_high")
    assert point["encoding"]["x"]["field"] == "rating"
    assert point["encoding"]["fillOpacity"]["field"] == "enough_votes"  # hollow until enough votes
    assert point["encoding"]["color"]["field"] == "model"
    assert (
        interval["encoding"]["y"]["sort"]
        == board.ratings.sort_values("rating", ascending=False)["variant"].tolist()
    )
    [data] = [rows for name, rows in spec["datasets"].items() if rows and "rating" in rows[0]]
    assert {row["variant"]: row["enough_votes"] for row in data} == {"A": False, "B": True, "C": False}
    assert anchor["encoding"]["x"]["field"] == "anchor"
    # Below the minimum votes there is no interval to draw: the rule skips those rows.
    assert {row["variant"]: row["ci_low"] is None for row in data} == {"A": True, "B": False, "C": True}
    assert interval["transform"] == [{"filter": "isValid(datum.ci_low)"}]


def test_win_rate_chart_has_one_cell_per_pair_that_met() -> None:
    board = leaderboard(VOTES, min_votes=1, rounds=10)
    spec = win_rate_chart(board.win_rates).to_dict()
    cells, labels = spec["layer"]
    assert cells["mark"]["type"] == "rect" and labels["mark"]["type"] == "text"
    [data] = [rows for rows in spec["datasets"].values() if rows]
    found = {(row["variant"], row["opponent"]): row["win_rate"] for row in data}
    # A and C never met, and nobody plays themselves: those cells are left out.
    assert set(found) == {("A", "B"), ("B", "A"), ("B", "C"), ("C", "B")}
    assert math.isclose(found[("A", "B")], 0.75) and math.isclose(found[("C", "B")], 1 / 7)


def test_variant_labels_are_shown_whole_on_both_charts() -> None:
    long_labels = VOTES.replace({"A": "gpt-4o · t=0.7 · system 3f2a1b · v1", "B": "gpt-4o · t=0.7 · v2"})
    board = leaderboard(long_labels, min_votes=1, rounds=10)
    ratings = rating_intervals_chart(board.ratings).to_dict()
    wins = win_rate_chart(board.win_rates).to_dict()
    assert ratings["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == LABEL_LIMIT >= 400
    cells = wins["layer"][0]["encoding"]
    assert cells["y"]["axis"]["labelLimit"] == LABEL_LIMIT
    # The columns are read level (not rotated), so each gets the room of a column.
    assert cells["x"]["axis"]["labelLimit"] == COLUMN_LABEL_LIMIT and cells["x"]["axis"]["labelAngle"] == 0
    assert cells["x"]["axis"]["labelExpr"] == "split(datum.label, ' · ')"  # one line per setting
    assert cells["x"]["title"] is None and cells["y"]["title"] is None  # no axis title over the labels
    assert ratings["height"] == wins["height"] == {"step": 32}  # a readable row per variant


def test_a_variant_is_drawn_in_its_models_colour_from_the_shared_palette() -> None:
    labelled = VOTES.replace({"A": "gpt-4o · t=0.2", "B": "gpt-4o · t=0.9", "C": "llama-3.1-8b · v2"})
    board = leaderboard(labelled, min_votes=1, rounds=10)
    point = rating_intervals_chart(board.ratings).to_dict()["layer"][1]
    scale = point["encoding"]["color"]["scale"]
    assert scale["domain"] == ["gpt-4o", "llama-3.1-8b"]
    assert scale["range"] == [model_color("gpt-4o"), model_color("llama-3.1-8b")]
    assert variant_model("gpt-4o-mini · t=0.2 · system c3cf6f") == "gpt-4o-mini"
