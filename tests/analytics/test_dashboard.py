"""Analytics on small data with fixed times: exact aggregates, filters, empty ranges, both databases."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from sqlalchemy import Engine

from bilan_core.analytics.comments import comment_count, comments_page, votes_by_user
from bilan_core.analytics.dashboard import headline, load_dashboard
from bilan_core.analytics.data_version import data_version
from bilan_core.analytics.filters import AnalyticsFilter, filter_options
from bilan_core.analytics.percentiles import latency_percentiles, median_latency
from bilan_core.analytics.trust import vote_weight, wilson_interval
from bilan_core.clock import MS_PER_DAY
from bilan_core.pricing import price_table
from bilan_core.store.engine import get_engine
from bilan_core.store.histograms import MAX_RELATIVE_ERROR
from bilan_core.store.votes import cast_vote, clear_vote
from tests.helpers import add_turn, figures

DAY0 = 20_000 * MS_PER_DAY
DAY1 = DAY0 + MS_PER_DAY
AT = DAY0 + 2 * MS_PER_DAY
PRICES = price_table()
EVERYTHING = AnalyticsFilter(start_ms=DAY0 - MS_PER_DAY, end_ms=AT)


def seed(engine: Engine) -> None:
    """gpt-4o: 4 ok turns on day 0 (3 👍 1 👎) and an error on day 1; gpt-4o-mini: an ok and a
    cancelled turn on day 1 (one 👎 with an HTML comment); llama: one turn, no votes."""
    for i, latency in enumerate((100.0, 200.0, 300.0, 400.0)):
        prompt_id = add_turn(
            engine,
            model="gpt-4o",
            user_id="alice" if i < 2 else "bob",
            prompt_id=f"4o-{i}",
            prompt_version="v1",
            created_ms=DAY0 + i * 1000,
            prompt_text=f"question {i}",
            response=f"answer {i}",
            **figures(tokens=(10, 20), latency_ms=latency, ttft_ms=latency / 10),
        )
        cast_vote(
            engine,
            prompt_id=prompt_id,
            user_id="alice" if i < 2 else "bob",
            value=1 if i < 3 else -1,
            comment="clear" if i == 0 else None,
            at_ms=DAY0 + i * 1000 + 10,
        )
    add_turn(engine, model="gpt-4o", prompt_id="4o-err", status="error", prompt_tokens=10, created_ms=DAY1)
    bobs_mini = {"model": "gpt-4o-mini", "user_id": "bob", "prompt_version": "v2"}
    add_turn(
        engine,
        prompt_id="mini-ok",
        team_session="review",
        prompt_text="what is <b>bold</b>?",
        response="<script>alert(1)</script>",
        created_ms=DAY1 + 10,
        **figures(tokens=(1_000_000, 1_000_000), latency_ms=50.0, ttft_ms=5.0),
        **bobs_mini,
    )
    cast_vote(
        engine,
        prompt_id="mini-ok",
        user_id="bob",
        value=-1,
        comment="<script>alert('x')</script> wrong",
        team_session="review",
        at_ms=DAY1 + 20,
    )
    add_turn(
        engine,
        prompt_id="mini-cancel",
        status="cancelled",
        latency_ms=150.0,
        created_ms=DAY1 + 30,
        **bobs_mini,
    )
    add_turn(
        engine,
        model="llama-3.1-8b",
        prompt_id="llama",
        prompt_tokens=7,
        completion_tokens=3,
        created_ms=DAY1 + 40,
    )


def by_model(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    return frame.set_index("model").to_dict("index")


def test_trust_votes_tokens_errors_and_versions_per_model(engine: Engine) -> None:
    seed(engine)
    dash = load_dashboard(engine, EVERYTHING, prices=PRICES, at_ms=AT)
    trust = by_model(dash.trust_by_model)
    assert set(trust) == {"gpt-4o", "gpt-4o-mini"}  # llama has no votes
    assert (trust["gpt-4o"]["votes"], trust["gpt-4o"]["positive"], trust["gpt-4o"]["negative"]) == (4, 3, 1)
    assert (trust["gpt-4o"]["trust_low"], trust["gpt-4o"]["trust_high"]) == pytest.approx(
        wilson_interval(3, 4)
    )
    weights = [vote_weight((AT - (DAY0 + i * 1000 + 10)) / MS_PER_DAY) for i in range(4)]
    assert trust["gpt-4o"]["trust_score"] == pytest.approx(sum(weights[:3]) / sum(weights))
    assert (trust["gpt-4o-mini"]["votes"], trust["gpt-4o-mini"]["positive"]) == (1, 0)

    errors = by_model(dash.error_rates)
    assert (errors["gpt-4o"]["turns"], errors["gpt-4o"]["errors"], errors["gpt-4o"]["error_rate"]) == (
        5,
        1,
        0.2,
    )
    assert (errors["gpt-4o-mini"]["cancelled"], errors["gpt-4o-mini"]["cancel_rate"]) == (1, 0.5)
    assert errors["llama-3.1-8b"]["error_rate"] == 0

    tokens = dash.tokens.set_index(["date", "model"])
    day0, day1 = pd.Timestamp("2024-10-04"), pd.Timestamp("2024-10-05")
    assert pd.Timestamp(DAY0, unit="ms") == day0
    assert tokens.loc[(day0, "gpt-4o"), "total_tokens"] == 120
    assert tokens.loc[(day1, "gpt-4o"), "prompt_tokens"] == 10
    assert tokens.loc[(day1, "gpt-4o-mini"), "cost_usd"] == pytest.approx(0.15 + 0.60)
    assert math.isnan(tokens.loc[(day1, "llama-3.1-8b"), "cost_usd"])  # unpriced, never zero

    versions = dash.prompt_versions.set_index("prompt_version")
    assert versions.loc["v1", "turns"] == 4 and versions.loc["v1", "positive_rate"] == 0.75
    assert versions.loc["v2", "votes"] == 1 and versions.loc["(none)", "turns"] == 2
    assert versions.loc["(none)", "votes"] == 0 and versions.loc["(none)", "error_rate"] == 0.5


def test_daily_trust_flags_days_with_few_votes(engine: Engine) -> None:
    seed(engine)
    daily = load_dashboard(engine, EVERYTHING, prices=PRICES, at_ms=AT).daily_trust
    rows = daily.set_index(["day", "model"]).to_dict("index")
    assert rows[(20_000, "gpt-4o")]["votes"] == 4 and rows[(20_000, "gpt-4o")]["positive_rate"] == 0.75
    assert rows[(20_001, "gpt-4o-mini")]["votes"] == 1
    assert daily["low_votes"].all()
    flagged = load_dashboard(engine, EVERYTHING, prices=PRICES, at_ms=AT)
    assert len(flagged.daily_trust) == 2


def within_bound(value: float) -> object:
    """The exact nearest-rank value as a histogram estimates it: within the stated relative error."""
    return pytest.approx(value, rel=MAX_RELATIVE_ERROR)


def test_latency_percentiles_are_nearest_rank_per_model_within_the_histogram_bound(engine: Engine) -> None:
    seed(engine)
    latency = by_model(latency_percentiles(engine, EVERYTHING))
    gpt, mini = latency["gpt-4o"], latency["gpt-4o-mini"]
    assert (gpt["latency_p50"], gpt["latency_p95"]) == (within_bound(200.0), within_bound(400.0))
    assert (gpt["ttft_p50"], gpt["ttft_p95"]) == (within_bound(20.0), within_bound(40.0))
    assert (mini["latency_p50"], mini["latency_p95"]) == (within_bound(50.0), within_bound(150.0))
    assert mini["ttft_p95"] == within_bound(5.0)
    assert pd.isna(latency["llama-3.1-8b"]["latency_p50"])
    assert median_latency(engine, EVERYTHING) == within_bound(150.0)  # 50 100 150 200 300 400


def test_headline_and_previous_period(engine: Engine) -> None:
    seed(engine)
    day1_only = AnalyticsFilter(start_ms=DAY1, end_ms=DAY1 + MS_PER_DAY)
    dash = load_dashboard(engine, day1_only, prices=PRICES, at_ms=AT)
    now, before = dash.headline, dash.previous
    assert before is not None
    assert (now.turns, now.votes, now.positive_votes, now.comments) == (4, 1, 0, 1)
    assert now.tokens == 2_000_010 + 10
    assert now.cost_usd == pytest.approx(0.75 + 10 * 2.5 / 1e6)
    assert now.unpriced_models == ("llama-3.1-8b",)
    assert now.median_latency_ms == within_bound(50.0)
    assert (before.turns, before.votes, before.positive_votes, before.comments) == (4, 4, 3, 1)
    assert before.positive_rate == 0.75 and before.median_latency_ms == within_bound(200.0)
    assert before.trend == "stable" and before.tokens == 120


def test_trend_splits_the_votes_in_time_order_across_days(engine: Engine) -> None:
    for i in range(12):
        prompt_id = add_turn(engine, prompt_id=f"t{i}", created_ms=DAY0 + i * MS_PER_DAY // 4)
        cast_vote(
            engine,
            prompt_id=prompt_id,
            user_id="u",
            value=-1 if i < 6 else 1,
            at_ms=DAY0 + i * MS_PER_DAY // 4,
        )
    found = headline(
        engine, AnalyticsFilter(start_ms=DAY0, end_ms=DAY0 + 5 * MS_PER_DAY), prices=PRICES, at_ms=AT
    )
    assert found.trend == "improving" and found.votes == 12


def test_filters_by_model_user_session_version_and_time(engine: Engine) -> None:
    seed(engine)
    only_mini = load_dashboard(engine, AnalyticsFilter(models=["gpt-4o-mini"]), prices=PRICES, at_ms=AT)
    assert list(only_mini.trust_by_model["model"]) == ["gpt-4o-mini"]
    assert only_mini.headline.turns == 2 and only_mini.previous is None
    bob = load_dashboard(engine, AnalyticsFilter(users=("bob",)), prices=PRICES, at_ms=AT)
    assert bob.headline.votes == 3 and bob.headline.turns == 4
    session = headline(engine, AnalyticsFilter(team_session="review"), prices=PRICES, at_ms=AT)
    assert (session.turns, session.votes) == (1, 1)
    v1 = headline(engine, AnalyticsFilter(prompt_versions=("v1",)), prices=PRICES, at_ms=AT)
    assert (v1.turns, v1.votes, v1.positive_votes) == (4, 4, 3)
    day0 = headline(engine, AnalyticsFilter(start_ms=DAY0, end_ms=DAY0 + 2500), prices=PRICES, at_ms=AT)
    assert (day0.turns, day0.votes) == (3, 3)


def test_an_empty_range_gives_empty_frames_and_no_figures(engine: Engine) -> None:
    seed(engine)
    empty = AnalyticsFilter(start_ms=AT + MS_PER_DAY, end_ms=AT + 2 * MS_PER_DAY)
    dash = load_dashboard(engine, empty, prices=PRICES, at_ms=AT)
    for frame in (dash.trust_by_model, dash.daily_trust, dash.tokens, dash.latency, dash.error_rates):
        assert frame.empty
    assert dash.votes_by_user.empty and dash.prompt_versions.empty
    assert dash.headline.trust_score is None and dash.headline.votes == 0 and dash.headline.cost_usd is None
    assert dash.headline.median_latency_ms is None


def test_votes_per_user_most_active_first(engine: Engine) -> None:
    seed(engine)
    users = votes_by_user(engine, EVERYTHING)
    assert users.to_dict("records") == [
        {"user_id": "bob", "votes": 3, "positive": 1, "negative": 2, "positive_rate": 1 / 3},
        {"user_id": "alice", "votes": 2, "positive": 2, "negative": 0, "positive_rate": 1.0},
    ]


def test_comments_page_search_sign_paging_and_the_answer(engine: Engine) -> None:
    seed(engine)
    assert comment_count(engine, EVERYTHING) == 2
    page = comments_page(engine, EVERYTHING)
    assert page.total == 2 and page.pages == 1
    assert list(page.rows["comment"]) == ["<script>alert('x')</script> wrong", "clear"]
    assert page.rows.iloc[0]["response"] == "<script>alert(1)</script>"
    assert page.rows.iloc[1]["prompt_text"] == "question 0"
    found = comments_page(engine, EVERYTHING, search="SCRIPT")
    assert found.total == 1 and found.rows.iloc[0]["value"] == -1
    assert comments_page(engine, EVERYTHING, search="100%").total == 0
    assert comments_page(engine, EVERYTHING, sign=1).rows["comment"].tolist() == ["clear"]
    second = comments_page(engine, EVERYTHING, page=2, page_size=1)
    assert second.rows["comment"].tolist() == ["clear"] and second.pages == 2
    with pytest.raises(ValueError, match="sign"):
        comments_page(engine, EVERYTHING, sign=2)
    with pytest.raises(ValueError, match="page"):
        comments_page(engine, EVERYTHING, page=0)


def test_filter_options_list_what_occurs(engine: Engine) -> None:
    seed(engine)
    assert filter_options(engine) == {
        "models": ["gpt-4o", "gpt-4o-mini", "llama-3.1-8b"],
        "users": ["alice", "bob"],
        "team_sessions": ["review"],
        "prompt_versions": ["v1", "v2"],
        "prompts": [],
    }


def test_data_version_changes_on_new_changed_and_cleared_votes(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    seed(engine)
    versions = [data_version(engine)]
    cast_vote(engine, prompt_id="llama", user_id="carol", value=1, at_ms=AT)
    versions.append(data_version(engine))
    cast_vote(engine, prompt_id="llama", user_id="carol", value=-1, at_ms=AT + 1)
    versions.append(data_version(engine))
    clear_vote(engine, prompt_id="llama", user_id="carol")
    versions.append(data_version(engine))
    add_turn(engine, prompt_id="new")
    versions.append(data_version(engine))
    # Clearing the newest vote restores the earlier data exactly, so only each step must differ.
    assert all(before != after for before, after in itertools.pairwise(versions))


def test_bad_filters_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="empty"):
        AnalyticsFilter(start_ms=10, end_ms=10)
    with pytest.raises(ValueError, match="start_ms"):
        AnalyticsFilter(start_ms="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="models"):
        AnalyticsFilter(models=[1, 2])  # type: ignore[list-item]
    assert AnalyticsFilter(start_ms=0, end_ms=10).previous() == AnalyticsFilter(start_ms=-10, end_ms=0)
