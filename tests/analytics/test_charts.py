"""Chart specs carry the intended fields, encodings, titles and tooltips (built from real analytics)."""

from __future__ import annotations

from typing import Any

import pytest

from bilan_core.analytics import charts
from bilan_core.analytics.dashboard import AnalyticsFilter, load_dashboard
from bilan_core.pricing import price_table
from bilan_core.store.demo_data import seed_demo_data
from bilan_core.store.engine import get_engine

AT = 1_800_000_000_000


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine = get_engine(f"sqlite:///{tmp_path_factory.mktemp('charts') / 'c.db'}")
    seed_demo_data(engine, turns=2_000, seed=3, at_ms=AT)
    return load_dashboard(engine, AnalyticsFilter(end_ms=AT + 1), prices=price_table(), at_ms=AT)


def layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("layer", [spec])


def mark(layer: dict[str, Any]) -> str:
    return layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]


def encoding(spec: dict[str, Any]) -> dict[str, Any]:
    found = dict(spec.get("encoding", {}))
    for layer in spec.get("layer", []):
        found.update(layer.get("encoding", {}))
    return found


def dataset(spec: dict[str, Any]) -> list[dict[str, Any]]:
    (rows,) = spec["datasets"].values()
    return rows


def test_trust_chart_has_interval_rate_and_score(dashboard: Any) -> None:
    spec = charts.trust_by_model_chart(dashboard.trust_by_model).to_dict()
    assert [mark(layer) for layer in layers(spec)] == ["rule", "circle", "tick"]
    enc = encoding(spec)
    assert enc["y"]["field"] == "model"
    assert (layers(spec)[0]["encoding"]["x"]["field"], layers(spec)[0]["encoding"]["x2"]["field"]) == (
        "trust_low",
        "trust_high",
    )
    assert layers(spec)[2]["encoding"]["x"]["field"] == "trust_score"
    assert {t["field"] for t in enc["tooltip"]} >= {"trust_score", "positive_rate", "votes"}
    assert len(dataset(spec)) == 5


def test_votes_charts_stack_up_and_down(dashboard: Any) -> None:
    for chart, key in (
        (charts.votes_by_model_chart(dashboard.trust_by_model), "model"),
        (charts.votes_by_user_chart(dashboard.votes_by_user), "user_id"),
    ):
        spec = chart.to_dict()
        assert spec["encoding"]["color"]["field"] == "vote"
        assert spec["encoding"]["color"]["scale"]["domain"] == ["👍 up", "👎 down"]
        assert spec["encoding"]["y"]["field"] == key and spec["encoding"]["x"]["stack"] == "zero"
        assert {row["vote"] for row in dataset(spec)} == {"👍 up", "👎 down"}


def test_daily_trust_marks_low_vote_days(dashboard: Any) -> None:
    daily = dashboard.daily_trust.copy()
    daily.loc[daily.index[0], "low_votes"] = True
    spec = charts.daily_trust_chart(daily).to_dict()
    enc = encoding(spec)
    assert enc["x"]["field"] == "date" and enc["x"]["type"] == "temporal"
    assert enc["y"]["field"] == "positive_rate" and enc["color"]["field"] == "model"
    assert enc["shape"]["field"] == "confidence"
    assert {row["confidence"] for row in dataset(spec)} == {"few votes", "enough votes"}


def test_tokens_latency_errors_and_versions_charts(dashboard: Any) -> None:
    tokens = charts.tokens_chart(dashboard.tokens).to_dict()
    assert (
        tokens["encoding"]["y"]["field"] == "total_tokens" and tokens["encoding"]["color"]["field"] == "model"
    )
    assert "cost_usd" in {t["field"] for t in tokens["encoding"]["tooltip"]}

    latency = charts.latency_chart(dashboard.latency).to_dict()
    assert {row["measure"] for row in dataset(latency)} == {"TTFT p50", "TTFT p95", "Total p50", "Total p95"}
    assert (
        latency["encoding"]["xOffset"]["field"] == "measure"
        and latency["encoding"]["y"]["title"] == "Milliseconds"
    )

    errors = charts.error_rate_chart(dashboard.error_rates).to_dict()
    assert {row["outcome"] for row in dataset(errors)} == {"error", "cancelled"}
    assert errors["encoding"]["y"]["field"] == "rate"

    versions = charts.prompt_versions_chart(dashboard.prompt_versions).to_dict()
    assert [mark(layer) for layer in layers(versions)] == ["bar", "rule"]
    assert encoding(versions)["x"]["field"] == "prompt_version"
    assert {row["prompt_version"] for row in dataset(versions)} == {"v1", "v2", "v3"}


def test_charts_accept_empty_frames(tmp_path: Any) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    empty = load_dashboard(engine, AnalyticsFilter(), prices=price_table(), at_ms=AT)
    for build, frame in (
        (charts.trust_by_model_chart, empty.trust_by_model),
        (charts.votes_by_model_chart, empty.trust_by_model),
        (charts.daily_trust_chart, empty.daily_trust),
        (charts.tokens_chart, empty.tokens),
        (charts.latency_chart, empty.latency),
        (charts.error_rate_chart, empty.error_rates),
        (charts.votes_by_user_chart, empty.votes_by_user),
        (charts.prompt_versions_chart, empty.prompt_versions),
    ):
        assert "datasets" in build(frame).to_dict()
