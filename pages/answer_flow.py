"""The Playground's answer on screen: a cut answer's text with its error, "thinking" until the first
token, and the Retry / Regenerate button under the last turn (the rules are in bilan_core.app.playground)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import streamlit as st

from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.playground import ask_again, failure_text, on_first_chunk
from bilan_core.chat.streaming import TextStream
from bilan_core.store.chat_history import ChatEntry

ASK_AGAIN_KEY = "playground_ask_again"
THINKING = ":material/hourglass_top: Thinking…"


def show_answer(entry: ChatEntry) -> None:
    """The answer's text; for a failed turn, the text that arrived (if any) then what went wrong."""
    if entry.response:
        st.markdown(entry.response)
    if not entry.answered:
        st.error(escape_markdown(failure_text(entry)))


def thinking(start: Callable[[], TextStream]) -> tuple[TextStream, Iterator[str]]:
    """The answer ``start()`` opens and its text, with "Thinking…" shown from before the call is made
    (a provider may answer the request only when the first token is ready) until the first text."""
    note = st.empty()
    note.caption(THINKING)
    response = start()
    return response, on_first_chunk(response.stream, note.empty)


def ask_again_button(entries: list[ChatEntry]) -> None:
    """Retry (after an error) or Regenerate (after an answer) the last turn: a new turn, the old kept."""
    again = ask_again(entries)
    if again is not None:
        st.button(
            again.label,
            key=ASK_AGAIN_KEY + "_button",
            icon=":material/refresh:",
            on_click=_asked,
            args=(again.entry.prompt_id,),
        )


def _asked(prompt_id: str) -> None:
    st.session_state[ASK_AGAIN_KEY] = prompt_id


def pending_ask_again(entries: list[ChatEntry]) -> tuple[ChatEntry, list[ChatEntry]] | None:
    """The turn to ask again in this run (its Retry / Regenerate was clicked) and the history before it."""
    prompt_id = st.session_state.pop(ASK_AGAIN_KEY, None)
    again = ask_again(entries)
    if prompt_id is None or again is None or again.entry.prompt_id != prompt_id:
        return None
    return again.entry, again.history
