"""Analytics: trust, votes, comments, usage, latency and cost per model, with the filters in the URL.

Every chart opens on the answers behind a clicked mark (the drill-down list under the charts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pandas as pd
import streamlit as st

from bilan_core import BilanError
from bilan_core.analytics import charts as chart_builders
from bilan_core.analytics.answers import AnswersPage
from bilan_core.analytics.charts import LATENCY_PANELS, MIN_VERSION_VOTES, SELECTIONS
from bilan_core.analytics.dashboard import LOW_VOTE_DAY, AnalyticsFilter, CommentsPage, Dashboard
from bilan_core.analytics.exports import EXPORT_FILES
from bilan_core.analytics.rollups import ROLLING_DAYS
from bilan_core.app.analytics_view import (
    QUERY_KEYS,
    TIME_RANGES,
    PageFilters,
    default_session,
    filters_from_query,
    headline_metrics,
    price_rows,
    trust_summary,
)
from bilan_core.app.comment_filters import (
    COMMENT_QUERY_KEYS,
    VOTE_LABELS,
    VOTE_SIGNS,
    CommentFilters,
    comment_filters_from_query,
)
from bilan_core.app.drilldown import Drill, drill_from_selection
from bilan_core.app.export_names import export_file_name
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.clock import now_ms
from pages.answer_cards import answer_card, comment_card
from pages.comment_themes_view import comment_themes_section
from pages.dataset_picker import add_to_dataset_popover
from pages.shared import TEAM_SESSION_KEY, app_client, show_error

CACHE_SECONDS = 60
RANGE_KEY = "analytics_range"
FROM_KEY = "analytics_from"
TO_KEY = "analytics_to"
MODELS_KEY = "analytics_models"
USERS_KEY = "analytics_users"
SESSION_KEY = "analytics_team_session"
VERSIONS_KEY = "analytics_prompt_versions"
PROMPTS_KEY = "analytics_stored_prompts"
SEARCH_KEY = "analytics_comment_search"
SIGN_KEY = "analytics_comment_sign"
PAGE_KEY = "analytics_comment_page"
PROBLEMS_KEY = "analytics_link_problems"
DRILL_CHART_KEY = "analytics_drill_chart"
DRILL_PAGE_KEY = "analytics_drill_page"
CHART_KEY = "analytics_chart_{}"
# Streamlit empties the query string on a page switch: the filters live on in the session instead.
KEPT = {"persist_state": "session"}
EXPORT_LABELS = {
    "csv": "Turns and votes (CSV)",
    "finetune": "Fine-tuning JSONL (👍 up answers)",
    "dpo": "DPO preference pairs (JSONL)",
}
NO_DATA = (
    "No turns or votes yet. Chat and vote in the **Playground**, or load realistic synthetic history "
    "with `python -m bilan_core demo-data --turns 10000`, then come back."
)


# --- cached reads: keyed on the filter and the data version, so a new vote shows at once ----------


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=32)
def load_options(version: tuple[int, ...]) -> dict[str, list[str]]:
    """The filter choices (``version`` is only the cache key)."""
    return app_client().filter_options()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Computing the analytics…", max_entries=32)
def load_dashboard(where: AnalyticsFilter, version: tuple[int, ...]) -> Dashboard:
    """Every figure for one filter (``version`` is only the cache key)."""
    return app_client().dashboard(where)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=64)
def load_comments(
    where: AnalyticsFilter, search: str, sign: int | None, page: int, version: tuple[int, ...]
) -> CommentsPage:
    """One page of comments (``version`` is only the cache key)."""
    return app_client().comments(where, search=search, sign=sign, page=page)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=64)
def load_answers(drill: Drill, page: int, version: tuple[int, ...]) -> AnswersPage:
    """One page of the answers behind a clicked mark (``version`` is only the cache key)."""
    return app_client().answers(drill.where, **drill.query, page=page)


# --- filters <-> widgets <-> query string -----------------------------------------------------------


def restore_filters_from_url(mine: str | None) -> None:
    """On arriving at the page, set the filter widgets and the comment search from the link."""
    if RANGE_KEY in st.session_state:
        return
    params = {key: st.query_params.get_all(key) for key in (*QUERY_KEYS, *COMMENT_QUERY_KEYS)}
    parsed = filters_from_query(params, own_session=mine)
    picked = parsed.filters
    today = datetime.now(UTC).date()
    st.session_state[RANGE_KEY] = picked.time_range
    st.session_state[FROM_KEY] = picked.start_day or today - timedelta(days=29)
    st.session_state[TO_KEY] = picked.end_day or today
    st.session_state[MODELS_KEY] = list(picked.models)
    st.session_state[USERS_KEY] = list(picked.users)
    st.session_state[SESSION_KEY] = picked.team_session
    st.session_state[VERSIONS_KEY] = list(picked.prompt_versions)
    st.session_state[PROMPTS_KEY] = list(picked.prompts)
    comments, comment_problems = comment_filters_from_query(params)
    st.session_state[SEARCH_KEY] = comments.search
    st.session_state[SIGN_KEY] = comments.vote
    st.session_state[PROBLEMS_KEY] = parsed.problems + comment_problems


def keep_in_url(keys: tuple[str, ...], wanted: dict[str, str | list[str]]) -> None:
    """Write these parameters to the query string (other parameters, like the identity, stay)."""
    for key in keys:
        value = wanted.get(key)
        current = st.query_params.get_all(key)
        if value is None:
            if current:
                del st.query_params[key]
        elif current != ([value] if isinstance(value, str) else value):
            st.query_params[key] = value


def with_selected(options: list[str], selected: list[str] | str | None) -> list[str]:
    """The choices plus whatever the link selected, so a shared view is kept even without data."""
    chosen = [selected] if isinstance(selected, str) else list(selected or [])
    return sorted(set(options) | set(chosen))


def filter_widgets(options: dict[str, list[str]], mine: str | None) -> PageFilters:
    """The filter row; returns what is picked."""
    top = st.columns([2, 3, 3, 2, 2, 2])
    time_range = top[0].selectbox(
        "Time range", list(TIME_RANGES), format_func=TIME_RANGES.get, key=RANGE_KEY, **KEPT
    )
    models = top[1].multiselect(
        "Models",
        with_selected(options["models"], st.session_state[MODELS_KEY]),
        key=MODELS_KEY,
        **KEPT,
        placeholder="All models",
    )
    users = top[2].multiselect(
        "Users",
        with_selected(options["users"], st.session_state[USERS_KEY]),
        key=USERS_KEY,
        **KEPT,
        placeholder="All users",
    )
    sessions = [None, *with_selected(options["team_sessions"], st.session_state[SESSION_KEY])]
    team_session = top[3].selectbox(
        "Team session",
        sessions,
        format_func=lambda value: "All" if value is None else value + (" (yours)" if value == mine else ""),
        key=SESSION_KEY,
        **KEPT,
        placeholder="All",  # None ("All") reads as no choice to Streamlit, which shows the placeholder
        help="Starts on your own team session (sidebar) when you have one.",
    )
    versions = top[4].multiselect(
        "Prompt versions",
        with_selected(options["prompt_versions"], st.session_state[VERSIONS_KEY]),
        key=VERSIONS_KEY,
        **KEPT,
        placeholder="All versions",
    )
    prompts = top[5].multiselect(
        "Stored prompts",
        with_selected(options.get("prompts", []), st.session_state[PROMPTS_KEY]),
        key=PROMPTS_KEY,
        **KEPT,
        placeholder="All",
        help="Answers made with these stored prompt versions (prompt=), matched exactly.",
    )
    start_day = end_day = None
    if time_range == "custom":
        days = st.columns([2, 2, 8])
        start_day = days[0].date_input("From (UTC)", key=FROM_KEY, **KEPT)
        end_day = days[1].date_input("To (UTC, included)", key=TO_KEY, **KEPT)
    return PageFilters(
        time_range=time_range,
        start_day=start_day if isinstance(start_day, date) else None,
        end_day=end_day if isinstance(end_day, date) else None,
        models=tuple(models),
        users=tuple(users),
        team_session=team_session,
        prompt_versions=tuple(versions),
        prompts=tuple(prompts),
    )


# --- sections ----------------------------------------------------------------------------------------


def headline_row(board: Dashboard) -> None:
    metrics = headline_metrics(board.headline, board.previous)
    for row in (metrics[:4], metrics[4:]):
        for column, metric in zip(st.columns(len(row)), row, strict=True):
            column.metric(
                metric.label,
                metric.value,
                metric.delta,
                delta_color=metric.delta_color,
                help=escape_markdown(metric.help),  # it can name models, which callers choose freely
            )
    summary = trust_summary(board.headline)
    if summary:
        st.caption(summary)


def price_table(board: Dashboard) -> None:
    with st.expander("Prices behind the estimated cost"):
        st.dataframe(price_rows(app_client().prices(), board.headline.unpriced_models), hide_index=True)
        st.caption("Defaults for common OpenAI models; add or change prices with `BILAN_PRICES` (JSON).")


def remember_drill(chart: str) -> None:
    """The last chart clicked is the one whose answers are listed."""
    st.session_state[DRILL_CHART_KEY] = chart
    st.session_state[DRILL_PAGE_KEY] = 1


def chart_or_note(name: str, build: Callable[[pd.DataFrame], object], frame: pd.DataFrame, note: str) -> None:
    """The chart, clickable for its answers; or a note saying why there is none."""
    if frame.empty:
        st.info(note)
        return
    st.altair_chart(
        build(frame),  # type: ignore[arg-type]
        width="stretch",
        key=CHART_KEY.format(name),
        on_select=partial(remember_drill, name),
        selection_mode=[SELECTIONS[name][0]],
    )


def charts(board: Dashboard, filters: PageFilters) -> None:
    no_votes = "No votes in this view. Vote on answers in the Playground to see trust here."
    no_turns = "No turns in this view."
    st.caption(
        "Click a bar, a point or a model in any chart to list the answers behind it (double-click clears)."
    )
    left, right = st.columns(2)
    with left:
        chart_or_note("trust_by_model", chart_builders.trust_by_model_chart, board.trust_by_model, no_votes)
        if not board.trust_by_model.empty:
            st.caption("Line: 95 % interval of the share of 👍 · dot: share of 👍 · black tick: trust score.")
    with right:
        chart_or_note("votes_by_model", chart_builders.votes_by_model_chart, board.trust_by_model, no_votes)
        if not board.trust_by_model.empty:
            st.caption("Both charts list models in the same order: most votes first.")
    chart_or_note("daily_trust", chart_builders.daily_trust_chart, board.daily_trust, no_votes)
    if not board.daily_trust.empty:
        st.caption(
            f"Thick line: share of 👍 over the last {ROLLING_DAYS} days · faint line and points: each day "
            f"(hollow diamond: fewer than {LOW_VOTE_DAY} votes that day, too few to trust). "
            "Click a model in the legend to highlight it."
        )
    left, right = st.columns(2)
    with left:
        chart_or_note("tokens", chart_builders.tokens_chart, board.tokens, no_turns)
    with right:
        timed = [f"{measure}_{p}" for measure in LATENCY_PANELS for p in ("p50", "p95")]
        measured = board.latency.dropna(how="all", subset=timed)
        chart_or_note("latency", chart_builders.latency_chart, measured, "No timed turns in this view.")
        if not measured.empty:
            st.caption("Each panel has its own scale · bar: median (p50) · line and tick: up to p95.")
    left, right = st.columns(2)
    with left:
        failed = (
            board.error_rates[["errors", "cancelled"]].to_numpy().sum() if not board.error_rates.empty else 0
        )
        if board.error_rates.empty or failed:
            chart_or_note("error_rate", chart_builders.error_rate_chart, board.error_rates, no_turns)
        else:
            st.info(f"No errors or cancellations in this view's {board.headline.turns:,} turns.")
    with right:
        chart_or_note("votes_by_user", chart_builders.votes_by_user_chart, board.votes_by_user, no_votes)
        if filters.team_session:
            st.caption(f"Who took part in team session {escape_markdown(filters.team_session)}.")
    chart_or_note("prompt_versions", chart_builders.prompt_versions_chart, board.prompt_versions, no_turns)
    if not board.prompt_versions.empty:
        st.caption(f"Grey bars: fewer than {MIN_VERSION_VOTES} votes, too few to compare versions.")


def current_drill(where: AnalyticsFilter) -> Drill | None:
    chart = st.session_state.get(DRILL_CHART_KEY)
    if chart not in SELECTIONS:
        return None
    state = st.session_state.get(CHART_KEY.format(chart))
    selection = getattr(state, "selection", None) or (state or {}).get("selection") or {}
    return drill_from_selection(chart, selection, where)


def close_drill() -> None:
    st.session_state.pop(DRILL_CHART_KEY, None)


def drill_list(where: AnalyticsFilter, version: tuple[int, ...]) -> None:
    """The answers behind the last clicked mark, a page at a time."""
    drill = current_drill(where)
    if drill is None:
        return
    with st.container(border=True, key="analytics_drill"):
        head = st.columns([8, 2])
        head[0].subheader(escape_markdown(drill.title))
        head[1].button("Close the list", on_click=close_drill, key="analytics_drill_close")
        page = int(st.session_state.get(DRILL_PAGE_KEY, 1))
        found = load_answers(drill, page, version)
        if found.rows.empty:
            st.info("No answers match this mark (its votes may be on answers made before the range).")
            return
        st.caption(f"Page {page} · newest first · {len(found.rows)} answers on this page")
        for index, row in found.rows.iterrows():
            answer_card(row, key=f"analytics_answer_{page}_{index}")
        pager = st.columns([2, 2, 8])
        if pager[0].button("Previous page", disabled=page == 1, key="analytics_drill_previous"):
            st.session_state[DRILL_PAGE_KEY] = page - 1
            st.rerun()
        if pager[1].button("Next page", disabled=not found.has_more, key="analytics_drill_next"):
            st.session_state[DRILL_PAGE_KEY] = page + 1
            st.rerun()


def reset_comment_page() -> None:
    st.session_state[PAGE_KEY] = 1


def comment_filters() -> CommentFilters:
    controls = st.columns([4, 4, 2])
    search = controls[0].text_input(
        "Search comments", key=SEARCH_KEY, max_chars=200, on_change=reset_comment_page, **KEPT
    )
    vote = controls[1].radio(
        "Vote",
        list(VOTE_SIGNS),
        format_func=VOTE_LABELS.get,
        horizontal=True,
        key=SIGN_KEY,
        on_change=reset_comment_page,
        **KEPT,
    )
    st.session_state.setdefault(PAGE_KEY, 1)
    return CommentFilters(search=search.strip(), vote=vote)


def comments_explorer(where: AnalyticsFilter, version: tuple[int, ...], picked: CommentFilters) -> None:
    page_number = int(st.session_state.get(PAGE_KEY, 1))
    found = load_comments(where, picked.search, picked.sign, page_number, version)
    if found.total and page_number > found.pages:
        reset_comment_page()
        st.rerun()
    info = st.columns([8, 2])
    info[1].number_input("Page", min_value=1, max_value=found.pages, step=1, key=PAGE_KEY)
    noun = "comment" if found.total == 1 else "comments"
    info[0].caption(f"{found.total:,} {noun} · page {found.page} of {found.pages} · newest first")
    if found.rows.empty:
        st.info("No comments match. Comments are written with a vote in the Playground.")
        return
    for index, row in found.rows.iterrows():
        comment_card(row, key=f"analytics_comment_{found.page}_{index}")
    add_to_dataset_popover(
        found.rows["prompt_id"].tolist(), key="analytics", label="🧪 Add these prompts to a dataset"
    )


def exports(where: AnalyticsFilter, picked: PageFilters, board: Dashboard) -> None:
    st.subheader("Export")
    client = app_client()
    st.caption(
        "With the filters above; the file name says which. "
        "Also from the command line: `python -m bilan_core export --help`."
    )
    today = datetime.now(UTC).date()
    empty = {
        "csv": board.headline.turns == 0,
        "finetune": board.headline.positive_votes == 0,
        "dpo": board.headline.turns == 0,
    }
    for column, kind in zip(st.columns(len(EXPORT_LABELS)), EXPORT_LABELS, strict=True):
        column.download_button(
            EXPORT_LABELS[kind],
            data=lambda kind=kind: client.export(kind, where),
            file_name=export_file_name(kind, picked, today),
            mime=EXPORT_FILES[kind][1],
            on_click="ignore",
            disabled=empty[kind],
            help="Nothing to export in this view." if empty[kind] else None,
            key=f"analytics_export_{kind}",
        )


# --- the page ----------------------------------------------------------------------------------------

client = app_client()
st.title("Analytics")
try:
    version = client.data_version()
    options = load_options(version)
except BilanError as exc:
    show_error(exc)
    st.stop()
mine = default_session(st.session_state.get(TEAM_SESSION_KEY), options["team_sessions"])
restore_filters_from_url(mine)
for problem in st.session_state.pop(PROBLEMS_KEY, []):
    st.warning(escape_markdown(problem))

if not options["models"] and not options["users"]:
    st.info(NO_DATA)
    st.page_link("pages/playground.py", label="Open the Playground", icon="💬")
    st.stop()

try:
    picked = filter_widgets(options, mine)
    where = picked.to_filter(now_ms())
except ValueError as exc:
    show_error(exc)
    st.stop()

try:
    board = load_dashboard(where, version)
except (BilanError, ValueError) as exc:
    show_error(exc)
    st.stop()

headline_row(board)
price_table(board)
if board.headline.turns == 0 and board.headline.votes == 0:
    st.info("Nothing matches these filters. Widen the time range or clear a filter.")
else:
    charts(board, picked)
    drill_list(where, version)
st.subheader("Comments")
picked_comments = comment_filters()
keep_in_url(
    (*QUERY_KEYS, *COMMENT_QUERY_KEYS),
    {**picked.to_query(own_session=mine), **picked_comments.to_query()},
)
comments_explorer(where, version, picked_comments)
comment_themes_section(where, version)
exports(where, picked, board)
