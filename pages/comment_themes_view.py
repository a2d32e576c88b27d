"""The Analytics page's "What the comments say" section: comment themes per model (UI only)."""

from __future__ import annotations

import streamlit as st

from bilan_core import BilanError
from bilan_core.analytics.comment_themes import DEFAULT_COMMENT_LIMIT, CommentThemes, Theme
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.app.markdown_text import escape_markdown
from pages.answer_cards import CONVERSATION_PARAM, PLAYGROUND
from pages.shared import app_client, show_error

CACHE_SECONDS = 60


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Grouping the comments…", max_entries=16)
def load_themes(where: AnalyticsFilter, version: tuple[int, ...]) -> CommentThemes:
    """The themes of the comments the filter selects (``version`` is only the cache key)."""
    return app_client().comment_themes(where)


def comment_themes_section(where: AnalyticsFilter, version: tuple[int, ...]) -> None:
    """Draw the phrases that set 👎 comments apart from 👍 ones, per model, with quotes."""
    st.subheader("What the comments say")
    st.caption(
        "Phrases that set 👎 (thumbs-down) comments apart from 👍 (thumbs-up) ones, per model, from the "
        f"newest {DEFAULT_COMMENT_LIMIT:,} comments these filters select."
    )
    try:
        found = load_themes(where, version)
    except (BilanError, ValueError) as exc:
        show_error(exc)
        return
    for note in found.notes:
        st.info(escape_markdown(note[0].upper() + note[1:] + "."))
    models = list(dict.fromkeys(theme.model for theme in found.themes))
    for model in models:
        st.markdown(f"**{escape_markdown(model)}**")
        for theme in (theme for theme in found.themes if theme.model == model):
            theme_card(theme)


def theme_card(theme: Theme) -> None:
    """One theme: the phrase and its count as the title, its quotes (as typed) inside."""
    title = (
        f"“{escape_markdown(theme.phrase)}” · in {theme.count} of {theme.negative_comments} 👎 (thumbs-down) "
        f"comments, {theme.positive_count} 👍 (thumbs-up)"
    )
    with st.expander(title, key=f"comment_theme_{theme.model}_{theme.phrase}"):
        for quote in theme.quotes:
            st.text(quote.comment)
            if quote.prompt_id:
                st.caption(f"Prompt {escape_markdown(quote.prompt_id)}")
            if quote.conversation_id:
                st.page_link(
                    PLAYGROUND,
                    label="Open this conversation in the Playground",
                    icon=":material/forum:",
                    query_params={CONVERSATION_PARAM: quote.conversation_id},
                )
