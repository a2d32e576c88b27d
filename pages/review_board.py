"""The facilitator's board: it redraws itself while open (progress, results, disputed items, newest comments,
agreement), shares the raters' link, and closes the session after a confirmation; then it shows the report."""

from __future__ import annotations

import streamlit as st

from bilan_core import BilanError, ReviewSession
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.review_view import REPORT_PARAM, REVIEW_PARAM, shared_link
from bilan_core.reviews.board import ReviewBoard
from pages.review_report import results_columns, show_report
from pages.review_sessions import REVIEW_PAGE
from pages.shared import app_client

REFRESH_SECONDS = 5
CONFIRM_CLOSE_KEY = "review_confirm_close"
CLOSED_NOTICE_KEY = "review_closed_notice"


def show_board(session: ReviewSession) -> None:
    """The board of an open session (live), or the report of a closed one."""
    st.caption("Facilitator's board")
    if st.session_state.pop(CLOSED_NOTICE_KEY, None):
        st.success("The session is closed: the report is ready.")
    if session.status == "open":
        st.write("Share this link with the raters (each types their name once):")
        st.code(shared_link(st.context.url, session.id), language=None)
        if _close_controls(session):
            _draw(session.board())  # held still while the close is confirmed, so no redraw races the click
        else:
            _live_board(session.id)
    else:
        st.info("This session is closed: its report follows. Share it by its own link:")
        st.page_link(
            REVIEW_PAGE, label="The report's link", query_params={REVIEW_PARAM: session.id, REPORT_PARAM: "1"}
        )
        show_report(session)


def _close_controls(session: ReviewSession) -> bool:
    """The Close button, or its confirmation; True while the confirmation is asked."""
    if st.session_state.get(CONFIRM_CLOSE_KEY) != session.id:
        st.button("Close session…", on_click=_ask_close, args=(session.id,))
        return False
    st.warning("Close the session? Raters can no longer rate, and a blind session shows its models.")
    yes, no = st.columns(2)
    yes.button("Yes, close it", type="primary", on_click=_close, args=(session.id,))
    no.button("Cancel", on_click=_ask_close, args=(None,))
    return True


def _ask_close(session_id: str | None) -> None:
    st.session_state[CONFIRM_CLOSE_KEY] = session_id


def _close(session_id: str) -> None:
    st.session_state[CONFIRM_CLOSE_KEY] = None
    try:
        app_client().get_review_session(session_id).close()
    except (BilanError, ValueError) as exc:
        st.session_state[CLOSED_NOTICE_KEY] = None
        st.toast(escape_markdown(f"Not closed: {exc}"))
        return
    st.session_state[CLOSED_NOTICE_KEY] = True


@st.cache_data(ttl=60, show_spinner=False, max_entries=16)
def _board(session_id: str, version: tuple[object, ...]) -> ReviewBoard:
    """The board's figures (``version``: the data version, everyone's progress and the status, is only
    the cache key), so a redraw with nothing new reads only those."""
    return app_client().get_review_session(session_id).board()


@st.fragment(run_every=REFRESH_SECONDS)
def _live_board(session_id: str) -> None:
    try:
        client = app_client()
        session = client.get_review_session(session_id)
        board = _board(session_id, (client.data_version(), tuple(session.progress()), session.status))
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(f"The board cannot be read: {exc}"))
        return
    if board.session.status != "open":
        st.info("The session was closed: reload the page for the report.")
    st.caption(f"Updates every {REFRESH_SECONDS} seconds while this page is open.")
    _draw(board)


def _draw(board: ReviewBoard) -> None:
    _progress(board)
    _results(board)
    _disputed(board)
    _comments(board)


def _progress(board: ReviewBoard) -> None:
    overall = board.overall
    st.subheader("Progress")
    columns = st.columns(4)
    columns[0].metric("Ratings", f"{overall.ratings} of {overall.wanted_ratings}")
    columns[1].metric("Items rated", f"{overall.rated_items} of {overall.items}")
    columns[2].metric("Raters", overall.raters)
    columns[3].metric("Skipped / drafts", f"{overall.skipped} / {overall.drafts}")
    st.progress(overall.done, text=f"{overall.done:.0%} of the wanted ratings given")
    if board.raters.empty:
        st.info("Nobody has joined yet.")
        return
    st.dataframe(
        board.raters,
        hide_index=True,
        column_config={
            "done": st.column_config.ProgressColumn("done", min_value=0.0, max_value=1.0, format="percent")
        },
    )


def _results(board: ReviewBoard) -> None:
    st.subheader("Results so far")
    if board.results.empty:
        st.info("No rating yet.")
        return
    if board.leaderboard is not None:
        st.caption("Bradley–Terry ratings from the verdicts, with 95 % intervals.")
    else:
        st.caption("Trust is the share of 👍 good ratings, with its 95 % interval.")
    st.dataframe(board.results, hide_index=True, column_config=results_columns(board.results))
    overall = board.agreement.overall
    if overall.judged:
        st.caption(
            f"Agreement so far (Krippendorff's alpha on the {overall.measure}s): {overall.alpha:.2f} "
            f"[{overall.ci_low:.2f}, {overall.ci_high:.2f}] — {overall.reading}"
        )
    else:
        st.caption(escape_markdown(f"Agreement: {overall.note}"))
    with st.expander("Agreement in detail: each criterion and each rater"):
        st.dataframe(board.agreement.table(), hide_index=True)
        st.dataframe(board.agreement.raters, hide_index=True)
        st.caption(escape_markdown(board.agreement.outlier_rule))


def _disputed(board: ReviewBoard) -> None:
    st.subheader("Most disputed")
    if board.disputed.empty:
        st.caption("No item has split ratings yet.")
        return
    for row in board.disputed.itertuples():
        with st.container(border=True):
            st.caption(escape_markdown(f"Item {row.item_id} · {row.label} · {row.summary}"))
            st.text(row.prompt or "")
            said = board.disputed_comments[board.disputed_comments["item_id"] == row.item_id]
            for comment in said.itertuples():
                if isinstance(comment.comment, str) and comment.comment.strip():
                    st.text(f"{comment.rater} ({comment.rating}): {comment.comment}")


def _comments(board: ReviewBoard) -> None:
    st.subheader("Newest comments")
    if board.comments.empty:
        st.caption("No comment yet.")
        return
    for row in board.comments.itertuples():
        st.text(f"{row.rater} on item {row.item_id} ({row.rating}): {row.comment}")
