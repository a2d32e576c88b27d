"""The A/B leaderboard: Bradley–Terry ratings, bootstrap intervals, win rates and binomial tests.

Votes come as a DataFrame with ``label_a``, ``label_b`` and ``winner`` (``a``, ``b``, ``tie`` or
``both_bad``). A tie counts as half a win for each side. "Both bad" says nothing about which side
is better, so it is left out of the ratings, win rates and tests and counted per variant instead.
Ratings use the Elo scale (400 points per factor of 10 in strength) with the mean rating at 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from bilan_core.store.comparisons import WINNERS

SCALE = 400.0
BASE = 10.0
ANCHOR = 1000.0
DEFAULT_PRIOR = 1.0
DEFAULT_BOOTSTRAP_ROUNDS = 200
DEFAULT_SEED = 20240607
DEFAULT_MIN_VOTES = 10
NOT_ENOUGH_VOTES = "not enough votes yet"
_MAX_ITERATIONS = 10_000
_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Leaderboard:
    """Ratings per variant, the head-to-head win-rate matrix and one significance test per pair."""

    ratings: pd.DataFrame
    win_rates: pd.DataFrame
    pairs: pd.DataFrame
    total_votes: int
    min_votes: int

    @property
    def has_enough_votes(self) -> bool:
        """True when at least one variant has the minimum number of rated votes."""
        return bool(len(self.ratings)) and bool(self.ratings["enough_votes"].any())


def validate_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """The votes with a known winner; ValueError naming a missing column or an unknown winner."""
    missing = {"label_a", "label_b", "winner"} - set(votes.columns)
    if missing:
        raise ValueError(f"votes need the column(s) {', '.join(sorted(missing))}")
    decided = votes[votes["winner"].notna()]
    unknown = sorted(set(decided["winner"]) - set(WINNERS))
    if unknown:
        raise ValueError(f"unknown winner value(s) {unknown}; use one of {', '.join(WINNERS)}")
    if (decided["label_a"] == decided["label_b"]).any():
        raise ValueError("a comparison must oppose two different variants")
    return decided


def win_matrix(votes: pd.DataFrame, variants: list[str]) -> np.ndarray:
    """``wins[i, j]``: wins of variant i over variant j, a tie counting half for each."""
    index = {name: position for position, name in enumerate(variants)}
    rated = votes[votes["winner"] != "both_bad"]
    first = rated["label_a"].map(index).to_numpy(dtype=int)
    second = rated["label_b"].map(index).to_numpy(dtype=int)
    return _wins_from_indices(first, second, rated["winner"].to_numpy(), len(variants))


def _wins_from_indices(first: np.ndarray, second: np.ndarray, winner: np.ndarray, size: int) -> np.ndarray:
    wins = np.zeros((size, size))
    a_share = np.select([winner == "a", winner == "tie"], [1.0, 0.5], default=0.0)
    np.add.at(wins, (first, second), a_share)
    np.add.at(wins, (second, first), 1.0 - a_share)
    return wins


def fit_bradley_terry(wins: np.ndarray, *, prior: float = DEFAULT_PRIOR) -> np.ndarray:
    """Ratings from a win matrix by Hunter's MM algorithm, mean 1000, 400 points per factor 10.

    ``prior`` adds that many virtual games per variant (half won, half lost) against a reference of
    strength 1, which keeps ratings finite for a variant that never won or never lost. With
    ``prior=0`` the plain maximum-likelihood fit is returned, and it must exist.
    """
    if prior < 0:
        raise ValueError(f"prior must be 0 or more, got {prior}")
    wins = np.asarray(wins, dtype=float)
    games = wins + wins.T
    won = wins.sum(axis=1) + prior / 2
    lost = wins.sum(axis=0) + prior / 2
    if wins.shape[0] and (won.min() <= 0 or lost.min() <= 0):
        raise ValueError("without a prior every variant needs at least one win and one loss")
    strength = np.ones(wins.shape[0])
    for _ in range(_MAX_ITERATIONS):
        pair_sums = strength[:, None] + strength[None, :]
        denominator = (games / pair_sums).sum(axis=1) + prior / (strength + 1.0)
        updated = won / denominator
        updated /= math.exp(np.log(updated).mean())
        converged = np.max(np.abs(updated - strength) / strength) < _TOLERANCE
        strength = updated
        if converged:
            break
    return ANCHOR + SCALE * np.log(strength) / math.log(BASE)


def bootstrap_intervals(
    votes: pd.DataFrame,
    variants: list[str],
    *,
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = DEFAULT_SEED,
    prior: float = DEFAULT_PRIOR,
) -> tuple[np.ndarray, np.ndarray]:
    """95 % intervals of each rating from refits on vote samples drawn with replacement."""
    if prior <= 0:
        raise ValueError("bootstrap intervals need a prior above 0: a resample may leave a variant winless")
    rated = votes[votes["winner"] != "both_bad"]
    index = {name: position for position, name in enumerate(variants)}
    first = rated["label_a"].map(index).to_numpy(dtype=int)
    second = rated["label_b"].map(index).to_numpy(dtype=int)
    winner = rated["winner"].to_numpy()
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, len(variants)))
    for round_number in range(rounds):
        pick = rng.integers(0, len(winner), len(winner))
        wins = _wins_from_indices(first[pick], second[pick], winner[pick], len(variants))
        samples[round_number] = fit_bradley_terry(wins, prior=prior)
    return np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)


def ranks_from_intervals(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """1 + the number of variants whose lower bound is above this variant's upper bound (a missing
    interval is unbounded: a variant without one neither outranks nor is outranked)."""
    low, high = np.nan_to_num(low, nan=-np.inf), np.nan_to_num(high, nan=np.inf)
    return 1 + (low[None, :] > high[:, None]).sum(axis=1)


def enough_votes(games: np.ndarray, min_votes: int) -> np.ndarray:
    """Per variant, whether its rated votes reach ``min_votes``: below it the rating is provisional and
    no interval is given (a bootstrap over one vote gives an interval of one point, not a precise one)."""
    return np.asarray(games) >= min_votes


def leaderboard(
    votes: pd.DataFrame,
    *,
    min_votes: int = DEFAULT_MIN_VOTES,
    rounds: int = DEFAULT_BOOTSTRAP_ROUNDS,
    seed: int = DEFAULT_SEED,
    prior: float = DEFAULT_PRIOR,
) -> Leaderboard:
    """The full leaderboard for a table of comparison votes."""
    if min_votes < 1:
        raise ValueError(f"min_votes must be at least 1, got {min_votes}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    decided = validate_votes(votes)
    variants = sorted(set(decided["label_a"]) | set(decided["label_b"]))
    wins = win_matrix(decided, variants)
    rated_votes = decided[decided["winner"] != "both_bad"]
    if len(rated_votes):
        ratings = fit_bradley_terry(wins, prior=prior)
        low, high = bootstrap_intervals(rated_votes, variants, rounds=rounds, seed=seed, prior=prior)
    else:
        ratings = low = high = np.full(len(variants), np.nan)
    table = _ratings_table(decided, variants, wins, ratings, low, high, min_votes)
    return Leaderboard(
        ratings=table,
        win_rates=_win_rate_frame(wins, variants),
        pairs=pair_tests(decided, min_votes=min_votes),
        total_votes=len(decided),
        min_votes=min_votes,
    )


def _ratings_table(
    votes: pd.DataFrame,
    variants: list[str],
    wins: np.ndarray,
    ratings: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    min_votes: int,
) -> pd.DataFrame:
    games = (wins + wins.T).sum(axis=1)
    enough = enough_votes(games, min_votes)
    low, high = np.where(enough, low, np.nan), np.where(enough, high, np.nan)
    ties = _per_variant_count(votes, variants, "tie")
    both_bad = _per_variant_count(votes, variants, "both_bad")
    table = pd.DataFrame(
        {
            "variant": variants,
            "rating": ratings,
            "ci_low": low,
            "ci_high": high,
            "rank": ranks_from_intervals(low, high) if len(variants) else [],
            "games": games.astype(int),
            "wins": (wins.sum(axis=1) - ties / 2).astype(int),
            "losses": (wins.sum(axis=0) - ties / 2).astype(int),
            "ties": ties,
            "both_bad": both_bad,
        }
    )
    table["votes"] = table["games"] + table["both_bad"]
    table["enough_votes"] = enough
    table["status"] = np.where(table["enough_votes"], "", NOT_ENOUGH_VOTES)
    return table.sort_values(["rank", "rating"], ascending=[True, False]).reset_index(drop=True)


def _per_variant_count(votes: pd.DataFrame, variants: list[str], winner: str) -> np.ndarray:
    chosen = votes[votes["winner"] == winner]
    sides = pd.concat([chosen["label_a"], chosen["label_b"]]).value_counts()
    return np.array([int(sides.get(name, 0)) for name in variants], dtype=int)


def _win_rate_frame(wins: np.ndarray, variants: list[str]) -> pd.DataFrame:
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(games > 0, wins / np.where(games > 0, games, 1), np.nan)
    frame = pd.DataFrame(rates, index=variants, columns=variants)
    frame.index.name = "variant"
    return frame


def pair_tests(votes: pd.DataFrame, *, min_votes: int = DEFAULT_MIN_VOTES) -> pd.DataFrame:
    """Per pair of variants: the votes, and an exact two-sided binomial test on the decisive ones."""
    decided = validate_votes(votes)
    variants = sorted(set(decided["label_a"]) | set(decided["label_b"]))
    rows = [_pair_row(decided, first, second, min_votes) for first, second in combinations(variants, 2)]
    columns = ["variant_a", "variant_b", "wins_a", "wins_b", "ties", "both_bad", "decisive", "p_value"]
    frame = pd.DataFrame(rows, columns=[*columns, "verdict"])
    return frame[(frame["decisive"] + frame["ties"] + frame["both_bad"]) > 0].reset_index(drop=True)


def _pair_row(votes: pd.DataFrame, first: str, second: str, min_votes: int) -> dict[str, object]:
    # Imported here: scipy.stats takes half a second to load, and ``import bilan_core`` should not pay it.
    from scipy.stats import binomtest

    forward = votes[(votes["label_a"] == first) & (votes["label_b"] == second)]["winner"]
    backward = votes[(votes["label_a"] == second) & (votes["label_b"] == first)]["winner"]
    wins_first = int((forward == "a").sum() + (backward == "b").sum())
    wins_second = int((forward == "b").sum() + (backward == "a").sum())
    decisive = wins_first + wins_second
    p_value = binomtest(wins_first, decisive, 0.5).pvalue if decisive >= min_votes else None
    return {
        "variant_a": first,
        "variant_b": second,
        "wins_a": wins_first,
        "wins_b": wins_second,
        "ties": int((forward == "tie").sum() + (backward == "tie").sum()),
        "both_bad": int((forward == "both_bad").sum() + (backward == "both_bad").sum()),
        "decisive": decisive,
        "p_value": p_value,
        "verdict": _verdict(first, second, wins_first, wins_second, p_value),
    }


def _verdict(first: str, second: str, wins_first: int, wins_second: int, p_value: float | None) -> str:
    if p_value is None:
        return NOT_ENOUGH_VOTES
    if p_value >= 0.05:
        return "no significant difference"
    better = first if wins_first > wins_second else second
    return f"{better} is better (p < 0.05)"
