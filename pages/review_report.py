"""A review session's report, shareable by link (``?review=<id>&report=1``): summary, agreement, results,
comment themes and disputed items, with Markdown and CSV downloads."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from bilan_core import BilanError, ReviewSession
from bilan_core.app.markdown_text import escape_markdown
from pages.comment_themes_view import theme_card


def download_name(session_name: str, extension: str) -> str:
    """A file name for the report's download: the session's name in safe characters."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", session_name).strip("-")[:60] or "review"
    return f"review-report-{stem}.{extension}"


def results_columns(results: pd.DataFrame) -> dict[str, Any]:
    """How a results table reads: shares and their interval in %, criteria means to one decimal."""
    shares = {"trust": "trust (👍 share)", "ci_low": "95 % from", "ci_high": "95 % to"}
    columns: dict[str, Any] = {
        name: st.column_config.NumberColumn(label, format="percent")
        for name, label in shares.items()
        if name in results.columns
    }
    for name in results.columns:
        if name.startswith("mean_"):
            label = f"{name.removeprefix('mean_')} (mean, 1–5)"
            columns[name] = st.column_config.NumberColumn(label, format="%.1f")
    return columns


def show_report(session: ReviewSession) -> None:
    """The report of a session (closed, or open with a note that it may change)."""
    try:
        report = session.report()
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(f"The report cannot be made: {exc}"))
        return
    st.caption("Report")
    if report.session.status != "closed":
        st.warning("The session is still open: these figures may change.")
    columns = st.columns(4)
    columns[0].metric("Items", report.items)
    columns[1].metric("Items rated", report.rated_items)
    columns[2].metric("Ratings", report.ratings)
    columns[3].metric("Raters", len(report.raters))
    markdown, csv = st.columns(2)
    markdown.download_button(
        "Download Markdown", report.markdown(), download_name(session.name, "md"), mime="text/markdown"
    )
    csv.download_button("Download CSV", report.csv(), download_name(session.name, "csv"), mime="text/csv")

    st.subheader("Agreement")
    overall = report.agreement.overall
    st.write(escape_markdown(overall.reading))
    st.dataframe(report.agreement.table(), hide_index=True)
    st.dataframe(report.raters, hide_index=True)
    st.caption(escape_markdown(report.agreement.outlier_rule))

    st.subheader("Results per model or variant")
    if report.results.empty:
        st.info("No rating to count.")
    else:
        st.dataframe(report.results, hide_index=True, column_config=results_columns(report.results))

    st.subheader("What the comments say")
    for note in report.themes.notes:
        st.info(escape_markdown(note[0].upper() + note[1:] + "."))
    for theme in report.themes.themes:
        st.markdown(f"**{escape_markdown(theme.model)}**")
        theme_card(theme)

    st.subheader("Most disputed items")
    if report.disputed.empty:
        st.caption("No item had split ratings.")
    for row in report.disputed.itertuples():
        with st.container(border=True):
            st.caption(escape_markdown(f"Item {row.item_id} · {row.label} · {row.summary}"))
            st.text(row.prompt or "")
            said = report.disputed_ratings[report.disputed_ratings["item_id"] == row.item_id]
            for rating in said.itertuples():
                if isinstance(rating.comment, str) and rating.comment.strip():
                    st.text(f"{rating.rater}: {rating.comment}")
