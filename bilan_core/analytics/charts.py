"""Altair charts for the analytics DataFrames (no Streamlit here: the page only displays them).

Every chart that can be opened on its rows carries one named point selection (``SELECTIONS``); the page
asks Streamlit for that selection only, and ``bilan_core.app.drilldown`` turns what was clicked into the
matching answers. Rates are shown as percentages everywhere; colours come from ``palette``.
"""

from __future__ import annotations

import warnings

import altair as alt
import pandas as pd

from bilan_core.analytics.palette import DOWN, MUTED, NEUTRAL, UP, model_scale, outcome_scale
from bilan_core.analytics.rollups import ROLLING_DAYS, rolling_trust

PERCENT = ".1%"
SHARE_AXIS = alt.Axis(format="%")
MIN_VERSION_VOTES = 20  # below this a prompt version's share of 👍 is greyed out: too few votes to compare
FEW_VOTES, ENOUGH_VOTES = "few votes", "enough votes"
LABEL_LIMIT = 220
# The one selection each chart offers for drill-down, by chart: its name and the fields it returns.
SELECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trust_by_model": ("pick_model", ("model",)),
    "votes_by_model": ("pick_model_vote", ("model", "vote")),
    "daily_trust": ("pick_day", ("day", "model")),
    "tokens": ("pick_token_day", ("day", "model")),
    "latency": ("pick_latency_model", ("model",)),
    "error_rate": ("pick_outcome", ("model", "outcome")),
    "votes_by_user": ("pick_voter", ("user_id", "vote")),
    "prompt_versions": ("pick_version", ("prompt_version",)),
}


def _selection(chart: str) -> alt.Parameter:
    name, fields = SELECTIONS[chart]
    return alt.selection_point(name=name, fields=list(fields), on="click", clear="dblclick")


def model_order(frame: pd.DataFrame, volume: str = "votes") -> list[str]:
    """Models by ``volume`` (most first, then by name): the row order every per-model chart shares."""
    if frame.empty:
        return []
    totals = frame.groupby("model", sort=False)[volume].sum().reset_index()
    ordered = totals.sort_values([volume, "model"], ascending=[False, True])
    return [str(model) for model in ordered["model"]]


def _model_axis(order: list[str]) -> alt.Y:
    return alt.Y("model:N", title="Model", sort=order, axis=alt.Axis(labelLimit=LABEL_LIMIT))


def _votes_long(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    long = frame.melt(id_vars=[key], value_vars=["positive", "negative"], var_name="vote", value_name="count")
    long["vote"] = long["vote"].map({"positive": UP, "negative": DOWN})
    return long


def trust_by_model_chart(trust: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Share of 👍 per model with its 95% interval, and the recency-weighted trust score; rows by votes."""
    pick = _selection("trust_by_model")
    order = model_order(trust)
    base = alt.Chart(trust).encode(y=_model_axis(order))
    tooltip = [
        alt.Tooltip("model:N", title="Model"),
        alt.Tooltip("trust_score:Q", title="Trust score (recency-weighted)", format=PERCENT),
        alt.Tooltip("positive_rate:Q", title="Share of 👍 (all votes alike)", format=PERCENT),
        alt.Tooltip("trust_low:Q", title="95% interval low", format=PERCENT),
        alt.Tooltip("trust_high:Q", title="95% interval high", format=PERCENT),
        alt.Tooltip("votes:Q", title="Votes"),
    ]
    interval = base.mark_rule(strokeWidth=3, opacity=0.5, color="#555").encode(
        x=alt.X(
            "trust_low:Q", title="Share of 👍 (95% interval)", scale=alt.Scale(domain=[0, 1]), axis=SHARE_AXIS
        ),
        x2="trust_high:Q",
        tooltip=tooltip,
    )
    rate = (
        base.mark_circle(size=110, opacity=1)
        .encode(
            x="positive_rate:Q",
            color=alt.Color("model:N", scale=model_scale(order), legend=None),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    score = base.mark_tick(color="black", thickness=2).encode(x="trust_score:Q", tooltip=tooltip)
    return alt.layer(interval, rate, score).properties(title="Trust per model")


def votes_by_model_chart(trust: pd.DataFrame) -> alt.Chart:
    """👍 and 👎 per model as stacked bars, in the same row order as the trust chart."""
    return _stacked_votes(
        _votes_long(trust, "model"), "model", "Model", "Votes per model", model_order(trust), "votes_by_model"
    )


def votes_by_user_chart(users: pd.DataFrame) -> alt.Chart:
    """👍 and 👎 per user as stacked bars, most active first."""
    order = [str(user) for user in users["user_id"]]  # votes_by_user is already most active first
    return _stacked_votes(
        _votes_long(users, "user_id"), "user_id", "User", "Votes per user", order, "votes_by_user"
    )


def _stacked_votes(
    long: pd.DataFrame, key: str, title: str, chart_title: str, order: list[str], chart: str
) -> alt.Chart:
    pick = _selection(chart)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y(f"{key}:N", title=title, sort=order, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
            x=alt.X("sum(count):Q", title="Votes", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("vote:N", title="Vote", scale=outcome_scale([UP, DOWN])),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                alt.Tooltip(f"{key}:N", title=title),
                alt.Tooltip("vote:N", title="Vote"),
                alt.Tooltip("count:Q", title="Votes"),
            ],
        )
        .add_params(pick)
        .properties(title=chart_title)
    )


def daily_trust_chart(daily: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Per model: a 7-day rolling share of 👍 over faint daily points (hollow on days with few votes).

    Clicking a model in the legend highlights it; clicking a day's point opens that day's answers.
    """
    frame = daily.assign(confidence=daily["low_votes"].map({True: FEW_VOTES, False: ENOUGH_VOTES}))
    rolling = rolling_trust(daily)
    models = sorted(set(frame["model"].astype(str)))
    highlight = alt.selection_point(name="highlight_model", fields=["model"], bind="legend")
    pick = _selection("daily_trust")
    colour = alt.Color(
        "model:N",
        title="Model (click to highlight)",
        scale=model_scale(models),
        legend=alt.Legend(symbolOpacity=1, symbolFillColor=None),
    )
    x = alt.X("date:T", title="Day (UTC)")
    y = alt.Y("positive_rate:Q", title="Share of 👍", scale=alt.Scale(domain=[0, 1]), axis=SHARE_AXIS)
    shown = alt.condition(highlight, alt.value(1.0), alt.value(0.1))
    daily_line = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1)
        .encode(x=x, y=y, color=colour, opacity=alt.condition(highlight, alt.value(0.3), alt.value(0.05)))
    )
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=40, strokeWidth=1.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            # Same field and scale as the colour: one merged model legend; a hollow point keeps its ring.
            stroke=alt.Stroke("model:N", title="Model (click to highlight)", scale=model_scale(models)),
            # Few votes: a hollow diamond; enough: a filled circle. The legend's symbols get a colour of
            # their own (grey), or they would inherit none and stay blank.
            shape=alt.Shape(
                "confidence:N",
                title="Votes that day",
                scale=alt.Scale(domain=[ENOUGH_VOTES, FEW_VOTES], range=["circle", "diamond"]),
                legend=alt.Legend(symbolStrokeColor="#555", symbolFillColor="#bbb", symbolStrokeWidth=1.5),
            ),
            fillOpacity=alt.FillOpacity(
                "confidence:N",
                scale=alt.Scale(domain=[ENOUGH_VOTES, FEW_VOTES], range=[0.6, 0.0]),
                legend=None,
            ),
            opacity=shown,
            tooltip=[
                alt.Tooltip("date:T", title="Day"),
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("positive_rate:Q", title="Share of 👍 that day", format=PERCENT),
                alt.Tooltip("votes:Q", title="Votes that day"),
                alt.Tooltip("confidence:N", title="Confidence"),
            ],
        )
        .add_params(highlight, pick)
    )
    trend = (
        alt.Chart(rolling)
        .mark_line(strokeWidth=3)
        .encode(
            x=x,
            y=alt.Y("rolling_rate:Q", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            opacity=shown,
            tooltip=[
                alt.Tooltip("date:T", title="Day"),
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("rolling_rate:Q", title=f"Share of 👍, last {ROLLING_DAYS} days", format=PERCENT),
                alt.Tooltip("rolling_votes:Q", title=f"Votes, last {ROLLING_DAYS} days"),
            ],
        )
    )
    return alt.layer(daily_line, trend, points).properties(title="Trust over time")


def tokens_chart(tokens: pd.DataFrame) -> alt.Chart:
    """Total tokens per day, stacked by model (a bar is one whole day wide, however few days there are)."""
    pick = _selection("tokens")
    models = model_order(tokens, "total_tokens")
    return (
        alt.Chart(tokens)
        .mark_bar()
        .encode(
            x=alt.X("yearmonthdate(date):T", title="Day (UTC)"),
            y=alt.Y("total_tokens:Q", title="Tokens", stack="zero", axis=alt.Axis(format="~s")),
            color=alt.Color("model:N", title="Model", scale=model_scale(models), sort=models),
            order=alt.Order("model:N"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                alt.Tooltip("date:T", title="Day"),
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("prompt_tokens:Q", title="Input tokens", format=","),
                alt.Tooltip("completion_tokens:Q", title="Output tokens", format=","),
                alt.Tooltip("cost_usd:Q", title="Estimated cost (USD)", format="$.2f"),
            ],
        )
        .add_params(pick)
        .properties(title="Tokens per model over time")
    )


LATENCY_PANELS = {"ttft": "Time to first token", "latency": "Total answer time"}


def latency_chart(latency: pd.DataFrame) -> alt.HConcatChart:
    """Per model, two panels with their own scales (TTFT, total time): a bar to p50 and a whisker to p95."""
    pick = _selection("latency")
    order = model_order(latency, "turns")
    panels: list[alt.LayerChart | alt.FacetChart] = []
    for measure, title in LATENCY_PANELS.items():
        tooltip = [
            alt.Tooltip("model:N", title="Model"),
            alt.Tooltip(f"{measure}_p50:Q", title="p50 (ms)", format=",.0f"),
            alt.Tooltip(f"{measure}_p95:Q", title="p95 (ms)", format=",.0f"),
            alt.Tooltip("turns:Q", title="Turns"),
        ]
        # The second panel shares the first one's rows: no labels again, so both fit a half-width column.
        y_axis = _model_axis(order) if not panels else alt.Y("model:N", sort=order, axis=None)
        base = alt.Chart(latency).encode(y=y_axis)
        whisker = base.mark_rule(color="#555", strokeWidth=2).encode(
            x=alt.X(f"{measure}_p50:Q", title="ms (bar p50, line to p95)", axis=alt.Axis(format="~s")),
            x2=f"{measure}_p95:Q",
            tooltip=tooltip,
        )
        bar = base.mark_bar(height={"band": 0.7}).encode(
            x=f"{measure}_p50:Q",
            color=alt.Color("model:N", scale=model_scale(order), legend=None),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=tooltip,
        )
        p95 = base.mark_tick(color="#555", thickness=2).encode(x=f"{measure}_p95:Q", tooltip=tooltip)
        panels.append(alt.layer(bar.add_params(pick), whisker, p95).properties(title=title, width=170))
    with warnings.catch_warnings():
        # Both panels carry the one click selection on purpose: Altair merges it into one, and says so.
        warnings.filterwarnings("ignore", "Automatically deduplicated selection parameter")
        return alt.hconcat(*panels).properties(title="Latency per model (p50 / p95)")


def error_rate_chart(errors: pd.DataFrame) -> alt.Chart:
    """Error and cancellation rates per model (%), rows by turns; the axis is never squashed to zero."""
    long = errors.melt(
        id_vars=["model", "turns"],
        value_vars=["error_rate", "cancel_rate"],
        var_name="outcome",
        value_name="rate",
    )
    long["outcome"] = long["outcome"].map({"error_rate": "error", "cancel_rate": "cancelled"})
    pick = _selection("error_rate")
    highest = float(long["rate"].max()) if not long.empty else 0.0
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=_model_axis(model_order(errors, "turns")),
            yOffset=alt.YOffset("outcome:N", sort=["error", "cancelled"]),
            x=alt.X(
                "rate:Q",
                title="Share of turns",
                scale=alt.Scale(domain=[0, rate_axis_top(highest)]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color("outcome:N", title="Outcome", scale=outcome_scale(["error", "cancelled"])),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("rate:Q", title="Share of turns", format=".2%"),
                alt.Tooltip("turns:Q", title="Turns"),
            ],
        )
        .add_params(pick)
        .properties(title="Errors and cancellations per model")
    )


def rate_axis_top(highest: float) -> float:
    """The top of a share axis: a little above the highest share, at least 5 % (no "0.000000%" axis)."""
    return min(1.0, max(0.05, highest * 1.15))


def prompt_versions_chart(
    versions: pd.DataFrame, *, min_votes: int = MIN_VERSION_VOTES
) -> alt.LayerChart | alt.FacetChart:
    """Share of 👍 per prompt version with its 95% interval and its n; greyed out below ``min_votes``."""
    frame = versions.assign(
        enough=versions["votes"].map(lambda votes: ENOUGH_VOTES if votes >= min_votes else FEW_VOTES),
        n_label=versions["votes"].map(lambda votes: f"n = {int(votes):,} votes"),
    )
    pick = _selection("prompt_versions")
    order = sorted(str(version) for version in frame["prompt_version"])
    base = alt.Chart(frame).encode(
        y=alt.Y(
            "prompt_version:N",
            title="Prompt version",
            sort=order,
            axis=alt.Axis(labelAngle=0, labelLimit=LABEL_LIMIT),
        )
    )
    tooltip = [
        alt.Tooltip("prompt_version:N", title="Prompt version"),
        alt.Tooltip("positive_rate:Q", title="Share of 👍", format=PERCENT),
        alt.Tooltip("votes:Q", title="Votes"),
        alt.Tooltip("turns:Q", title="Turns"),
        alt.Tooltip("error_rate:Q", title="Error rate", format=".2%"),
    ]
    share = alt.X(
        "positive_rate:Q",
        title="Share of 👍 (95% interval)",
        scale=alt.Scale(domain=[0, 1.25]),
        axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),
    )
    bars = (
        base.mark_bar(height={"band": 0.7})
        .encode(
            x=share,
            color=alt.Color(
                "enough:N",
                title=f"Votes (minimum {min_votes})",
                scale=alt.Scale(domain=[ENOUGH_VOTES, FEW_VOTES], range=[NEUTRAL, MUTED]),
            ),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    interval = base.mark_rule(color="black").encode(x="trust_low:Q", x2="trust_high:Q", tooltip=tooltip)
    counts = base.mark_text(align="left", dx=4, color="#333").encode(
        x=alt.datum(1.0), text="n_label:N", tooltip=tooltip
    )
    return alt.layer(bars, interval, counts).properties(title="Prompt versions compared", height=alt.Step(36))
