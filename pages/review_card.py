"""The rater's card: one item at a time (prompt, answer or A and B, rubric, comment), Save / Skip / Back."""

from __future__ import annotations

import streamlit as st

from bilan_core import BilanError, ReviewItemView, ReviewSession
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.review_view import (
    SCORE_CHOICES,
    CardInput,
    progress_line,
    rubric_choices,
    stored_choice,
)
from pages.shared import app_client

TOAST_KEY = "review_toast"
CARD_ERROR_KEY = "review_card_error"


def current_key(session_id: str, rater: str) -> str:
    """Where the rater's current item id is kept (None: ask for the next one)."""
    return f"review_current_{session_id}_{rater}"


def last_key(session_id: str, rater: str) -> str:
    """The last item the rater saw, for Back once nothing is left."""
    return f"review_last_{session_id}_{rater}"


def _widget(name: str, view: ReviewItemView) -> str:
    return f"review_{name}_{view.session_id}_{view.item_id}"


def show_card(session: ReviewSession, rater: str) -> None:
    """The rater's current item, or a word that nothing is left for them."""
    _show_notices()
    item_id = st.session_state.get(current_key(session.id, rater))
    try:
        view = session.item(item_id, rater) if item_id else session.next_item(rater)
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(f"The next item cannot be shown: {exc}"))
        return
    if view is None:
        _show_done(session, rater)
        return
    st.session_state[current_key(session.id, rater)] = view.item_id
    st.session_state[last_key(session.id, rater)] = view.item_id
    st.caption(f"{progress_line(view)} · item {view.position} of your queue")
    _show_item(view)
    _show_rubric(session, view, rater)


def _show_notices() -> None:
    toast = st.session_state.pop(TOAST_KEY, None)
    if toast:
        st.toast(toast)
    problem = st.session_state.pop(CARD_ERROR_KEY, None)
    if problem:
        st.error(escape_markdown(problem))


def _show_done(session: ReviewSession, rater: str) -> None:
    totals = next((one for one in session.progress() if one.rater == rater), None)
    rated = totals.rated if totals else 0
    st.success(f"Nothing left for you: you rated {rated} item{'s' if rated != 1 else ''}. Thank you!")
    last = st.session_state.get(last_key(session.id, rater))
    if last:
        st.button("Back to your last item", on_click=_go_to, args=(session.id, rater, last))


def _go_to(session_id: str, rater: str, item_id: int | None) -> None:
    st.session_state[current_key(session_id, rater)] = item_id


def _show_item(view: ReviewItemView) -> None:
    st.markdown("**Prompt**")
    with st.container(border=True):
        st.text(view.prompt or "(no prompt text was recorded)")
    if view.pairwise:
        left, right = st.columns(2)
        _show_answer(left, "Answer A", view.answer, view.model, view.variant)
        _show_answer(right, "Answer B", view.answer_b, view.model_b, view.variant_b)
    else:
        _show_answer(st.container(), "Answer", view.answer, view.model, view.variant)


def _show_answer(place, title: str, answer: str | None, *names: str | None) -> None:
    with place:
        st.markdown(f"**{title}**")
        with st.container(border=True):
            st.text(answer or "(no answer was recorded)")
        shown = [name for name in names if name]
        if shown:
            st.caption(escape_markdown(" · ".join(dict.fromkeys(shown))))


def _show_rubric(session: ReviewSession, view: ReviewItemView, rater: str) -> None:
    choices = rubric_choices(view.pairwise)
    stored = stored_choice(view.rating, view.pairwise)
    options = list(choices)
    with st.form(f"review_card_{view.session_id}_{view.item_id}", enter_to_submit=False):
        st.radio(
            "Your verdict" if view.pairwise else "Your rating",
            options,
            index=options.index(stored) if stored in options else None,
            format_func=choices.__getitem__,
            horizontal=True,
            key=_widget("choice", view),
        )
        scores = view.rating.scores if view.rating else {}
        for name in session.criteria:
            st.radio(
                f"{name} (1 poor – 5 excellent)",
                SCORE_CHOICES,
                index=SCORE_CHOICES.index(scores[name]) if name in scores else None,
                horizontal=True,
                key=_widget(f"score_{name}", view),
            )
        st.text_area(
            "Comment (optional)",
            value=(view.rating.comment if view.rating else None) or "",
            key=_widget("comment", view),
            placeholder="What is right or wrong with it?",
        )
        if view.rating is not None and not view.rating.complete:
            st.caption("Your comment is kept as a draft: it counts once you choose a rating.")
        arguments = (session.id, view, rater)
        save, skip, back = st.columns(3)
        with save:
            st.form_submit_button("Save and next", type="primary", on_click=_save, args=arguments)
        with skip:
            st.form_submit_button(
                "Skip", on_click=_skip, args=arguments, disabled=view.state == "rated",
                help="Pass it on to someone else; a comment you typed is kept as a draft.",
            )  # fmt: skip
        with back:
            st.form_submit_button(
                "Back", on_click=_back, args=arguments, disabled=view.previous_item_id is None
            )


def _entered(view: ReviewItemView, criteria: tuple[str, ...]) -> CardInput:
    return CardInput.from_form(
        st.session_state.get(_widget("choice", view)),
        {name: st.session_state.get(_widget(f"score_{name}", view)) for name in criteria},
        st.session_state.get(_widget("comment", view)),
    )


def _store(session: ReviewSession, view: ReviewItemView, rater: str, entered: CardInput) -> None:
    session.rate(view.item_id, rater, **entered.rate_arguments(view.pairwise))
    st.session_state[TOAST_KEY] = entered.saved_message(view.pairwise)


def _acting(session_id: str) -> ReviewSession:
    return app_client().get_review_session(session_id)


def _save(session_id: str, view: ReviewItemView, rater: str) -> None:
    try:
        session = _acting(session_id)
        entered = _entered(view, session.criteria)
        if entered.empty and view.rating is None:
            ask = "a verdict" if view.pairwise else "👍 Good or 👎 Bad"
            st.session_state[CARD_ERROR_KEY] = f"Choose {ask} first, or Skip this item."
            return
        if not entered.same_as(view.rating, view.pairwise):
            _store(session, view, rater, entered)
        if entered.complete:
            _go_to(session_id, rater, view.next_item_id)
    except (BilanError, ValueError) as exc:
        st.session_state[CARD_ERROR_KEY] = f"Not saved: {exc}"


def _skip(session_id: str, view: ReviewItemView, rater: str) -> None:
    try:
        session = _acting(session_id)
        draft = _entered(view, session.criteria).as_draft()  # a choice made before Skip is dropped
        kept = not draft.empty
        if kept:
            session.rate(view.item_id, rater, **draft.rate_arguments(view.pairwise))
        session.skip(view.item_id, rater)
        note = " Your comment is kept as a draft." if kept else ""
        st.session_state[TOAST_KEY] = f"Skipped: it goes to someone else.{note}"
        _go_to(session_id, rater, view.next_item_id)
    except (BilanError, ValueError) as exc:
        st.session_state[CARD_ERROR_KEY] = f"Not skipped: {exc}"


def _back(session_id: str, view: ReviewItemView, rater: str) -> None:
    try:
        session = _acting(session_id)
        entered = _entered(view, session.criteria)
        if not entered.empty and not entered.same_as(view.rating, view.pairwise):
            _store(session, view, rater, entered)
        _go_to(session_id, rater, view.previous_item_id)
    except (BilanError, ValueError) as exc:
        st.session_state[CARD_ERROR_KEY] = f"Not saved: {exc}"
