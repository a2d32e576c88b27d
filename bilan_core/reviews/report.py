"""A review session's report: who took part, agreement, results per model or variant, themes, disputes.

Built from the session's ratings and items (``ReviewSession.ratings()`` / ``items()``), so it is the same
in local and server mode; rendered as Markdown (``report_text``) and as one formula-safe CSV.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bilan_core.analytics.agreement import DEFAULT_SEED, Agreement, rating_agreement
from bilan_core.analytics.bradley_terry import Leaderboard, leaderboard
from bilan_core.analytics.comment_themes import CommentThemes, comment_themes
from bilan_core.analytics.trust import wilson_interval
from bilan_core.store.review_models import ReviewSessionInfo

DISPUTED_ITEMS = 10
NO_LABEL = "(unknown)"
VERDICT_WORDS = {"a": "A better", "b": "B better", "tie": "tie", "both_bad": "both bad"}
PAIRWISE_THEMES_NOTE = "themes group 👍/👎 comments; a pairwise session's verdicts have no thumbs-down side"


@dataclass(frozen=True)
class ReviewReport:
    """Everything a closed (or running) review session found, as typed figures and DataFrames."""

    session: ReviewSessionInfo
    items: int
    rated_items: int
    ratings: int
    raters: pd.DataFrame
    agreement: Agreement
    results: pd.DataFrame
    leaderboard: Leaderboard | None
    themes: CommentThemes
    disputed: pd.DataFrame
    disputed_ratings: pd.DataFrame

    def markdown(self) -> str:
        """The report as Markdown, every piece of user text escaped."""
        from bilan_core.reviews.report_text import report_markdown

        return report_markdown(self)

    def csv(self) -> bytes:
        """The report as one UTF-8 CSV (a ``section`` column first), every cell formula-safe."""
        from bilan_core.reviews.report_text import report_csv

        return report_csv(self)


def build_report(
    session: ReviewSessionInfo, ratings: pd.DataFrame, items: pd.DataFrame, *, seed: int = DEFAULT_SEED
) -> ReviewReport:
    """The report of ``session`` from its ratings (one row per rating) and items (one row per item)."""
    measure = "winner" if session.pairwise else "vote"
    agreement = rating_agreement(ratings, criteria=session.criteria, seed=seed)
    board = pairwise_leaderboard(ratings) if session.pairwise else None
    disputed = disputed_items(ratings, items, measure)
    return ReviewReport(
        session=session,
        items=len(items),
        rated_items=int(ratings["item_id"].nunique()),
        ratings=len(ratings),
        raters=rater_summary(ratings, agreement),
        agreement=agreement,
        results=board.ratings if board is not None else trust_by_label(ratings, session.criteria),
        leaderboard=board,
        themes=_themes(ratings, session.pairwise),
        disputed=disputed,
        disputed_ratings=_ratings_of(ratings, disputed["item_id"], measure),
    )


def answer_label(ratings: pd.DataFrame, side: str = "") -> pd.Series:
    """What an answer is compared as: its variant when it has one, else its model."""
    variant, model = ratings[f"variant{side}"], ratings[f"model{side}"]
    return variant.where(variant.notna(), model).fillna(NO_LABEL).astype(str)


def trust_by_label(ratings: pd.DataFrame, criteria: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per model or variant: 👍 and 👎 counts, trust (👍 share) with its Wilson interval, criteria means."""
    voted = ratings.assign(label=answer_label(ratings))
    voted = voted[voted["vote"].notna()]
    positive = (voted["vote"] > 0).groupby(voted["label"]).sum()
    total = voted.groupby("label").size()
    table = pd.DataFrame({"ratings": total, "positive": positive}).astype(int)
    table["negative"] = table["ratings"] - table["positive"]
    table["trust"] = table["positive"] / table["ratings"]
    intervals = [
        wilson_interval(int(up), int(count))
        for up, count in zip(table["positive"], table["ratings"], strict=True)
    ]
    table["ci_low"] = [low for low, _ in intervals]
    table["ci_high"] = [high for _, high in intervals]
    scored = ratings.assign(label=answer_label(ratings))
    for name in criteria:
        table[f"mean_{name}"] = scored.groupby("label")[name].mean().astype(float)
    table = table.rename_axis("variant").reset_index()
    return table.sort_values(
        ["trust", "ratings", "variant"], ascending=[False, False, True], ignore_index=True
    )


def pairwise_leaderboard(ratings: pd.DataFrame) -> Leaderboard:
    """Bradley–Terry ratings of the variants from the verdicts (pairs of one label on both sides left out)."""
    votes = pd.DataFrame(
        {
            "label_a": answer_label(ratings),
            "label_b": answer_label(ratings, "_b"),
            "winner": ratings["winner"],
        }
    )
    votes = votes[votes["winner"].notna() & (votes["label_a"] != votes["label_b"])]
    return leaderboard(votes.astype(object), min_votes=1)


def rater_summary(ratings: pd.DataFrame, agreement: Agreement) -> pd.DataFrame:
    """Per rater: ratings, comments, and how they compare with the others (from ``agreement.raters``)."""
    comments = ratings["comment"].fillna("").astype(str).str.strip().ne("").groupby(ratings["rater"]).sum()
    table = agreement.raters.copy()
    table["comments"] = table["rater"].map(comments).fillna(0).astype(int)
    return table.sort_values(["ratings", "rater"], ascending=[False, True], ignore_index=True)


def disputed_items(
    ratings: pd.DataFrame, items: pd.DataFrame, measure: str, *, limit: int = DISPUTED_ITEMS
) -> pd.DataFrame:
    """The items raters disagree on most: share of pairs of their raters who gave different values."""
    rated = ratings[ratings[measure].notna()]
    per_item = rated.groupby("item_id").size()
    same_pairs = rated.groupby(["item_id", measure]).size().map(lambda count: count * (count - 1))
    agreeing = same_pairs.groupby(level="item_id").sum()
    overlap = per_item[per_item >= 2]
    disagreement = 1.0 - agreeing[overlap.index] / (overlap * (overlap - 1))
    table = pd.DataFrame({"ratings": overlap, "disagreement": disagreement})
    table = table[table["disagreement"] > 0].rename_axis("item_id").reset_index()
    table = table.sort_values(["disagreement", "ratings", "item_id"], ascending=[False, False, True]).head(
        limit
    )
    shown = items.set_index("item_id")
    table["prompt_id"] = table["item_id"].map(shown["prompt_id"])
    table["prompt"] = table["item_id"].map(shown["prompt"])
    table["label"] = table["item_id"].map(_item_labels(items))
    chosen = rated[rated["item_id"].isin(table["item_id"])]
    table["summary"] = table["item_id"].map(_value_summaries(chosen, measure))
    return table.reset_index(drop=True)


def _item_labels(items: pd.DataFrame) -> pd.Series:
    labels = answer_label(items)
    if items["prompt_id_b"].notna().any():
        labels = labels + " vs " + answer_label(items, "_b")
    return pd.Series(labels.to_numpy(), index=items["item_id"])


def _value_summaries(rated: pd.DataFrame, measure: str) -> pd.Series:
    counts = rated.groupby(["item_id", measure]).size().reset_index(name="count")
    words = [value_words(value, measure) for value in counts[measure]]
    parts = counts["count"].astype(str) + " " + pd.Series(words, index=counts.index, dtype=str)
    return parts.groupby(counts["item_id"]).agg(", ".join)


def value_words(value: object, measure: str) -> str:
    """A vote or verdict in words: 👍 up / 👎 down, A better, B better, tie, both bad."""
    if measure == "vote":
        return "👍 up" if float(str(value)) > 0 else "👎 down"
    return VERDICT_WORDS.get(str(value), str(value))


def _ratings_of(ratings: pd.DataFrame, item_ids: pd.Series, measure: str) -> pd.DataFrame:
    chosen = ratings[ratings["item_id"].isin(item_ids)]
    return chosen[["item_id", "rater", measure, "comment"]].sort_values(
        ["item_id", "rater"], ignore_index=True
    )


def _themes(ratings: pd.DataFrame, pairwise: bool) -> CommentThemes:
    if pairwise:
        return CommentThemes(themes=(), comments=0, negative_comments=0, notes=(PAIRWISE_THEMES_NOTE,))
    comments = pd.DataFrame(
        {
            "comment": ratings["comment"],
            "value": ratings["vote"].astype(float).to_numpy(),
            "model": answer_label(ratings),
            "prompt_id": ratings["prompt_id"],
        }
    )
    # Newest first, as Analytics quotes them.
    order = (
        ratings["rated_at"]
        .reset_index(drop=True)
        .sort_values(ascending=False, na_position="last", kind="stable")
        .index
    )
    return comment_themes(comments.iloc[order])
