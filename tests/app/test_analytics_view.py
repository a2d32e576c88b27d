"""The Analytics page's rules: time ranges, the query string round trip, the headline row's figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bilan_core.analytics.dashboard import AnalyticsFilter, Headline
from bilan_core.analytics.time_parts import time_parts
from bilan_core.app.analytics_view import (
    ALL_SESSIONS,
    PageFilters,
    default_session,
    filters_from_query,
    headline_metrics,
    price_rows,
    trust_summary,
)
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.pricing import price_table

NOW = 20_000 * MS_PER_DAY + 12 * 3_600_000 + 30_500  # 12:00:30.5 UTC on 2024-10-04
NEXT_HOUR = 20_000 * MS_PER_DAY + 13 * MS_PER_HOUR


def test_the_last_24_hours_are_whole_hours_ending_at_the_next_hour() -> None:
    where = PageFilters(time_range="24h").to_filter(NOW)
    assert (where.start_ms, where.end_ms) == (NEXT_HOUR - MS_PER_DAY, NEXT_HOUR)
    # Whole hours, so the analytics read only the hourly roll-ups; steady within the hour (a stable
    # cache key), and a turn made right now is inside.
    assert PageFilters(time_range="24h").to_filter(NEXT_HOUR - 1) == where
    assert where.start_ms <= NOW < where.end_ms
    assert time_parts(where.start_ms, where.end_ms).raw == []


@pytest.mark.parametrize(("time_range", "days"), [("7d", 7), ("30d", 30), ("90d", 90)])
def test_day_presets_are_the_last_whole_utc_days_today_included(time_range: str, days: int) -> None:
    where = PageFilters(time_range=time_range).to_filter(NOW)
    tomorrow = 20_001 * MS_PER_DAY
    assert (where.start_ms, where.end_ms) == (tomorrow - days * MS_PER_DAY, tomorrow)
    # Whole days, so the analytics read only the daily roll-ups; steady all day (a stable cache key).
    assert PageFilters(time_range=time_range).to_filter(tomorrow - 1) == where
    assert where.start_ms <= NOW < where.end_ms


def test_a_preset_on_a_whole_hour_still_includes_that_moment() -> None:
    where = PageFilters(time_range="24h").to_filter(NEXT_HOUR)
    assert where.end_ms == NEXT_HOUR + MS_PER_HOUR


def test_all_time_is_open_and_custom_days_are_whole_utc_days_with_the_last_included() -> None:
    assert PageFilters(time_range="all").to_filter(NOW) == AnalyticsFilter()
    custom = PageFilters(time_range="custom", start_day=date(2024, 10, 1), end_day=date(2024, 10, 4))
    where = custom.to_filter(NOW)
    assert (where.start_ms, where.end_ms) == (19_997 * MS_PER_DAY, 20_001 * MS_PER_DAY)
    assert where.previous() == replace(where, start_ms=19_993 * MS_PER_DAY, end_ms=19_997 * MS_PER_DAY)


def test_name_filters_pass_through() -> None:
    picked = PageFilters(models=("gpt-4o",), users=("ada", "bob"), team_session="s1", prompt_versions=("v2",))
    where = picked.to_filter(NOW)
    assert (where.models, where.users, where.team_session, where.prompt_versions) == (
        ("gpt-4o",),
        ("ada", "bob"),
        "s1",
        ("v2",),
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_range": "1y"}, "time range must be one of 24h, 7d, 30d, 90d, all, custom"),
        ({"time_range": "custom", "start_day": date(2024, 1, 1)}, "needs both a first and a last day"),
        (
            {"time_range": "custom", "start_day": date(2024, 2, 1), "end_day": date(2024, 1, 1)},
            "first day 2024-02-01 is after the last day 2024-01-01",
        ),
    ],
)
def test_bad_picks_are_refused_with_a_clear_message(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PageFilters(**fields)


def as_params(query: dict[str, str | list[str]]) -> dict[str, list[str]]:
    return {key: [value] if isinstance(value, str) else value for key, value in query.items()}


@pytest.mark.parametrize(
    "picked",
    [
        PageFilters(),
        PageFilters(time_range="7d", models=("gpt-4o", "gpt-4o-mini")),
        PageFilters(
            time_range="custom",
            start_day=date(2024, 1, 2),
            end_day=date(2024, 1, 9),
            users=("Ada Lovelace", "bob&co=1"),
            team_session="June review",
            prompt_versions=("v1", "v3"),
            prompts=("support v2", "sales team v10"),
        ),
        PageFilters(time_range="all", team_session="x"),
    ],
)
def test_query_string_round_trip(picked: PageFilters) -> None:
    parsed = filters_from_query(as_params(picked.to_query()))
    assert parsed.filters == picked
    assert parsed.problems == []


def test_the_default_view_has_an_empty_query_and_identity_names_are_not_used() -> None:
    assert PageFilters().to_query() == {}
    query = PageFilters(users=("ada",), team_session="s").to_query()
    assert "user" not in query and "team" not in query
    assert query == {"voter": ["ada"], "session": "s"}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"range": ["1y"]}, "Unknown time range '1y' in the link; showing Last 30 days."),
        ({"range": ["custom"], "from": ["2024-01-01"]}, "needs both 'from' and 'to' dates"),
        ({"range": ["custom"], "from": ["yesterday"], "to": ["2024-01-01"]}, "are not YYYY-MM-DD"),
        ({"range": ["custom"], "from": ["2024-02-01"], "to": ["2024-01-01"]}, "is after its last day"),
        ({"prompt": ["support"]}, "written 'name vN'"),
    ],
)
def test_a_bad_link_falls_back_to_the_default_range_and_says_why(params: dict, problem: str) -> None:
    parsed = filters_from_query({**params, "model": ["gpt-4o"]})
    assert parsed.filters == PageFilters(models=("gpt-4o",))
    assert len(parsed.problems) == 1 and problem in parsed.problems[0]


def test_repeated_and_blank_names_in_a_link_are_cleaned() -> None:
    parsed = filters_from_query({"model": ["a", " a ", "", "b"], "session": [" "]})
    assert parsed.filters == PageFilters(models=("a", "b"))


def headline(**fields: object) -> Headline:
    base = {
        "trust_score": 0.8,
        "trust_low": 0.7,
        "trust_high": 0.88,
        "trend": "improving",
        "votes": 120,
        "positive_votes": 96,
        "positive_rate": 0.8,
        "comments": 12,
        "turns": 300,
        "tokens": 45_000,
        "cost_usd": 1.25,
        "unpriced_models": (),
        "median_latency_ms": 850.0,
    }
    return Headline(**{**base, **fields})


def by_label(metrics: list) -> dict[str, tuple[str, str | None, str]]:
    return {metric.label: (metric.value, metric.delta, metric.delta_color) for metric in metrics}


def test_headline_row_shows_every_figure_with_its_change() -> None:
    previous = headline(
        trust_score=0.75,
        votes=100,
        positive_rate=0.7,
        comments=15,
        turns=250,
        tokens=40_000,
        cost_usd=2.0,
        median_latency_ms=900.0,
    )
    metrics = headline_metrics(headline(), previous)
    assert by_label(metrics) == {
        "Trust score (recent count more)": ("80.0 %", "+5.0 pts", "normal"),
        "Trend of 👍 over this range": ("↑ improving", None, "off"),
        "Positive rate (all votes alike)": ("80.0 %", "+10.0 pts", "normal"),
        "Votes": ("120", "+20", "normal"),
        "Comments": ("12", "-3", "normal"),
        "Turns": ("300", "+50", "normal"),
        "Tokens": ("45,000", "+5,000", "off"),
        "Estimated cost": ("$1.25", "-$0.75", "inverse"),
        "Median latency": ("850 ms", "-50 ms", "inverse"),
    }
    trust, trend = metrics[0], metrics[1]
    assert "95 % interval 70.0 % – 88.0 %" in trust.help and "improving" in trust.help
    assert "recent votes count more" in trust.help
    # The trend says what it means, not only a word and an arrow.
    assert "later half of the votes is more often 👍 than the earlier half" in trend.help


def test_headline_without_a_previous_period_or_votes() -> None:
    empty = headline(
        trust_score=None,
        trust_low=None,
        trust_high=None,
        trend="stable",
        votes=0,
        positive_votes=0,
        positive_rate=None,
        comments=0,
        turns=0,
        tokens=0,
        cost_usd=None,
        median_latency_ms=None,
    )
    metrics = by_label(headline_metrics(empty, None))
    assert metrics["Trust score (recent count more)"] == ("—", None, "normal")
    assert metrics["Trend of 👍 over this range"][0] == "—"  # no votes: no trend, not "stable"
    assert metrics["Votes"] == ("0", None, "normal")
    assert metrics["Median latency"] == ("—", None, "inverse")
    assert metrics["Estimated cost"] == ("$0.00", None, "inverse")
    assert headline_metrics(empty, None)[3].help == "No change shown: this range has no previous period."


def test_unpriced_models_are_shown_as_unpriced_never_as_zero() -> None:
    only_unpriced = by_label(headline_metrics(headline(cost_usd=None, unpriced_models=("llama",)), None))
    assert only_unpriced["Estimated cost"][0] == "unpriced"
    mixed = headline_metrics(headline(unpriced_models=("llama", "mistral")), headline(cost_usd=None))
    cost = next(metric for metric in mixed if metric.label == "Estimated cost")
    assert (cost.value, cost.delta) == ("≥ $1.25", None)  # at least: the unpriced models are not counted
    assert "llama, mistral" in cost.help and "BILAN_PRICES" in cost.help


def test_no_change_shows_a_plain_zero_without_an_up_arrow() -> None:
    same = headline_metrics(headline(), headline(trust_score=0.8004))
    # Streamlit draws no arrow only for the string "0"; "+0" would show a green ↑ for no change.
    assert {metric.label: metric.delta for metric in same} == {
        "Trust score (recent count more)": "0",
        "Trend of 👍 over this range": None,
        "Positive rate (all votes alike)": "0",
        "Votes": "0",
        "Comments": "0",
        "Turns": "0",
        "Tokens": "0",
        "Estimated cost": "0",
        "Median latency": "0",
    }


def test_trust_summary_gives_the_interval_and_trend_in_words() -> None:
    assert trust_summary(headline()) == (
        "Trust score 80.0 %: the share of 👍 with recent votes counting more. "
        "Positive rate 80.0 %: the plain share of 👍 (95 % interval 70.0 % – 88.0 %). "
        "Trend ↑ improving: the later half of the votes is more often 👍 than the earlier half "
        "(by over 10 points)."
    )
    assert trust_summary(headline(trust_score=None, trust_low=None, trust_high=None)) is None


def test_price_rows_list_priced_models_then_the_unpriced_ones_in_view() -> None:
    prices = price_table('{"my-model": {"input": 1, "output": 2.5}}')
    rows = price_rows(prices, ("llama-3.1-8b", "my-model"))
    assert rows.columns.tolist() == ["Model", "Input (USD / 1M tokens)", "Output (USD / 1M tokens)"]
    assert rows.iloc[-1].tolist() == ["llama-3.1-8b", "unpriced", "unpriced"]
    assert rows.set_index("Model").loc["my-model"].tolist() == ["1.00", "2.50"]
    assert rows.set_index("Model").loc["gpt-4o"].tolist() == ["2.50", "10.00"]
    assert len(rows) == len(prices) + 1


def test_the_team_session_filter_starts_on_the_visitors_own_session() -> None:
    assert filters_from_query({}, own_session="review").filters.team_session == "review"
    assert filters_from_query({}).filters.team_session is None
    # A link naming a session, or every session, wins over the visitor's own.
    assert filters_from_query({"session": ["other"]}, own_session="review").filters.team_session == "other"
    everything = filters_from_query({"session": [ALL_SESSIONS]}, own_session="review").filters
    assert everything.team_session is None


def test_the_own_session_is_the_default_only_once_it_has_data() -> None:
    assert default_session("review", ["other", "review"]) == "review"
    assert default_session("review", ["other"]) is None  # an empty view would greet a new team
    assert default_session(None, ["review"]) is None


def test_the_link_leaves_out_the_own_session_and_keeps_every_session_chosen() -> None:
    own = PageFilters(team_session="review")
    assert "session" not in own.to_query(own_session="review")
    assert own.to_query()["session"] == "review"
    everything = PageFilters()
    assert everything.to_query(own_session="review")["session"] == ALL_SESSIONS
    assert "session" not in everything.to_query()
    # Round trip: the link reproduces the choice for the same visitor.
    for picked in (own, everything, PageFilters(team_session="other")):
        link = {key: [value] for key, value in picked.to_query(own_session="review").items()}
        assert filters_from_query(link, own_session="review").filters == picked
