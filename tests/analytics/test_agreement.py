"""Krippendorff's alpha, its bootstrap interval and the per-rater table: hand values and the package."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest

from bilan_core.analytics.agreement import (
    SCORE_DOMAIN,
    alpha_estimate,
    rating_agreement,
    unit_counts,
    weighted_alphas,
)

# Krippendorff's own example (the package's docstring): 3 coders, 15 units, values 1–4, gaps missing.
KRIPPENDORFF_EXAMPLE = [
    [np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
    [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
    [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4],
]


def long_frame(matrix: list[list[float]], column: str = "score") -> pd.DataFrame:
    """A raters × items matrix as one row per (item, rater) with the value in ``column`` (NaN kept)."""
    rows = [
        (item, f"rater{rater}", value) for rater, row in enumerate(matrix) for item, value in enumerate(row)
    ]
    return pd.DataFrame(rows, columns=["item_id", "rater", column])


def test_hand_computed_nominal_votes() -> None:
    # Items: (👍, 👍), (👎, 👎), (👍, 👎). Coincidences o_11 = o_00 = 2, o_01 = o_10 = 1; n_0 = n_1 = 3.
    # alpha = 1 - (n - 1) * (o_01 + o_10) / (2 n_0 n_1) = 1 - 5 * 2 / 18 = 4/9.
    ratings = long_frame([[1, 0, 1], [1, 0, 0]], "vote")
    found = rating_agreement(ratings, min_overlap=1).overall
    assert found.alpha == pytest.approx(4 / 9)
    assert (found.measure, found.level, found.overlapping_items, found.raters, found.ratings) == (
        "vote",
        "nominal",
        3,
        2,
        6,
    )


def test_hand_computed_ordinal_scores() -> None:
    # Items: (1, 2), (2, 2), (3, 3). n_1 = 1, n_2 = 3, n_3 = 2, n = 6. Ordinal distances:
    # d12 = ((1 + 3) / 2)² = 4, d13 = (6 - 1.5)² = 20.25, d23 = (5 - 2.5)² = 6.25.
    # alpha = 1 - 5 * (2 * 4) / (2 * (3 * 4 + 2 * 20.25 + 6 * 6.25)) = 1 - 40 / 180 = 7/9.
    ratings = long_frame([[1, 2, 3], [2, 2, 3]])
    found = alpha_estimate(ratings, "score", level="ordinal", domain=SCORE_DOMAIN, min_overlap=1)
    assert found.alpha == pytest.approx(7 / 9)


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_matches_the_package_with_missing_values(level: str) -> None:
    ratings = long_frame(KRIPPENDORFF_EXAMPLE)
    found = alpha_estimate(ratings, "score", level=level, domain=SCORE_DOMAIN, min_overlap=1)
    expected = krippendorff.alpha(KRIPPENDORFF_EXAMPLE, level_of_measurement=level, value_domain=SCORE_DOMAIN)
    assert found.alpha == pytest.approx(expected)
    assert found.alpha == pytest.approx(0.691358 if level == "nominal" else 0.806721, abs=1e-6)
    # Unit 2 and 14 have no rating, unit 1 only one: 12 overlap.
    assert (found.items, found.overlapping_items) == (13, 12)
    assert found.ci_low is not None and found.ci_high is not None
    assert found.ci_low < found.alpha <= found.ci_high


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_each_bootstrap_round_is_the_package_alpha_of_that_resample(level: str) -> None:
    rng = np.random.default_rng(5)
    matrix = rng.integers(1, 6, size=(4, 40)).astype(float)
    matrix[rng.random(matrix.shape) < 0.3] = np.nan
    ratings = long_frame(matrix.tolist())
    rated = ratings[ratings["score"].notna()]
    counts = unit_counts(rated, "score", "item_id", SCORE_DOMAIN)
    pairable = counts[counts.sum(axis=1) >= 2]
    picks = rng.integers(0, len(pairable), size=(3, len(pairable)))
    weights = np.stack([np.bincount(pick, minlength=len(pairable)) for pick in picks]).astype(float)
    computed = weighted_alphas(pairable, weights, level)  # type: ignore[arg-type]
    for pick, value in zip(picks, computed, strict=True):
        expected = krippendorff.alpha(
            value_counts=pairable[pick], level_of_measurement=level, value_domain=list(range(5))
        )
        assert value == pytest.approx(expected)


def test_bootstrap_is_seeded_and_narrows_with_more_items() -> None:
    small = agreement_on(items=60, seed=1)
    again = agreement_on(items=60, seed=1)
    large = agreement_on(items=1000, seed=1)
    assert (small.ci_low, small.ci_high) == (again.ci_low, again.ci_high)
    assert small.ci_low is not None and small.ci_high is not None
    assert large.ci_low is not None and large.ci_high is not None
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low


def agreement_on(*, items: int, seed: int):
    """Votes of 3 of 20 raters per item, each agreeing with the item's truth 85 % of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < 0.5
    rows = []
    for item in range(items):
        for rater in rng.choice(20, 3, replace=False):
            vote = truth[item] if rng.random() < 0.85 else not truth[item]
            rows.append((item, f"r{rater}", float(vote)))
    return rating_agreement(pd.DataFrame(rows, columns=["item_id", "rater", "vote"])).overall


def test_all_agree_is_undefined_and_says_so() -> None:
    ratings = long_frame([[1] * 12, [1] * 12], "vote")
    found = rating_agreement(ratings).overall
    assert found.alpha is None and not found.judged
    assert "undefined" in found.reading and "same value" in found.reading


def test_perfect_agreement_with_variation_is_one() -> None:
    ratings = long_frame([[1, 0] * 6, [1, 0] * 6], "vote")
    found = rating_agreement(ratings).overall
    assert found.alpha == pytest.approx(1.0)
    assert found.reading.startswith("reliable")


def test_one_rater_or_too_little_overlap_is_not_judged() -> None:
    one_rater = rating_agreement(long_frame([[1, 0, 1, 0]], "vote")).overall
    assert one_rater.alpha is None and one_rater.overlapping_items == 0
    assert one_rater.note.startswith("too few overlapping ratings to judge: 0 item(s)")
    few = rating_agreement(long_frame([[1, 0, 1], [1, 0, 0]], "vote")).overall
    assert few.alpha is None and "3 item(s)" in few.note and "at least 10" in few.note


def test_pairwise_verdicts_are_nominal_over_the_four_winners() -> None:
    verdicts = [["a", "b", "tie", "both_bad", "a"] * 2, ["a", "b", "tie", "both_bad", "b"] * 2]
    ratings = long_frame(verdicts, "winner")  # type: ignore[arg-type]
    found = rating_agreement(ratings.assign(vote=np.nan), min_overlap=1).overall
    codes = {"a": 0, "b": 1, "tie": 2, "both_bad": 3}
    expected = krippendorff.alpha(
        [[codes[value] for value in row] for row in verdicts], level_of_measurement="nominal"
    )
    assert found.measure == "winner" and found.alpha == pytest.approx(expected)


def test_criteria_are_ordinal_and_reported_each() -> None:
    frame = long_frame(KRIPPENDORFF_EXAMPLE, "accuracy")
    frame["tone"] = 6 - frame["accuracy"]
    frame["vote"] = frame["accuracy"].map(lambda score: 1.0 if score >= 3 else 0.0, na_action="ignore")
    found = rating_agreement(frame, criteria=["accuracy", "tone"], min_overlap=1)
    assert [estimate.measure for estimate in found.criteria] == ["accuracy", "tone"]
    assert {estimate.level for estimate in found.criteria} == {"ordinal"}
    assert found.criteria[0].alpha == pytest.approx(0.806721, abs=1e-6)
    reversed_scale = [
        [np.nan if np.isnan(value) else 6 - value for value in row] for row in KRIPPENDORFF_EXAMPLE
    ]
    expected = krippendorff.alpha(reversed_scale, level_of_measurement="ordinal", value_domain=SCORE_DOMAIN)
    assert found.criteria[1].alpha == pytest.approx(expected)
    table = found.table()
    assert list(table["measure"]) == ["vote", "accuracy", "tone"]


def test_bad_input_is_a_clear_error() -> None:
    ratings = long_frame([[1, 0], [1, 7]])
    with pytest.raises(ValueError, match="outside"):
        alpha_estimate(ratings, "score", level="ordinal", domain=SCORE_DOMAIN)
    with pytest.raises(ValueError, match="level"):
        alpha_estimate(ratings, "score", level="ratio", domain=SCORE_DOMAIN)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="column"):
        alpha_estimate(ratings, "tone", level="ordinal", domain=SCORE_DOMAIN)
    twice = pd.concat([long_frame([[1, 0], [1, 0]], "vote")] * 2)
    with pytest.raises(ValueError, match="more than once"):
        rating_agreement(twice)


def test_per_rater_agreement_leniency_and_flags() -> None:
    # Six items; a, b, c and d say 👍 to all of them, e says 👎 to all, f rates only two.
    rows = [(item, rater, 1.0) for item in range(6) for rater in "abcd"]
    rows += [(item, "e", 0.0) for item in range(6)] + [(item, "f", 1.0) for item in range(2)]
    raters = rating_agreement(pd.DataFrame(rows, columns=["item_id", "rater", "vote"])).raters
    by_name = raters.set_index("rater")
    # a on items 0-1 agrees with 4 of 5 others, on items 2-5 with 3 of 4: 20 of 26 pairs.
    assert by_name.loc["a", "agreement"] == pytest.approx(20 / 26)
    assert by_name.loc["e", "agreement"] == 0.0
    assert by_name.loc["e", "leniency"] == -1.0 and by_name.loc["a", "leniency"] == 0.0
    assert by_name.loc["e", "flag"] == "disagrees, harsh"
    assert by_name.loc["a", "flag"] == ""
    assert by_name.loc["f", "flag"] == "too few shared items to judge"
    assert list(by_name["ratings"]) == [6, 6, 6, 6, 6, 2]


def test_lenient_rater_is_flagged() -> None:
    rows = [(item, rater, float(item % 2)) for item in range(10) for rater in "abc"]
    rows += [(item, "d", 1.0) for item in range(10)]
    by_name = rating_agreement(pd.DataFrame(rows, columns=["item_id", "rater", "vote"])).raters.set_index(
        "rater"
    )
    assert by_name.loc["d", "positive_rate"] == 1.0 and by_name.loc["d", "consensus_rate"] == 0.5
    # d also agrees with the others only half the time, against their 25 of 30: flagged for both.
    assert by_name.loc["d", "flag"] == "disagrees, lenient"
    assert set(by_name.loc[["a", "b", "c"], "flag"]) == {""}


def test_thousand_items_twenty_raters_are_judged_with_an_interval() -> None:
    """The size bench.review_agreement times: every item overlaps and the interval holds the estimate."""
    found = agreement_on(items=1000, seed=2)
    assert found.judged and found.overlapping_items == 1000
    assert found.alpha is not None and found.ci_low is not None and found.ci_high is not None
    assert found.ci_low <= found.alpha <= found.ci_high and found.ci_high - found.ci_low < 0.2
