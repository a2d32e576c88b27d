"""Review insights: agreement with its bootstrap on 1,000 items × 20 raters; themes of 10,000 comments.

The whole session report (``build_report``: agreement, trust per model, themes, disputed items) is timed on
the same 1,000 items too, from the ratings and items frames a session returns (no database involved).

Agreement: each of 1,000 items gets 3 of 20 raters (k = 3), a 👍/👎 vote (each rater right about the item
85 % of the time) and an accuracy score 1–5; ``rating_agreement`` computes alpha for both with 1,000
bootstrap rounds, and the per-rater table. Themes: 10,000 comments over 4 models, half 👎, drawn from a
few dozen phrasings with a random number each, through ``comment_themes``. Each is timed ``--repeats``
times after one warm-up; the median and the slowest are printed.

Run: ``python3 -m bench.review_agreement`` (from the repository root). Target: agreement under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bilan_core.analytics.agreement import rating_agreement
from bilan_core.analytics.comment_themes import comment_themes
from bilan_core.reviews.report import build_report
from bilan_core.store.review_models import ReviewSessionInfo

TARGET_SECONDS = 1.0
COMPLAINTS = [
    "too long, I stopped reading",
    "the answer is too long",
    "wrong date in the second paragraph",
    "it refused to answer a harmless question",
    "the code does not compile",
    "made up a source that does not exist",
    "bad formatting of the table",
    "ignored my instructions",
]
PRAISE = ["clear and helpful", "great example code", "short and right", "perfect, thanks", "very clear"]


def ratings(items: int, raters: int, per_item: int, seed: int = 1) -> pd.DataFrame:
    """One row per rating: ``per_item`` of ``raters`` people rate each item's vote and accuracy."""
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < 0.6
    who = np.argsort(rng.random((items, raters)), axis=1)[:, :per_item]
    item_ids = np.repeat(np.arange(items), per_item)
    right = rng.random(items * per_item) < 0.85
    votes = np.where(right, truth[item_ids], ~truth[item_ids]).astype(float)
    accuracy = np.clip(np.round(3 + 1.5 * (votes - 0.5) + rng.normal(0, 0.8, len(votes))), 1, 5)
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "rater": [f"rater-{r}" for r in who.ravel()],
            "vote": votes,
            "accuracy": accuracy,
        }
    )


def comments(count: int, seed: int = 2) -> pd.DataFrame:
    """``count`` comments over 4 models, half 👎 (complaints) and half 👍 (praise), newest first."""
    rng = np.random.default_rng(seed)
    negative = rng.random(count) < 0.5
    texts = [f"{rng.choice(COMPLAINTS if bad else PRAISE)} #{rng.integers(10**6)}" for bad in negative]
    return pd.DataFrame(
        {
            "comment": texts,
            "value": np.where(negative, -1, 1),
            "model": rng.choice(["gpt-4o", "gpt-4o-mini", "llama-3", "mistral"], count),
            "prompt_id": [f"prompt-{number}" for number in range(count)],
        }
    )


def session_frames(table: pd.DataFrame) -> tuple[ReviewSessionInfo, pd.DataFrame, pd.DataFrame]:
    """``table`` as a closed session's info, ratings and items frames (two models, a comment on 👎)."""
    session = ReviewSessionInfo(
        id="bench",
        name="bench",
        status="closed",
        pairwise=False,
        criteria=("accuracy",),
        raters_per_item=3,
        blind=True,
        instructions=None,
        item_count=int(table["item_id"].nunique()),
        created_by="lead",
        created_ms=0,
    )
    models = np.where(table["item_id"] % 2 == 0, "gpt-4o", "llama-3")
    negative = table["vote"] < 1
    ratings = table.assign(
        vote=np.where(negative, -1, 1),
        winner=None,
        comment=np.where(negative, [COMPLAINTS[item % len(COMPLAINTS)] for item in table["item_id"]], None),
        rated_at=pd.to_datetime(np.arange(len(table)), unit="ms", utc=True),
        prompt_id="p" + table["item_id"].astype(str),
        model=models,
        variant=None,
    )
    items = ratings.drop_duplicates("item_id")[["item_id", "prompt_id", "model"]].assign(
        prompt="a question", prompt_id_b=None, model_b=None, variant=None, variant_b=None
    )
    return session, ratings, items


def seconds(call: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of each of ``repeats`` calls, after one warm-up call."""
    call()
    found = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        found.append(time.perf_counter() - started)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--per-item", type=int, default=3)
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    table = ratings(options.items, options.raters, options.per_item)
    agreement = rating_agreement(table, criteria=["accuracy"])
    taken = seconds(lambda: rating_agreement(table, criteria=["accuracy"]), options.repeats)
    print(
        f"agreement, {options.items:,} items × {options.raters} raters (k={options.per_item}), "
        f"vote + 1 criterion, 1,000 bootstrap rounds each: median {statistics.median(taken):.3f} s, "
        f"slowest {max(taken):.3f} s (target < {TARGET_SECONDS:.0f} s)"
    )
    for estimate in (agreement.overall, *agreement.criteria):
        interval = f"[{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"
        print(f"  {estimate.measure}: alpha {estimate.alpha:.3f} {interval}")
    session, session_ratings, items = session_frames(table)
    taken = seconds(lambda: build_report(session, session_ratings, items), options.repeats)
    print(
        f"session report, {options.items:,} items: median {statistics.median(taken):.3f} s, "
        f"slowest {max(taken):.3f} s"
    )
    corpus = comments(options.comments)
    found = comment_themes(corpus)
    taken = seconds(lambda: comment_themes(corpus), options.repeats)
    print(
        f"comment themes, {options.comments:,} comments over 4 models: "
        f"median {statistics.median(taken):.3f} s, slowest {max(taken):.3f} s; "
        f"{len(found.themes)} themes, e.g. "
        + ", ".join(f"{theme.phrase!r} ({theme.count})" for theme in found.themes[:3])
    )


if __name__ == "__main__":
    main()
