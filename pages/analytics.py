"""Analytics: trust, votes, comments, usage, latency and cost per model, with the filters in the URL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from bilan_core import BilanError
from bilan_core.analytics.charts import (
    LATENCY_LABELS,
    daily_trust_chart,
    error_rate_chart,
    latency_chart,
    prompt_versions_chart,
    tokens_chart,
    trust_by_model_chart,
    votes_by_model_chart,
    votes_by_user_chart,
)
from bilan_core.analytics.dashboard import LOW_VOTE_DAY, AnalyticsFilter, CommentsPage, Dashboard
from bilan_core.analytics.exports import EXPORT_FILES
from bilan_core.app.analytics_view import (
    QUERY_KEYS,
    TIME_RANGES,
    PageFilters,
    filters_from_query,
    headline_metrics,
    price_rows,
    trust_summary,
)
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.clock import now_ms
from pages.comment_themes_view import comment_themes_section
from pages.dataset_picker import add_to_dataset_popover
from pages.shared import app_client, show_error

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
# Streamlit empties the query string on a page switch: the filters live on in the session instead.
KEPT = {"persist_state": "session"}
SIGNS = {"all": None, "up": 1, "down": -1}
SIGN_LABELS = {"all": "All", "up": "👍 only", "down": "👎 only"}
EXPORT_LABELS = {
    "csv": "Turns and votes (CSV)",
    "finetune": "Fine-tuning JSONL (👍 answers)",
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


# --- filters <-> widgets <-> query string -----------------------------------------------------------


def restore_filters_from_url() -> None:
    """On arriving at the page, set the filter widgets from the link."""
    if RANGE_KEY in st.session_state:
        return
    parsed = filters_from_query({key: st.query_params.get_all(key) for key in QUERY_KEYS})
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
    st.session_state[PROBLEMS_KEY] = parsed.problems


def keep_filters_in_url(filters: PageFilters) -> None:
    """Write the filters to the query string (other parameters, like the identity, stay)."""
    wanted = filters.to_query()
    for key in QUERY_KEYS:
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


def filter_widgets(options: dict[str, list[str]]) -> PageFilters:
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
        format_func=lambda value: "All" if value is None else value,
        key=SESSION_KEY,
        **KEPT,
        placeholder="All",  # None ("All") reads as no choice to Streamlit, which shows the placeholder
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


def chart_or_note(chart_builder, frame: pd.DataFrame, empty_note: str) -> None:
    if frame.empty:
        st.info(empty_note)
    else:
        st.altair_chart(chart_builder(frame), width="stretch")


def charts(board: Dashboard, filters: PageFilters) -> None:
    no_votes = "No votes in this view. Vote on answers in the Playground to see trust here."
    no_turns = "No turns in this view."
    left, right = st.columns(2)
    with left:
        chart_or_note(trust_by_model_chart, board.trust_by_model, no_votes)
        if not board.trust_by_model.empty:
            st.caption("Bar: 95 % interval of the share of 👍 · dot: share of 👍 · black tick: trust score.")
    with right:
        chart_or_note(votes_by_model_chart, board.trust_by_model, no_votes)
    chart_or_note(daily_trust_chart, board.daily_trust, no_votes)
    st.caption(f"Hollow points: days with fewer than {LOW_VOTE_DAY} votes for that model, too few to trust.")
    left, right = st.columns(2)
    with left:
        chart_or_note(tokens_chart, board.tokens, no_turns)
    with right:
        measured = board.latency.dropna(how="all", subset=list(LATENCY_LABELS))
        chart_or_note(latency_chart, measured, "No timed turns in this view.")
    left, right = st.columns(2)
    with left:
        chart_or_note(error_rate_chart, board.error_rates, no_turns)
    with right:
        chart_or_note(votes_by_user_chart, board.votes_by_user, no_votes)
        if filters.team_session:
            st.caption(f"Who took part in team session {escape_markdown(filters.team_session)}.")
    chart_or_note(prompt_versions_chart, board.prompt_versions, no_turns)


def reset_comment_page() -> None:
    st.session_state[PAGE_KEY] = 1


def comments_explorer(where: AnalyticsFilter, version: tuple[int, ...]) -> None:
    st.subheader("Comments")
    controls = st.columns([4, 3, 2])
    search = controls[0].text_input(
        "Search comments", key=SEARCH_KEY, max_chars=200, on_change=reset_comment_page
    )
    sign_name = controls[1].radio(
        "Vote",
        list(SIGNS),
        format_func=SIGN_LABELS.get,
        horizontal=True,
        key=SIGN_KEY,
        on_change=reset_comment_page,
    )
    page_number = int(st.session_state.get(PAGE_KEY, 1))
    found = load_comments(where, search.strip(), SIGNS[sign_name], page_number, version)
    if found.total and page_number > found.pages:
        reset_comment_page()
        st.rerun()
    controls[2].number_input("Page", min_value=1, max_value=found.pages, step=1, key=PAGE_KEY)
    st.caption(f"{found.total:,} comments · page {found.page} of {found.pages}")
    if found.rows.empty:
        st.info("No comments match. Comments are written with a vote in the Playground.")
        return
    st.dataframe(comments_table(found.rows), hide_index=True, width="stretch")
    add_to_dataset_popover(
        found.rows["prompt_id"].tolist(), key="analytics", label="🧪 Add these prompts to a dataset"
    )
    for index, row in found.rows.iterrows():
        icon = "👍" if row["value"] > 0 else "👎"
        title = f"{row['created']:%Y-%m-%d %H:%M} · {escape_markdown(str(row['model']))} — prompt and answer"
        with st.expander(title, icon=icon, key=f"analytics_comment_{found.page}_{index}"):
            st.caption("Comment")
            st.text(row["comment"])
            st.caption(f"Prompt (by {escape_markdown(str(row['user_id']))})")
            st.text(row["prompt_text"] if isinstance(row["prompt_text"], str) else "(no prompt stored)")
            st.caption("Answer")
            st.text(row["response"] if isinstance(row["response"], str) else "(no answer stored)")


def comments_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "When (UTC)": rows["created"],
            "Vote": rows["value"].map(lambda value: "👍" if value > 0 else "👎"),
            "Comment": rows["comment"],
            "Model": rows["model"],
            "User": rows["user_id"],
            "Prompt version": rows["prompt_version"],
        }
    )


def exports(where: AnalyticsFilter) -> None:
    st.subheader("Export")
    client = app_client()
    st.caption("With the filters above. Also from the command line: `python -m bilan_core export --help`.")
    for column, kind in zip(st.columns(len(EXPORT_LABELS)), EXPORT_LABELS, strict=True):
        file_name, mime = EXPORT_FILES[kind]
        column.download_button(
            EXPORT_LABELS[kind],
            data=lambda kind=kind: client.export(kind, where),
            file_name=file_name,
            mime=mime,
            on_click="ignore",
            key=f"analytics_export_{kind}",
        )


# --- the page ----------------------------------------------------------------------------------------

client = app_client()
st.title("Analytics")
restore_filters_from_url()
for problem in st.session_state.pop(PROBLEMS_KEY, []):
    st.warning(escape_markdown(problem))

try:
    version = client.data_version()
    options = load_options(version)
except BilanError as exc:
    show_error(exc)
    st.stop()

if not options["models"] and not options["users"]:
    st.info(NO_DATA)
    st.page_link("pages/playground.py", label="Open the Playground", icon="💬")
    st.stop()

try:
    picked = filter_widgets(options)
    where = picked.to_filter(now_ms())
except ValueError as exc:
    show_error(exc)
    st.stop()
keep_filters_in_url(picked)

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
comments_explorer(where, version)
comment_themes_section(where, version)
exports(where)
