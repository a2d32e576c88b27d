"""The Reviews list: every session with its links (rate, board, report), and the form that creates one."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from bilan_core import Bilan, BilanError
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.review_view import (
    BOARD_PARAM,
    FEEDBACK_CHOICES,
    REPORT_PARAM,
    REVIEW_PARAM,
    criteria_from_text,
    raters_per_item_from_input,
    recent_filter,
)
from pages.shared import app_client, current_user

REVIEW_PAGE = "pages/review.py"
SOURCE_KEY = "review_new_source"
FROM_TURNS, FROM_RUN = "Recorded answers", "An experiment run"
NEW_FIELDS = ("name", "days", "models", "feedback", "sample", "run", "pairwise", "criteria", "k", "blind")
NEW_KEYS = {name: f"review_new_{name}" for name in (*NEW_FIELDS, "text")}
CREATE_ERROR_KEY = "review_new_error"
SESSIONS_LISTED = 30


def show_sessions(client: Bilan) -> None:
    """The list of sessions and the create form."""
    st.title("Reviews")
    st.caption(
        "A review session hands recorded answers to a team one at a time. Share its link: each person types "
        "their name once and rates one card at a time; the board follows progress and results live."
    )
    with st.expander("Create a session", expanded=False):
        _create_form(client)
    try:
        sessions = client.list_review_sessions(limit=SESSIONS_LISTED)
    except BilanError as exc:
        st.error(escape_markdown(f"The sessions cannot be read: {exc}"))
        return
    if not sessions:
        st.info("No review session yet: create one above, or with `create_review_session()` in Python.")
        return
    for info in sessions:
        with st.container(border=True):
            name, links = st.columns([3, 2])
            created = datetime.fromtimestamp(info.created_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            name.markdown(f"**{escape_markdown(info.name)}**")
            name.caption(
                f"{info.status} · {info.item_count} items · "
                f"{'pairwise' if info.pairwise else 'single answers'} · created {created}"
            )
            row = links.columns(3)
            if info.status == "open":
                row[0].page_link(REVIEW_PAGE, label="Rate", query_params={REVIEW_PARAM: info.id})
            row[1].page_link(
                REVIEW_PAGE, label="Board", query_params={REVIEW_PARAM: info.id, BOARD_PARAM: "1"}
            )
            row[2].page_link(
                REVIEW_PAGE, label="Report", query_params={REVIEW_PARAM: info.id, REPORT_PARAM: "1"}
            )


def _create_form(client: Bilan) -> None:
    source = st.radio("Items from", [FROM_TURNS, FROM_RUN], horizontal=True, key=SOURCE_KEY)
    runs = client.recent_experiment_runs(limit=20) if source == FROM_RUN else []
    if source == FROM_RUN and not runs:
        st.info("No experiment run yet: run one on the Experiments page, or take recorded answers.")
        return
    with st.form("review_new", enter_to_submit=False):
        st.text_input("Name", key=NEW_KEYS["name"], max_chars=200, placeholder="e.g. Friday review")
        if source == FROM_TURNS:
            days, sample = st.columns(2)
            days.number_input("From the last … days", 1, 3650, 7, key=NEW_KEYS["days"])
            sample.number_input("Sample of … answers", 1, 10_000, 40, key=NEW_KEYS["sample"])
            models = client.filter_options().get("models", [])
            st.multiselect("Models", models, key=NEW_KEYS["models"], placeholder="All models")
            st.multiselect(
                "Feedback so far", list(FEEDBACK_CHOICES), format_func=FEEDBACK_CHOICES.__getitem__,
                key=NEW_KEYS["feedback"], placeholder="Any feedback",
            )  # fmt: skip
        else:
            labels = {run.id: f"{run.file_name} · {run.succeeded} answers · {run.id[:8]}" for run in runs}
            st.selectbox("Experiment run", list(labels), format_func=labels.__getitem__, key=NEW_KEYS["run"])
            st.checkbox("Pairwise: compare the variants' answers side by side", key=NEW_KEYS["pairwise"])
        st.text_input("Criteria scored 1–5 (optional, comma-separated)", key=NEW_KEYS["criteria"],
                      placeholder="e.g. accuracy, tone")  # fmt: skip
        k, blind = st.columns(2)
        k.number_input("Raters per item (0: everyone rates everything)", 0, 100, 3, key=NEW_KEYS["k"])
        blind.checkbox("Blind: hide models and variants until closed", value=True, key=NEW_KEYS["blind"])
        st.text_area("Instructions for the raters (optional)", key=NEW_KEYS["text"])
        st.form_submit_button("Create session", type="primary", on_click=_create, args=(source,))
    problem = st.session_state.pop(CREATE_ERROR_KEY, None)
    if problem:
        st.error(escape_markdown(problem))


def _create(source: str) -> None:
    state = st.session_state
    client = app_client().with_identity(user_id=current_user())
    common = {
        "criteria": criteria_from_text(state.get(NEW_KEYS["criteria"])),
        "raters_per_item": raters_per_item_from_input(state.get(NEW_KEYS["k"])),
        "blind": bool(state.get(NEW_KEYS["blind"], True)),
        "instructions": (state.get(NEW_KEYS["text"]) or "").strip() or None,
    }
    try:
        name = (state.get(NEW_KEYS["name"]) or "").strip()
        if not name:
            raise ValueError("give the session a name")
        if source == FROM_RUN:
            session = client.create_review_session(
                name,
                run_id=state.get(NEW_KEYS["run"]),
                pairwise=bool(state.get(NEW_KEYS["pairwise"])),
                **common,
            )
        else:
            session = client.create_review_session(
                name,
                filter=recent_filter(
                    int(state.get(NEW_KEYS["days"]) or 7), tuple(state.get(NEW_KEYS["models"]) or ())
                ),
                feedback=tuple(state.get(NEW_KEYS["feedback"]) or ()),
                sample=int(state.get(NEW_KEYS["sample"]) or 40),
                **common,
            )
    except (BilanError, ValueError) as exc:
        state[CREATE_ERROR_KEY] = f"The session was not created: {exc}"
        return
    st.query_params.from_dict({REVIEW_PARAM: session.id, BOARD_PARAM: "1"})
