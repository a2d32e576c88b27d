"""A page's one-shot notice and its pending action, kept in session state under the page's own keys."""

from __future__ import annotations

import streamlit as st

from bilan_core.app.markdown_text import escape_markdown


class PageNotices:
    """The notice shown once on the next run, and the action a button asked for."""

    def __init__(self, notice_key: str, pending_key: str) -> None:
        self.notice_key = notice_key
        self.pending_key = pending_key

    def note(self, message: str, kind: str = "warning") -> None:
        """Show ``message`` (a ``st.<kind>`` box) once, on the next run."""
        st.session_state[self.notice_key] = (kind, message)

    def show(self) -> None:
        """Draw the notice left by the previous run, if any."""
        kind, message = st.session_state.pop(self.notice_key, (None, None))
        if message:
            getattr(st, kind)(escape_markdown(message))

    def request(self, action: str) -> None:
        """Remember the action a button asked for."""
        # A flag rather than the button's own value: the value is lost if the run restarts once more.
        st.session_state[self.pending_key] = action
