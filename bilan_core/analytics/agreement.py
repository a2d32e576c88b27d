"""Agreement between raters: Krippendorff's alpha with a bootstrap interval, and how each rater compares.

Alpha is ``1 - observed disagreement / disagreement expected by chance`` over the items two or more
people rated: 1 is perfect agreement, 0 is what chance gives, below 0 is systematic disagreement.
Votes and pairwise verdicts are nominal (any two different values disagree equally); 1–5 criteria
are ordinal (2 against 3 disagrees less than 1 against 5). The point value comes from the
``krippendorff`` package; the 95 % interval resamples items with replacement (seeded), every round
computed at once from each item's coincidence matrix, so 1,000 rounds take milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bilan_core.store.comparisons import WINNERS

Level = Literal["nominal", "ordinal"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal")
VOTE_DOMAIN = (0, 1)
SCORE_DOMAIN = (1, 2, 3, 4, 5)
MIN_OVERLAPPING_ITEMS = 10
MIN_SHARED_ITEMS = 5
DEFAULT_ROUNDS = 1000
DEFAULT_SEED = 20261129
RELIABLE = 0.8
TENTATIVE = 0.667
DISAGREEMENT_MARGIN = 0.2
LENIENCY_MARGIN = 0.25
OUTLIER_RULE = (
    f"Raters who share at least {MIN_SHARED_ITEMS} items with others are judged: 'disagrees' when their "
    f"agreement with the others is more than {DISAGREEMENT_MARGIN * 100:.0f} percentage points below the "
    f"raters' median; 'lenient' or 'harsh' when their 👍 rate is {LENIENCY_MARGIN * 100:.0f} percentage "
    "points or more above or below the consensus of the same items (the majority of each item's raters, "
    "half when they split)."
)


@dataclass(frozen=True)
class AlphaEstimate:
    """Krippendorff's alpha for one measure, its 95 % bootstrap interval, and why it is missing if it is."""

    measure: str
    level: Level
    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    items: int
    overlapping_items: int
    raters: int
    ratings: int
    note: str

    @property
    def judged(self) -> bool:
        """True when there was enough overlap and variation to compute alpha."""
        return self.alpha is not None

    @property
    def reading(self) -> str:
        """What the value means by Krippendorff's thresholds (0.8 reliable, 0.667 tentative), or the note."""
        if self.alpha is None:
            return self.note
        if self.alpha >= RELIABLE:
            return "reliable agreement (alpha ≥ 0.8)"
        if self.alpha >= TENTATIVE:
            return "tentative agreement (0.667 ≤ alpha < 0.8): draw only cautious conclusions"
        return "unreliable agreement (alpha < 0.667): the raters do not agree enough to rely on"


@dataclass(frozen=True)
class Agreement:
    """A session's agreement: the vote or verdict, each criterion, and each rater against the others."""

    overall: AlphaEstimate
    criteria: tuple[AlphaEstimate, ...]
    raters: pd.DataFrame
    outlier_rule: str = OUTLIER_RULE

    def table(self) -> pd.DataFrame:
        """One row per measure: alpha, interval, overlap and what it means."""
        rows = [
            {
                "measure": estimate.measure,
                "level": estimate.level,
                "alpha": estimate.alpha,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "overlapping_items": estimate.overlapping_items,
                "raters": estimate.raters,
                "ratings": estimate.ratings,
                "reading": estimate.reading,
            }
            for estimate in (self.overall, *self.criteria)
        ]
        return pd.DataFrame(rows)


def alpha_estimate(
    ratings: pd.DataFrame,
    value: str,
    *,
    level: Level,
    domain: Sequence[object],
    item: str = "item_id",
    rater: str = "rater",
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    min_overlap: int = MIN_OVERLAPPING_ITEMS,
) -> AlphaEstimate:
    """Alpha of column ``value`` (values in ``domain``, missing ones skipped) with a bootstrap interval."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if rounds < 1 or min_overlap < 1:
        raise ValueError(f"rounds and min_overlap must be at least 1, got {rounds} and {min_overlap}")
    rated = _rated(ratings, value, item, rater, domain)
    counts = unit_counts(rated, value, item, domain)
    pairable = counts[counts.sum(axis=1) >= 2]
    note = _why_not_judged(pairable, min_overlap)
    alpha = low = high = None
    if not note:
        alpha = package_alpha(pairable, level)
        low, high = bootstrap_interval(pairable, level, rounds=rounds, seed=seed)
    return AlphaEstimate(
        measure=value,
        level=level,
        alpha=alpha,
        ci_low=low,
        ci_high=high,
        items=len(counts),
        overlapping_items=len(pairable),
        raters=int(rated[rater].nunique()),
        ratings=len(rated),
        note=note,
    )


def _rated(
    ratings: pd.DataFrame, value: str, item: str, rater: str, domain: Sequence[object]
) -> pd.DataFrame:
    missing = {item, rater, value} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings need the column(s) {', '.join(sorted(missing))}")
    rated = ratings.loc[ratings[value].notna(), [item, rater, value]]
    unknown = sorted({str(found) for found in set(rated[value]) - set(domain)})
    if unknown:
        raise ValueError(f"{value} has value(s) outside {list(domain)}: {', '.join(unknown)}")
    repeated = rated.duplicated([item, rater])
    if repeated.any():
        first = rated[repeated].iloc[0]
        raise ValueError(f"rater {first[rater]!r} rated item {first[item]!r} more than once")
    return rated


def unit_counts(rated: pd.DataFrame, value: str, item: str, domain: Sequence[object]) -> np.ndarray:
    """Items × values: how many raters gave each item each value of ``domain``."""
    items = pd.Categorical(rated[item]).codes
    values = pd.Categorical(rated[value], categories=list(domain)).codes
    counts = np.zeros((int(items.max()) + 1 if len(items) else 0, len(domain)))
    np.add.at(counts, (items, values), 1.0)
    return counts


def _why_not_judged(pairable: np.ndarray, min_overlap: int) -> str:
    if len(pairable) < min_overlap:
        return (
            f"too few overlapping ratings to judge: {len(pairable)} item(s) were rated by two or more "
            f"people, at least {min_overlap} are needed"
        )
    if np.count_nonzero(pairable.sum(axis=0)) < 2:
        return (
            f"alpha is undefined: every rating of the {len(pairable)} overlapping items has the same value, "
            "so there is no variation to agree or disagree on (the raters agreed on all of them)"
        )
    return ""


def package_alpha(pairable: np.ndarray, level: Level) -> float:
    """Alpha of items × value counts by the ``krippendorff`` package."""
    import krippendorff

    return float(krippendorff.alpha(value_counts=pairable, level_of_measurement=level))


def weighted_alphas(pairable: np.ndarray, weights: np.ndarray, level: Level) -> np.ndarray:
    """Alpha for each row of ``weights`` (rounds × items: how often each item is drawn), all at once."""
    units, values = pairable.shape
    per_item = pairable.sum(axis=1)
    # Each item's coincidence matrix: ordered pairs of values from two different raters, / (m_u - 1).
    pairs = pairable[:, :, None] * pairable[:, None, :] - pairable[:, :, None] * np.eye(values)
    coincidences = (
        weights @ (pairs / (per_item - 1)[:, None, None]).reshape(units, values * values)
    ).reshape(-1, values, values)
    marginals = coincidences.sum(axis=2)
    total = marginals.sum(axis=1)
    distance = _distances(marginals, level)
    observed = (coincidences * distance).sum(axis=(1, 2))
    expected = (marginals[:, :, None] * marginals[:, None, :] * distance).sum(axis=(1, 2)) / (total - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - observed / np.where(expected > 0, expected, 1.0), np.nan)


def _distances(marginals: np.ndarray, level: Level) -> np.ndarray:
    values = marginals.shape[1]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(values), (len(marginals), values, values))
    # Krippendorff's ordinal metric: (n_c + … + n_k - (n_c + n_k) / 2)², from cumulative sums.
    cumulative = np.cumsum(marginals, axis=1)
    spread = (
        cumulative[:, None, :] - cumulative[:, :, None] + (marginals[:, :, None] - marginals[:, None, :]) / 2
    )
    return np.asarray(spread**2)


def bootstrap_interval(
    pairable: np.ndarray, level: Level, *, rounds: int = DEFAULT_ROUNDS, seed: int = DEFAULT_SEED
) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of alpha over ``rounds`` resamples of the items."""
    units = len(pairable)
    drawn = np.random.default_rng(seed).integers(0, units, size=(rounds, units))
    offsets = (np.arange(rounds) * units)[:, None]
    weights = np.bincount((drawn + offsets).ravel(), minlength=rounds * units).reshape(rounds, units)
    alphas = weighted_alphas(pairable, weights.astype(float), level)
    alphas = alphas[~np.isnan(alphas)]
    if not len(alphas):
        return None, None
    return float(np.percentile(alphas, 2.5)), float(np.percentile(alphas, 97.5))


def rater_table(
    ratings: pd.DataFrame, value: str, *, item: str = "item_id", rater: str = "rater"
) -> pd.DataFrame:
    """Per rater: ratings, items shared with others, agreement with them, leniency (votes) and a flag."""
    rated = ratings.loc[ratings[value].notna(), [item, rater, value]].copy()
    per_item = rated.groupby(item)[value].transform("size")
    same = rated.groupby([item, value])[value].transform("size")
    rated["others"] = per_item - 1
    rated["agreeing"] = same - 1
    is_vote = value == "vote"
    if is_vote:
        share = rated.groupby(item)[value].transform("mean")
        # The item's majority (all its raters): 1 or 0, and 0.5 when they split evenly.
        rated["consensus"] = np.sign(share - 0.5) / 2 + 0.5
    shared = rated[rated["others"] > 0]
    grouped = shared.groupby(rater)
    table = pd.DataFrame({"ratings": rated.groupby(rater).size()})
    table["shared_items"] = grouped.size()
    table["agreement"] = grouped["agreeing"].sum() / grouped["others"].sum()
    if is_vote:
        table["positive_rate"] = grouped[value].mean()
        table["consensus_rate"] = grouped["consensus"].mean()
        table["leniency"] = table["positive_rate"] - table["consensus_rate"]
    else:
        table["positive_rate"] = table["consensus_rate"] = table["leniency"] = np.nan
    table["shared_items"] = table["shared_items"].fillna(0).astype(int)
    table["flag"] = _flags(table)
    return table.rename_axis("rater").reset_index().sort_values("rater", ignore_index=True)


def _flags(table: pd.DataFrame) -> pd.Series:
    judged = table["shared_items"] >= MIN_SHARED_ITEMS
    median = table.loc[judged, "agreement"].median()
    flags = pd.Series("", index=table.index, dtype=object)
    flags[~judged] = "too few shared items to judge"
    flags[judged & (table["leniency"] >= LENIENCY_MARGIN)] = "lenient"
    flags[judged & (table["leniency"] <= -LENIENCY_MARGIN)] = "harsh"
    disagrees = judged & (table["agreement"] < median - DISAGREEMENT_MARGIN)
    flags[disagrees] = flags[disagrees].map(lambda flag: "disagrees" + (f", {flag}" if flag else ""))
    return flags


def rating_agreement(
    ratings: pd.DataFrame,
    *,
    criteria: Sequence[str] = (),
    item: str = "item_id",
    rater: str = "rater",
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    min_overlap: int = MIN_OVERLAPPING_ITEMS,
) -> Agreement:
    """Agreement on the votes (or, when there are any, the pairwise verdicts) and on each 1–5 criterion."""
    domain: tuple[object, ...]
    if "winner" in ratings.columns and ratings["winner"].notna().any():
        measure, domain = "winner", tuple(WINNERS)
        frame = ratings
    else:
        if "vote" not in ratings.columns:
            raise ValueError("ratings need a vote or a winner column")
        measure, domain = "vote", VOTE_DOMAIN
        frame = ratings.assign(vote=ratings["vote"].map(_vote_value, na_action="ignore"))

    def estimate(name: str, level: Level, values: Sequence[object]) -> AlphaEstimate:
        return alpha_estimate(
            frame,
            name,
            level=level,
            domain=values,
            item=item,
            rater=rater,
            rounds=rounds,
            seed=seed,
            min_overlap=min_overlap,
        )

    overall = estimate(measure, "nominal", domain)
    scored = tuple(estimate(name, "ordinal", SCORE_DOMAIN) for name in criteria)
    return Agreement(
        overall=overall, criteria=scored, raters=rater_table(frame, measure, item=item, rater=rater)
    )


def _vote_value(vote: float) -> int:
    return 1 if vote > 0 else 0
