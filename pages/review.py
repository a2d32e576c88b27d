"""Reviews: the sessions and a form to create one; ``?review=<id>`` is the rater's card, ``&board=1`` the
facilitator's board and ``&report=1`` the report."""

import streamlit as st

from bilan_core import BilanError, ReviewSession
from bilan_core.app.identity import user_id_from_display_name
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.review_view import BOARD_PARAM, REPORT_PARAM, REVIEW_PARAM
from pages.review_board import show_board
from pages.review_card import show_card
from pages.review_report import show_report
from pages.review_sessions import REVIEW_PAGE, show_sessions
from pages.shared import NAME_INPUT_KEY, USER_KEY, app_client

RATER_NAME_KEY = "review_rater_name"
RATER_NAME_ERROR_KEY = "review_rater_name_error"


def open_session(session_id: str) -> ReviewSession:
    """The linked session, or a clear message and a link to the list when there is none."""
    try:
        return client.get_review_session(session_id)
    except (BilanError, ValueError) as exc:
        st.title("Review session")
        st.error(escape_markdown(f"This link opens no review session: {exc}"))
        st.page_link(REVIEW_PAGE, label="See every review session", query_params={})
        st.stop()


def name_given() -> None:
    try:
        name = user_id_from_display_name(st.session_state.get(RATER_NAME_KEY))
    except ValueError as exc:
        st.session_state[RATER_NAME_ERROR_KEY] = str(exc)
        return
    if name is None:
        st.session_state[RATER_NAME_ERROR_KEY] = "Type your name to join."
        return
    st.session_state[USER_KEY] = name
    st.session_state[NAME_INPUT_KEY] = name


def ask_name() -> None:
    """The name is asked once and kept like the sidebar's (and in the link, ``?user=``)."""
    st.write("Type your name to join: your ratings are recorded under it, and it is kept for this visit.")
    with st.form("review_join", enter_to_submit=True):
        st.text_input("Your name", key=RATER_NAME_KEY, max_chars=200)
        st.form_submit_button("Join", type="primary", on_click=name_given)
    problem = st.session_state.pop(RATER_NAME_ERROR_KEY, None)
    if problem:
        st.error(escape_markdown(problem))


def show_rater_page(session: ReviewSession) -> None:
    """The rater's side: closed, asking the name, or the card."""
    if session.status != "open":
        st.info("This session is closed: no more ratings. Thank you to everyone who rated.")
        st.page_link(
            REVIEW_PAGE, label="Read the report", query_params={REVIEW_PARAM: session.id, REPORT_PARAM: "1"}
        )
        return
    rater = st.session_state.get(USER_KEY)
    if not rater:
        ask_name()
        return
    joined = f"review_joined_{session.id}"
    if st.session_state.get(joined) != rater:
        session.join(rater)
        st.session_state[joined] = rater
    st.caption(escape_markdown(f"Rating as {rater}"))
    if session.instructions:
        st.info(escape_markdown(session.instructions))
    show_card(session, rater)


client = app_client()
session_id = st.query_params.get(REVIEW_PARAM)
if not session_id:
    show_sessions(client)
    st.stop()
session = open_session(session_id)
st.title(escape_markdown(session.name))
if st.query_params.get(REPORT_PARAM):
    show_report(session)
elif st.query_params.get(BOARD_PARAM):
    show_board(session)
else:
    show_rater_page(session)
