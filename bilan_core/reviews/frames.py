"""A review session's ratings and items as DataFrames (the board, the report and agreement read these)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bilan_core.store.review_models import ReviewItemRow, ReviewRatingRow

RATING_COLUMNS = ["item_id", "position", "rater", "vote", "winner"]
SOURCE_COLUMNS = [
    "prompt_id",
    "prompt_id_b",
    "model",
    "model_b",
    "variant",
    "variant_b",
    "prompt_version",
    "prompt_version_b",
]
ITEM_COLUMNS = [
    "item_id",
    "position",
    "prompt",
    "answer",
    "answer_b",
    *SOURCE_COLUMNS,
    "dataset_position",
    "ratings",
    "skips",
]


def ratings_frame(rows: Sequence[ReviewRatingRow], criteria: Sequence[str]) -> pd.DataFrame:
    """One row per complete rating: the vote or verdict, one column per criterion, comment, time, source."""
    columns = [*RATING_COLUMNS, *criteria, "comment", "rated_at", *SOURCE_COLUMNS]
    records = [
        {
            **row.model_dump(exclude={"scores", "rated_ms"}),
            **{name: row.scores.get(name) for name in criteria},
            "rated_at": row.rated_ms,
        }
        for row in rows
    ]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["rated_at"] = pd.to_datetime(frame["rated_at"], unit="ms", utc=True)
    for name in ("vote", *criteria):
        frame[name] = frame[name].astype("Int64")
    return frame


def items_frame(rows: Sequence[ReviewItemRow]) -> pd.DataFrame:
    """One row per item: what it shows, where it came from, and how many rated or skipped it."""
    return pd.DataFrame.from_records([row.model_dump() for row in rows], columns=ITEM_COLUMNS)
