"""Compare: one prompt, two variants answering side by side, a blind vote, and the A/B leaderboard."""

from __future__ import annotations

from contextlib import closing

import streamlit as st

from bilan_core import Bilan, BilanError, NotFoundError
from bilan_core.analytics.bradley_terry import Leaderboard
from bilan_core.app.compare_view import pairs_table, ratings_table
from bilan_core.app.feedback_prompts import apply_thumbs, thumbs_from_vote
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.experiments.charts import rating_intervals_chart, win_rate_chart
from bilan_core.experiments.comparisons import (
    Variant,
    comparison_leaderboard,
    record_preference,
    side_variants,
    start_comparison,
    stream_comparison,
    verdict_choices,
)
from bilan_core.store.comparisons import SIDES, ComparisonView, SideView
from pages.model_choice import TYPE_ANY_MODEL, model_options
from pages.shared import app_client, current_team_session, current_user, offline_banner, visitor_client

CURRENT_KEY = "compare_current_id"
ERRORS_KEY = "compare_side_errors"
NOTICE_KEY = "compare_notice"
PENDING_KEY = "compare_pending"
RETRY_KEY = "compare_retry"
PROMPT_KEY = "compare_prompt"
BLIND_KEY = "compare_blind"
BLIND_TEAM_KEY = "compare_blind_team_session"
TEAM_ONLY_KEY = "compare_team_only"
DEFAULT_TEMPERATURES = (0.7, 0.2)
VERDICTS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}
VERDICT_ICONS = {"a": "🅰️", "b": "🅱️", "tie": "🤝", "both_bad": "👎"}
# Pixel widths that fit the page at 1440 px, so the verdict is never cut off (a long name ellipsizes).
PAIR_WIDTHS = {
    "Variant": st.column_config.TextColumn(width=220),
    "Against": st.column_config.TextColumn(width=220),
    "Wins": st.column_config.NumberColumn(width=55),
    "Losses": st.column_config.NumberColumn(width=60),
    "Ties": st.column_config.NumberColumn(width=50),
    "Both bad": st.column_config.NumberColumn(width=70),
    "p-value": st.column_config.TextColumn(width=70),
    "Verdict": st.column_config.TextColumn(width=230),
}
NAME_HELP = (
    "What the leaderboard calls this variant. Left empty, it is named after its settings; name variants "
    "you will compare again, so their votes add up under one name."
)


def follow_team_session_for_blind_mode() -> None:
    """Blind mode is on by default in a team session: reset the toggle when the team session changes."""
    team = current_team_session()
    if BLIND_KEY not in st.session_state or st.session_state.get(BLIND_TEAM_KEY) != team:
        st.session_state[BLIND_KEY] = team is not None
        st.session_state[BLIND_TEAM_KEY] = team


def retry_requested(side: str) -> None:
    st.session_state[RETRY_KEY] = side


def comparison_requested() -> None:
    # A flag rather than the button's own value: the value is lost if the run restarts once more.
    st.session_state[PENDING_KEY] = True


def note(message: str) -> None:
    st.session_state[NOTICE_KEY] = message


def variant_editor(number: int) -> None:
    options = model_options()
    st.subheader(f"Variant {number}")
    # persist_state: what was typed is still there after a look at another page.
    kept = {"persist_state": "session"}
    st.text_input(
        "Name",
        key=f"compare_name_{number}",
        max_chars=80,
        placeholder=automatic_name(number),
        help=NAME_HELP,
        **kept,
    )
    st.selectbox(
        "Model",
        options,
        index=min(number - 1, len(options) - 1),
        key=f"compare_model_{number}",
        accept_new_options=True,
        help=TYPE_ANY_MODEL,
        **kept,
    )
    st.text_area(
        "System prompt", key=f"compare_system_{number}", placeholder="You are a helpful assistant.", **kept
    )
    # Different default temperatures, so two variants differ even when only one model answers (offline).
    default = DEFAULT_TEMPERATURES[number - 1]
    st.slider("Temperature", 0.0, 2.0, value=default, step=0.1, key=f"compare_temperature_{number}", **kept)
    st.text_input(
        "Prompt version", key=f"compare_version_{number}", placeholder="e.g. v2", max_chars=200, **kept
    )


def automatic_name(number: int) -> str:
    """The name the variant gets when none is typed (from the settings of the previous run)."""
    try:
        return variant_from_editor(number, named=False).display_label
    except (KeyError, ValueError):
        return "named after its settings"


def variant_from_editor(number: int, *, named: bool = True) -> Variant:
    state = st.session_state
    system = state.get(f"compare_system_{number}") or ""
    return Variant(
        model=state[f"compare_model_{number}"],
        system_prompt=system if system.strip() else None,
        temperature=state[f"compare_temperature_{number}"],
        prompt_version=(state.get(f"compare_version_{number}") or "").strip() or None,
        label=(state.get(f"compare_name_{number}") or "").strip() or None if named else None,
    )


def side_heading(view: SideView) -> str:
    if view.label is None:
        return view.side.upper()
    return f"{view.side.upper()} · {escape_markdown(view.label)}"


def show_side_heading(view: SideView, variant: Variant) -> None:
    """The side's letter, and once revealed its variant's name with every setting on hover."""
    st.subheader(side_heading(view), help=None if view.label is None else escape_markdown(variant.describe()))


def run_comparison(client: Bilan) -> None:
    """Store a new comparison from the form and stream both answers side by side."""
    try:
        comparison = start_comparison(
            client,
            st.session_state.get(PROMPT_KEY) or "",
            variant_from_editor(1),
            variant_from_editor(2),
            blind=st.session_state[BLIND_KEY],
        )
    except (BilanError, ValueError) as exc:
        st.error(escape_markdown(str(exc)))
        return
    st.session_state[CURRENT_KEY] = comparison.id
    columns = dict(zip(SIDES, st.columns(2), strict=True))
    slots = {}
    for side, column in columns.items():
        column.subheader(side.upper())
        slots[side] = column.empty()
    texts = dict.fromkeys(SIDES, "")
    errors: dict[str, str] = {}
    # Both sides arrive interleaved from one iterator, so each column's text grows as its pieces come.
    # closing(): a rerun (a click elsewhere) stops both sides at once, their turns kept as cancelled.
    with closing(stream_comparison(client, comparison.id)) as pieces:
        for piece in pieces:
            if piece.error is not None:
                errors[piece.side] = str(piece.error)
            elif piece.text:
                texts[piece.side] += piece.text
                slots[piece.side].markdown(texts[piece.side])
    st.session_state[ERRORS_KEY] = {comparison.id: errors}
    st.rerun()


def retry_side(client: Bilan, comparison_id: str, side: str) -> None:
    """Ask one side again (it failed the first time), streaming its answer where it failed."""
    errors = st.session_state.setdefault(ERRORS_KEY, {}).setdefault(comparison_id, {})
    errors.pop(side, None)
    slot = st.empty()
    text = ""
    try:
        with closing(stream_comparison(client, comparison_id, sides=[side])) as pieces:
            for piece in pieces:
                if piece.error is not None:
                    errors[side] = str(piece.error)
                elif piece.text:
                    text += piece.text
                    slot.markdown(text)
    except (BilanError, ValueError) as exc:
        note(f"Side {side.upper()} was not asked again: {exc}")
    st.rerun()


def thumbs_changed(prompt_id: str, widget_key: str) -> None:
    try:
        apply_thumbs(visitor_client(), prompt_id, st.session_state[widget_key])
    except (BilanError, ValueError) as exc:
        note(f"Your vote was not saved: {exc}")


def decided(comparison_id: str, winner: str, comment_key: str) -> None:
    try:
        record_preference(visitor_client(), comparison_id, winner, st.session_state.get(comment_key) or None)
    except (BilanError, ValueError) as exc:
        note(f"Your verdict was not saved: {exc}")


def show_side(view: SideView, variant: Variant, error: str | None, can_retry: bool) -> None:
    show_side_heading(view, variant)
    if view.prompt_id is None or view.answer is None:
        reason = error or "the answer stopped before the end"
        st.error(escape_markdown(f"Side {view.side.upper()} did not answer: {reason}"))
        if can_retry:
            st.button(
                f"Retry side {view.side.upper()}",
                key=f"compare_retry_{view.side}",
                icon=":material/refresh:",
                on_click=retry_requested,
                args=(view.side,),
            )
        return
    st.markdown(view.answer)
    if view.label is not None:
        figures = f"{view.latency_ms or 0:,.0f} ms · {view.completion_tokens or 0} completion tokens"
        st.caption(figures)
    widget_key = f"compare_thumbs_{view.prompt_id}"
    st.session_state[widget_key] = thumbs_from_vote(view.vote)
    st.feedback("thumbs", key=widget_key, on_change=thumbs_changed, args=(view.prompt_id, widget_key))


def verdict_form(view: ComparisonView, choices: tuple[str, ...]) -> None:
    comparison_id = view.comparison.id
    comment_key = f"compare_comment_{comparison_id}"
    if len(choices) < len(VERDICTS):
        st.caption("One side failed: judge what came back (or retry that side first).")
    st.text_area(
        "Comment (optional)", key=comment_key, max_chars=10_000, placeholder="What made the difference?"
    )
    offered = {winner: VERDICTS[winner] for winner in choices}
    for column, (winner, label) in zip(st.columns(len(VERDICTS)), offered.items(), strict=False):
        column.button(
            label,
            icon=VERDICT_ICONS[winner],
            key=f"compare_verdict_{winner}",
            on_click=decided,
            args=(comparison_id, winner, comment_key),
            width="stretch",
        )
    if view.comparison.blind:
        st.caption("Blind mode: which variant wrote each answer is shown after your verdict.")


def show_verdict(view: ComparisonView) -> None:
    comparison = view.comparison
    winner = comparison.winner or ""
    st.success(f"Your verdict: {VERDICTS[winner]}.", icon=VERDICT_ICONS[winner])
    if comparison.blind:
        st.markdown(
            f"Revealed: **A** was {escape_markdown(comparison.label_a)}, "
            f"**B** was {escape_markdown(comparison.label_b)}."
        )
    if comparison.comment:
        st.text(f"Your comment: {comparison.comment}")


def show_current(client: Bilan) -> None:
    comparison_id = st.session_state.get(CURRENT_KEY)
    if not comparison_id:
        return
    try:
        view = client.comparison_view(comparison_id, user_id=current_user())
    except NotFoundError:
        st.session_state.pop(CURRENT_KEY, None)
        return
    retry = st.session_state.pop(RETRY_KEY, None)
    if retry in SIDES and view.comparison.winner is None:
        retry_side(visitor_client(), comparison_id, retry)
    errors = st.session_state.get(ERRORS_KEY, {}).get(comparison_id, {})
    undecided = view.comparison.winner is None
    variants = side_variants(view.comparison)
    for side, column in zip(SIDES, st.columns(2), strict=True):
        with column:
            show_side(view.sides[side], variants[side], errors.get(side), can_retry=undecided)
    choices = verdict_choices(view.sides)
    if undecided and choices:
        verdict_form(view, choices)
    elif not undecided:
        show_verdict(view)


@st.cache_data(show_spinner=False, max_entries=20)
def cached_leaderboard(version: tuple[int, int], team_session: str | None) -> Leaderboard:
    """The leaderboard, recomputed only when a verdict was added (``version`` changes)."""
    del version  # only the cache key
    return comparison_leaderboard(app_client(), team_session=team_session)


def show_leaderboard(client: Bilan) -> None:
    st.header("Leaderboard")
    team = current_team_session()
    team_only = team is not None and st.toggle(
        f"Only the team session “{escape_markdown(team)}”", key=TEAM_ONLY_KEY
    )
    board = cached_leaderboard(client.comparisons_version(), team if team_only else None)
    if board.ratings.empty:
        st.info("No verdict yet: compare a few answers and vote to build the leaderboard.")
        return
    if not board.has_enough_votes:
        st.info(
            f"Not enough votes yet: ratings settle once a variant has {board.min_votes} rated votes "
            "(BILAN_LEADERBOARD_MIN_VOTES). The figures below are provisional."
        )
    st.dataframe(
        ratings_table(board.ratings),
        hide_index=True,
        width="stretch",
        column_config={"Variant": st.column_config.TextColumn(width="large")},
    )
    st.altair_chart(rating_intervals_chart(board.ratings), width="stretch")
    st.subheader("Head to head")
    st.altair_chart(win_rate_chart(board.win_rates), width="stretch")
    st.subheader("Is the difference real?")
    st.caption(
        "Exact two-sided binomial test on the decisive votes of each pair (ties and 'both bad' left out)."
    )
    st.dataframe(
        pairs_table(board.pairs),
        hide_index=True,
        width="stretch",
        column_config=PAIR_WIDTHS,
    )


client = app_client()
st.title("Compare")
offline_banner()

notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.warning(escape_markdown(notice))

st.text_area(
    "Prompt",
    key=PROMPT_KEY,
    placeholder="Ask both variants the same thing.",
    max_chars=100_000,
    persist_state="session",
)
first_column, second_column = st.columns(2)
with first_column:
    variant_editor(1)
with second_column:
    variant_editor(2)
follow_team_session_for_blind_mode()
st.toggle(
    "Blind mode",
    key=BLIND_KEY,
    help="Label the answers A and B in random order; which variant wrote each is shown after your verdict. "
    "On by default in a team session.",
)
st.button("Compare", type="primary", key="compare_run", on_click=comparison_requested)
if st.session_state.pop(PENDING_KEY, False):
    run_comparison(visitor_client())
show_current(client)
show_leaderboard(client)
