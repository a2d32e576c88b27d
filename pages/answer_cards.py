"""One list item for a comment or an answer on the Analytics page: who, what, when, the words on demand.

Every piece of user text is shown with ``st.text`` or escaped Markdown, never as HTML.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bilan_core.app.comment_filters import vote_word
from bilan_core.app.drilldown import answer_preview
from bilan_core.app.markdown_text import escape_markdown

PLAYGROUND = "pages/playground.py"
CONVERSATION_PARAM = "c"  # how the Playground opens a conversation from its link (pages/playground.py)


def _text(value: Any, missing: str) -> str:
    return value if isinstance(value, str) else missing


def _facts(row: pd.Series, *first: str) -> str:
    session = row.get("team_session")
    parts = [
        *first,
        f"model {row['model']}",
        f"by {row['user_id']}",
        f"session {session}" if isinstance(session, str) else "no team session",
        f"{row['created']:%Y-%m-%d %H:%M} UTC",
    ]
    return escape_markdown(" · ".join(str(part) for part in parts))


def prompt_and_answer(row: pd.Series, key: str) -> None:
    """The prompt and the answer, folded until asked for, and a link to the conversation in the Playground."""
    left, right = st.columns([3, 2], vertical_alignment="top")
    with left.expander("Prompt and answer", key=key):
        st.caption("Prompt")
        st.text(_text(row["prompt_text"], "(no prompt stored)"))
        st.caption("Answer")
        st.text(_text(row["response"], "(no answer stored)"))
    conversation = row.get("conversation_id")
    if isinstance(conversation, str) and conversation:
        right.page_link(
            PLAYGROUND,
            label="Open this conversation in the Playground",
            icon=":material/forum:",
            query_params={CONVERSATION_PARAM: conversation},
        )


def comment_card(row: pd.Series, key: str) -> None:
    """A comment with its vote (emoji and word), model, user, session, time; prompt and answer on demand."""
    with st.container(border=True, key=f"{key}_card"):
        st.caption(f"**{escape_markdown(vote_word(int(row['value'])))}** · " + _facts(row))
        st.text(row["comment"])
        prompt_and_answer(row, key)


def answer_card(row: pd.Series, key: str) -> None:
    """An answer with its model, user, session, time, outcome and votes; prompt and answer on demand."""
    votes = f"{int(row['up'])} 👍 up, {int(row['down'])} 👎 down"
    latency = row.get("latency_ms")
    timing = (
        f"{latency:,.0f} ms" if isinstance(latency, int | float) and not pd.isna(latency) else "no timing"
    )
    with st.container(border=True, key=f"{key}_card"):
        st.caption(_facts(row, str(row["status"]), votes, timing))
        st.text(answer_preview(row["prompt_text"]))
        prompt_and_answer(row, key)
