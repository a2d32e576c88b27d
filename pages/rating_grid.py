"""The rating grid Batch and Experiments share: an edit saves as soon as it is made, and a comment typed
without a vote is kept as a draft, said so right under the grid
(the rule: bilan_core.app.rating_grid)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.rating_grid import (
    EDITABLE,
    VOTE_LABELS,
    RatingOutcome,
    apply_ratings,
    row_name,
    with_drafts,
)
from pages.shared import visitor_client

META_PREFIX = "meta."
COMMENT_WIDTH = 280  # pixels: with the row, prompt, answer and rating it fills a 1440 px page


def grid_keys(name: str) -> tuple[str, str, str]:
    """The session keys of one grid: its editor version, its drafts and its last outcome."""
    return f"{name}_grid_version", f"{name}_grid_drafts", f"{name}_grid_outcome"


def save_edits(name: str, editor_key: str, shown: pd.DataFrame) -> None:
    """Store the edits the grid reports, keep the drafts, then draw the grid afresh from the store."""
    state = st.session_state
    edits = (state.get(editor_key) or {}).get("edited_rows") or {}
    if not edits:
        return
    version_key, drafts_key, outcome_key = grid_keys(name)
    outcome = apply_ratings(visitor_client(), shown, edits)
    drafts: dict[int, str] = state.setdefault(drafts_key, {})
    refused = {problem.split(":", 1)[0] for problem in outcome.problems}
    for key in edits:
        index = int(key)
        if index in outcome.drafts:
            drafts[index] = outcome.drafts[index]
        elif row_name(shown, index) not in refused:
            drafts.pop(index, None)
    state[outcome_key] = outcome
    # A new editor key starts from the stored ratings (and the drafts), dropping edits that were refused.
    state[version_key] = state.get(version_key, 0) + 1
    st.rerun()


def column_settings(
    table: pd.DataFrame, columns: dict[str, Any], metadata_help: str | None
) -> dict[str, Any]:
    """The grid's headings: the vote and comment to edit, the given columns, and one per metadata field."""
    metadata = {
        column: st.column_config.Column(column.removeprefix(META_PREFIX), help=metadata_help, width="small")
        for column in table.columns
        if column.startswith(META_PREFIX)
    }
    return (
        {
            "vote": st.column_config.SelectboxColumn(
                "Rating", options=list(VOTE_LABELS.values()), width="small"
            ),
            "comment": st.column_config.TextColumn("Comment", max_chars=10_000, width=COMMENT_WIDTH),
            "prompt_id": None,
            "position": None,
        }
        | columns
        | metadata
    )


def show_outcome(table: pd.DataFrame, outcome: RatingOutcome | None, drafts: dict[int, str]) -> None:
    """Under the grid: what the last edit saved or refused, and every comment still waiting for its vote."""
    if outcome is not None and outcome.saved:
        st.toast(f"Saved {outcome.saved} rating(s).", icon=":material/check:")
    if outcome is not None and outcome.problems:
        st.warning(escape_markdown("Not saved: " + "; ".join(outcome.problems)))
    waiting = [row_name(table, index) for index in sorted(drafts) if 0 <= index < len(table)]
    if waiting:
        st.warning(
            escape_markdown(
                f"Comment kept as a draft on {', '.join(waiting)}: not saved until you choose "
                f"{' or '.join(VOTE_LABELS.values())} in its Rating cell."
            ),
            icon=":material/edit_note:",
        )


def rating_grid(
    name: str, table: pd.DataFrame, *, columns: dict[str, Any], metadata_help: str | None = None
) -> None:
    """Draw ``table`` (one row per answer) as a grid whose Rating and Comment cells save as they change."""
    state = st.session_state
    version_key, drafts_key, outcome_key = grid_keys(name)
    editor_key = f"{name}_grid_{state.get(version_key, 0)}"
    drafts: dict[int, str] = state.get(drafts_key, {})
    shown = with_drafts(table, drafts)
    save_edits(name, editor_key, shown)
    st.data_editor(
        shown,
        key=editor_key,
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        placeholder="",
        disabled=[column for column in shown.columns if column not in EDITABLE],
        column_config=column_settings(shown, columns, metadata_help),
    )
    show_outcome(shown, state.pop(outcome_key, None), drafts)
