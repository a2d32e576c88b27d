"""The rating grids of Batch and Experiments: one row per answer, a vote and a comment to edit.

Votes read as a word beside the emoji (``👍 good`` / ``👎 bad``), so the grid means the same where no
emoji font is installed. Edits follow the safe-feedback rule of ``feedback_state`` (the Playground's too):
a comment typed without a vote is kept as a draft (returned, never thrown away), a changed vote keeps its
comment, and a vote taken back leaves its comment as the draft. The grid's comment cell is the comment, so
emptying it removes the comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from bilan_core.app.feedback_prompts import thumbs_from_vote
from bilan_core.app.feedback_state import change_vote
from bilan_core.errors import BilanError
from bilan_core.experiments.batch_runs import metadata_columns

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

VOTE_LABELS = {1: "👍 good", -1: "👎 bad"}
# The bare emoji are still read (older tables and scripts wrote them).
_VOTE_VALUES = {label: value for value, label in VOTE_LABELS.items()} | {"👍": 1, "👎": -1}
EDITABLE = ("vote", "comment")


@dataclass(frozen=True)
class RatingOutcome:
    """What a set of grid edits did: votes stored, comments kept as drafts (by row index), refusals."""

    saved: int = 0
    drafts: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def vote_label(value: object) -> str | None:
    """The grid's text for a stored vote (1 or -1), None for no vote."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return None
    return VOTE_LABELS.get(int(value))  # type: ignore[call-overload]


def vote_value(cell: object) -> int | None:
    """The vote a grid cell holds (a label, a bare emoji, 1/-1, or empty); ValueError for anything else."""
    if cell is None or (not isinstance(cell, str) and pd.isna(cell)):  # type: ignore[call-overload]
        return None
    if isinstance(cell, str):
        if cell in _VOTE_VALUES:
            return _VOTE_VALUES[cell]
    elif int(cell) in VOTE_LABELS:  # type: ignore[call-overload]
        return int(cell)  # type: ignore[call-overload]
    raise ValueError(f"a rating is {' or '.join(VOTE_LABELS.values())}, got {cell!r}")


def batch_rating_table(results: pd.DataFrame) -> pd.DataFrame:
    """A batch run's results as its rating grid shows them: rows numbered from 1, the vote as ``👍 good`` /
    ``👎 bad``, rating columns first, then the metadata as ``meta.<field>`` columns, then the figures."""
    table = results.drop(columns=["metadata", "position"])
    table.insert(0, "row", results["position"] + 1)
    table["vote"] = pd.Series(
        [vote_label(value) for value in results["vote"]], index=table.index, dtype=object
    )
    first = ["row", "prompt", "response", "vote", "comment"]
    rest = [column for column in table.columns if column not in first]
    return pd.concat([table[first], metadata_columns(results), table[rest]], axis=1)


def with_drafts(table: pd.DataFrame, drafts: Mapping[int, str]) -> pd.DataFrame:
    """The grid with each kept draft back in its row's comment cell (rows without a vote only)."""
    comments = table["comment"].astype(object).tolist()
    for index, text in drafts.items():
        if 0 <= index < len(table) and vote_value(table["vote"].iloc[index]) is None:
            comments[index] = text
    return table.assign(comment=pd.Series(comments, index=table.index, dtype=object))


def row_name(table: pd.DataFrame, index: int) -> str:
    """How messages name a grid row: its 1-based number as the grid shows it."""
    if "row" in table.columns:
        return f"row {int(table['row'].iloc[index])}"
    return f"row {index + 1}"


def apply_ratings(
    client: Bilan, table: pd.DataFrame, edited_rows: Mapping[int | str, Mapping[str, Any]]
) -> RatingOutcome:
    """Store the votes and comments edited in a rating grid, following the safe-feedback rule.

    ``table`` is the grid as shown (with ``prompt_id``, ``vote`` and ``comment``); ``edited_rows`` maps a
    row index to its changed cells, the shape ``st.data_editor`` reports.
    """
    saved, drafts, problems = 0, {}, []
    for row_key, changes in edited_rows.items():
        index = int(row_key)
        try:
            draft = _apply_row(client, table.iloc[index], changes)
        except (BilanError, ValueError) as exc:
            problems.append(f"{row_name(table, index)}: {exc}")
            continue
        if draft:
            drafts[index] = draft
        else:
            saved += 1
    return RatingOutcome(saved=saved, drafts=drafts, problems=problems)


def _apply_row(client: Bilan, row: pd.Series, changes: Mapping[str, Any]) -> str | None:
    """Store one row's rating; the comment kept as a draft when there is no vote to go with it."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"only the vote and the comment can be changed, not {', '.join(sorted(unknown))}")
    prompt_id = row["prompt_id"]
    if not isinstance(prompt_id, str) or not prompt_id:
        raise ValueError("this prompt has no answer yet; resume the run first")
    value = vote_value(changes["vote"] if "vote" in changes else row["vote"])
    comment = changes["comment"] if "comment" in changes else row["comment"]
    draft = comment.strip() if isinstance(comment, str) and comment.strip() else None
    change = change_vote(client, prompt_id, thumbs_from_vote(value), draft=draft)
    return change.draft if change.vote is None else None
