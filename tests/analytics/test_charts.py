"""Chart specs carry the intended fields, encodings, titles and tooltips (built from real analytics)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from bilan_core.analytics import charts
from bilan_core.analytics.dashboard import AnalyticsFilter, load_dashboard
from bilan_core.analytics.palette import (
    KNOWN_MODELS,
    MODEL_PALETTE,
    MUTED,
    NEUTRAL,
    OUTCOME_COLORS,
    model_color,
)
from bilan_core.analytics.rollups import rolling_trust
from bilan_core.experiments.charts import rating_intervals_chart
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


def dataset_named(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["datasets"][layer["data"]["name"]]


def all_params(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(spec.get("params", []))
    for part in spec.get("layer", []) + spec.get("hconcat", []):
        found += all_params(part)
    return found


def model_scales(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for part in [spec, *spec.get("layer", []), *spec.get("hconcat", [])]:
        for channel in part.get("encoding", {}).values():
            if (
                isinstance(channel, dict)
                and channel.get("field") in ("model", "variant")
                and "scale" in channel
            ) and "range" in channel["scale"]:
                found.append(channel["scale"])
        if part is not spec:
            found += model_scales(part)
    return found


def ratings() -> pd.DataFrame:
    """A leaderboard whose variants are named after models (as the Compare page's default labels start)."""
    return pd.DataFrame(
        {
            "variant": ["gpt-4o", "llama-3.1-8b"],
            "rating": [1010.0, 990.0],
            "ci_low": [990.0, 970.0],
            "ci_high": [1030.0, 1010.0],
            "rank": [1, 2],
            "votes": [30, 30],
            "enough_votes": [True, True],
        }
    )


def test_trust_chart_has_interval_rate_and_score(dashboard: Any) -> None:
    spec = charts.trust_by_model_chart(dashboard.trust_by_model).to_dict()
    assert [mark(layer) for layer in layers(spec)] == ["rule", "circle", "tick"]
    enc = encoding(spec)
    assert enc["y"]["field"] == "model"
    assert (layers(spec)[0]["encoding"]["x"]["field"], layers(spec)[0]["encoding"]["x2"]["field"]) == (
        "trust_low",
        "trust_high",
    )
    assert layers(spec)[0]["encoding"]["x"]["axis"]["format"] == "%"  # a share is a percentage everywhere
    assert layers(spec)[2]["encoding"]["x"]["field"] == "trust_score"
    assert {t["field"] for t in enc["tooltip"]} >= {"trust_score", "positive_rate", "votes"}
    assert len(dataset(spec)) == 5


def test_trust_and_votes_per_model_share_one_row_order_by_volume(dashboard: Any) -> None:
    trust = dashboard.trust_by_model
    by_volume = trust.sort_values(["votes", "model"], ascending=[False, True])["model"].tolist()
    assert charts.model_order(trust) == by_volume
    assert by_volume != sorted(by_volume)  # the demo data's volume order is not alphabetical
    trust_spec = charts.trust_by_model_chart(trust).to_dict()
    votes_spec = charts.votes_by_model_chart(trust).to_dict()
    assert encoding(trust_spec)["y"]["sort"] == encoding(votes_spec)["y"]["sort"] == by_volume


def test_votes_charts_stack_up_and_down_in_the_outcome_colours(dashboard: Any) -> None:
    for chart, key in (
        (charts.votes_by_model_chart(dashboard.trust_by_model), "model"),
        (charts.votes_by_user_chart(dashboard.votes_by_user), "user_id"),
    ):
        spec = chart.to_dict()
        color = spec["encoding"]["color"]
        assert color["field"] == "vote" and color["scale"]["domain"] == ["👍 up", "👎 down"]
        assert color["scale"]["range"] == [OUTCOME_COLORS["👍 up"], OUTCOME_COLORS["👎 down"]]
        assert spec["encoding"]["y"]["field"] == key and spec["encoding"]["x"]["stack"] == "zero"
        assert {row["vote"] for row in dataset(spec)} == {"👍 up", "👎 down"}


def test_daily_trust_has_a_rolling_line_faint_days_a_legend_and_a_highlight(dashboard: Any) -> None:
    daily = dashboard.daily_trust.copy()
    daily.loc[daily.index[0], "low_votes"] = True
    spec = charts.daily_trust_chart(daily).to_dict()
    daily_line, rolling, points = layers(spec)
    assert mark(daily_line) == "line" and mark(rolling) == "line" and mark(points) == "point"
    assert rolling["encoding"]["y"]["field"] == "rolling_rate"
    assert rolling["mark"]["strokeWidth"] > daily_line["mark"]["strokeWidth"]
    assert daily_line["encoding"]["opacity"]["value"] < 0.5  # the raw days are faint
    shape = points["encoding"]["shape"]
    assert shape["field"] == "confidence" and shape["scale"]["range"] == ["circle", "diamond"]
    # The legend's symbols are given a colour: a shape legend inherits none and was drawn blank.
    assert shape["legend"]["symbolStrokeColor"] and shape["legend"]["symbolFillColor"]
    assert points["encoding"]["fillOpacity"]["scale"]["range"] == [0.6, 0.0]  # few votes: hollow
    legend_pick = next(param for param in spec["params"] if param["name"] == "highlight_model")
    assert legend_pick["bind"] == "legend" and legend_pick["select"]["fields"] == ["model"]
    assert {row["confidence"] for row in dataset_named(spec, points)} == {"few votes", "enough votes"}


def test_the_rolling_line_sums_seven_days_of_votes() -> None:
    daily = pd.DataFrame(
        {"day": [1, 2, 9], "model": ["m", "m", "m"], "votes": [10, 10, 4], "positive": [10, 0, 4]}
    )
    rolling = rolling_trust(daily).set_index("day")
    assert rolling.loc[1, "rolling_rate"] == 1.0
    assert rolling.loc[2, "rolling_rate"] == 0.5  # days 1-2: 10 of 20
    assert rolling.loc[8, "rolling_votes"] == 10 and rolling.loc[8, "rolling_rate"] == 0.0  # days 2-8
    assert rolling.loc[9, "rolling_rate"] == 1.0  # days 3-9: 4 of 4
    assert list(rolling.index) == list(range(1, 10))  # days without votes count too
    with pytest.raises(ValueError, match="at least 1 day"):
        rolling_trust(daily, days=0)


def test_every_model_has_one_colour_on_every_chart(dashboard: Any) -> None:
    colours: dict[str, set[str]] = {}
    specs = [
        charts.trust_by_model_chart(dashboard.trust_by_model).to_dict(),
        charts.daily_trust_chart(dashboard.daily_trust).to_dict(),
        charts.tokens_chart(dashboard.tokens).to_dict(),
        charts.latency_chart(dashboard.latency).to_dict(),
        rating_intervals_chart(ratings()).to_dict(),
    ]
    for spec in specs:
        for scale in model_scales(spec):
            for model, colour in zip(scale["domain"], scale["range"], strict=True):
                colours.setdefault(model, set()).add(colour)
    assert all(len(found) == 1 for found in colours.values()), colours
    assert {"gpt-4o", "gpt-4o-mini", "llama-3.1-8b"} <= set(colours)
    known = [model_color(model) for model in KNOWN_MODELS]
    assert len(set(known)) == len(known)  # each known model has a colour of its own
    assert not set(known) & set(OUTCOME_COLORS.values())  # no model is drawn in 👍 green or 👎 red
    assert model_color("my-own-model") == model_color("my-own-model") in MODEL_PALETTE


def test_latency_has_two_panels_each_on_its_own_scale(dashboard: Any) -> None:
    spec = charts.latency_chart(dashboard.latency).to_dict()
    ttft, total = spec["hconcat"]
    assert (ttft["title"], total["title"]) == ("Time to first token", "Total answer time")
    for panel, measure in ((ttft, "ttft"), (total, "latency")):
        bar, whisker, tick = layers(panel)
        assert (mark(bar), bar["encoding"]["x"]["field"]) == ("bar", f"{measure}_p50")
        assert (whisker["encoding"]["x"]["field"], whisker["encoding"]["x2"]["field"]) == (
            f"{measure}_p50",
            f"{measure}_p95",
        )
        assert (mark(tick), tick["encoding"]["x"]["field"]) == ("tick", f"{measure}_p95")
    assert spec.get("resolve") is None  # concatenated views never share an x scale


def test_errors_are_in_outcome_colours_and_never_on_a_zero_axis(dashboard: Any) -> None:
    spec = charts.error_rate_chart(dashboard.error_rates).to_dict()
    assert spec["encoding"]["color"]["scale"]["range"] == [
        OUTCOME_COLORS["error"],
        OUTCOME_COLORS["cancelled"],
    ]
    assert {row["outcome"] for row in dataset(spec)} == {"error", "cancelled"}
    none = dashboard.error_rates.assign(errors=0, cancelled=0, error_rate=0.0, cancel_rate=0.0)
    quiet = charts.error_rate_chart(none).to_dict()
    assert quiet["encoding"]["x"]["scale"]["domain"] == [0, 0.05]  # not an axis of "0.000000%"
    assert charts.rate_axis_top(0.5) == pytest.approx(0.575) and charts.rate_axis_top(0.95) == 1.0


def test_prompt_versions_show_n_and_grey_out_too_few_votes(dashboard: Any) -> None:
    versions = dashboard.prompt_versions.copy()
    versions.loc[versions.index[0], "votes"] = 1
    spec = charts.prompt_versions_chart(versions, min_votes=20).to_dict()
    bars, interval, counts = layers(spec)
    assert mark(bars) == "bar" and mark(interval) == "rule" and mark(counts) == "text"
    assert bars["encoding"]["y"]["field"] == "prompt_version"  # horizontal: labels read level
    assert bars["encoding"]["y"]["axis"]["labelAngle"] == 0
    assert bars["encoding"]["color"]["scale"]["range"] == [NEUTRAL, MUTED]
    rows = {row["prompt_version"]: row for row in dataset(spec)}
    assert rows["v1"]["enough"] == "few votes" and rows["v1"]["n_label"] == "n = 1 votes"
    assert {rows[v]["enough"] for v in ("v2", "v3")} == {"enough votes"}


def test_a_single_day_of_tokens_is_a_whole_day_wide() -> None:
    one_day = pd.DataFrame(
        {
            "day": [20_000],
            "model": ["gpt-4o"],
            "total_tokens": [10],
            "prompt_tokens": [4],
            "completion_tokens": [6],
            "cost_usd": [0.01],
        }
    )
    one_day["date"] = pd.to_datetime(one_day["day"] * 86_400_000, unit="ms")
    spec = charts.tokens_chart(one_day).to_dict()
    assert spec["encoding"]["x"]["timeUnit"] == "yearmonthdate"  # a band per day, not a hairline


def test_every_drillable_chart_carries_its_named_click_selection(dashboard: Any) -> None:
    built = {
        "trust_by_model": charts.trust_by_model_chart(dashboard.trust_by_model),
        "votes_by_model": charts.votes_by_model_chart(dashboard.trust_by_model),
        "daily_trust": charts.daily_trust_chart(dashboard.daily_trust),
        "tokens": charts.tokens_chart(dashboard.tokens),
        "latency": charts.latency_chart(dashboard.latency),
        "error_rate": charts.error_rate_chart(dashboard.error_rates),
        "votes_by_user": charts.votes_by_user_chart(dashboard.votes_by_user),
        "prompt_versions": charts.prompt_versions_chart(dashboard.prompt_versions),
    }
    assert set(built) == set(charts.SELECTIONS)
    for name, chart in built.items():
        wanted, fields = charts.SELECTIONS[name]
        found = {param["name"]: param for param in all_params(chart.to_dict())}
        assert found[wanted]["select"]["fields"] == list(fields), name
        assert found[wanted]["select"]["on"] == "click", name


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
