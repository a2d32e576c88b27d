"""The Compare page's leaderboard tables as people read them (no Streamlit here): whole numbers, an interval
only where there are enough votes, a p-value in words when there is none, each verdict as a sentence."""

from __future__ import annotations

import pandas as pd

NO_VALUE = "—"
NOT_ENOUGH_VOTES = f"{NO_VALUE} (not enough votes yet)"
RATING_HEADINGS = {
    "rank": "Rank", "variant": "Variant", "rating": "Rating", "interval": "95% interval", "votes": "Votes",
    "wins": "Wins", "losses": "Losses", "ties": "Ties", "both_bad": "Both bad",
}  # fmt: skip
PAIR_HEADINGS = {
    "variant_a": "Variant", "variant_b": "Against", "wins_a": "Wins", "wins_b": "Losses", "ties": "Ties",
    "both_bad": "Both bad", "p_value": "p-value", "verdict": "Verdict",
}  # fmt: skip


def interval_text(low: float, high: float) -> str:
    """A 95 % interval such as ``990–1,132``, or a dash saying why there is none."""
    if pd.isna(low) or pd.isna(high):
        return NOT_ENOUGH_VOTES
    return f"{low:,.0f}–{high:,.0f}"


def p_value_text(p_value: float | None) -> str:
    """A p-value to three decimals (``< 0.001`` below), or a dash (the verdict beside it says why)."""
    if p_value is None or pd.isna(p_value):
        return NO_VALUE
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def ratings_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's ratings as shown: whole ratings, the interval as text, the vote counts."""
    table = ratings.assign(
        rating=ratings["rating"].round().astype("Int64"),
        interval=[
            interval_text(low, high) for low, high in zip(ratings["ci_low"], ratings["ci_high"], strict=True)
        ],
    )
    return table[list(RATING_HEADINGS)].rename(columns=RATING_HEADINGS)


def pairs_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pair tests as shown: the p-value as text (a dash below the minimum votes) and the verdict."""
    table = pairs.assign(p_value=[p_value_text(value) for value in pairs["p_value"]])
    return table[list(PAIR_HEADINGS)].rename(columns=PAIR_HEADINGS)
