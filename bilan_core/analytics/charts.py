"""Altair charts for the analytics DataFrames (no Streamlit here: the page only displays them)."""

from __future__ import annotations

import altair as alt
import pandas as pd

# Words beside the emoji: the legend stays readable where no emoji font is installed.
UP, DOWN = "👍 up", "👎 down"
VOTE_COLORS = alt.Scale(domain=[UP, DOWN], range=["#2e9d5b", "#d64545"])
PERCENT = ".1%"


def _votes_long(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    long = frame.melt(id_vars=[key], value_vars=["positive", "negative"], var_name="vote", value_name="count")
    long["vote"] = long["vote"].map({"positive": UP, "negative": DOWN})
    return long


def trust_by_model_chart(trust: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Positive rate per model with its 95% interval as a bar, and the recency-weighted trust score."""
    base = alt.Chart(trust).encode(y=alt.Y("model:N", title="Model", sort="-x"))
    tooltip = [
        alt.Tooltip("model:N", title="Model"),
        alt.Tooltip("trust_score:Q", title="Trust score (recency-weighted)", format=PERCENT),
        alt.Tooltip("positive_rate:Q", title="Positive rate", format=PERCENT),
        alt.Tooltip("trust_low:Q", title="95% interval low", format=PERCENT),
        alt.Tooltip("trust_high:Q", title="95% interval high", format=PERCENT),
        alt.Tooltip("votes:Q", title="Votes"),
    ]
    interval = base.mark_rule(strokeWidth=3, opacity=0.6).encode(
        x=alt.X("trust_low:Q", title="Share of 👍 (95% interval)", scale=alt.Scale(domain=[0, 1])),
        x2="trust_high:Q",
        tooltip=tooltip,
    )
    rate = base.mark_circle(size=90).encode(x="positive_rate:Q", tooltip=tooltip)
    score = base.mark_tick(color="black", thickness=2).encode(x="trust_score:Q", tooltip=tooltip)
    return alt.layer(interval, rate, score).properties(title="Trust per model")


def votes_by_model_chart(trust: pd.DataFrame) -> alt.Chart:
    """👍 and 👎 per model as stacked bars."""
    return _stacked_votes(_votes_long(trust, "model"), "model", "Model", "Votes per model")


def votes_by_user_chart(users: pd.DataFrame) -> alt.Chart:
    """👍 and 👎 per user as stacked bars, most active first."""
    return _stacked_votes(_votes_long(users, "user_id"), "user_id", "User", "Votes per user")


def _stacked_votes(long: pd.DataFrame, key: str, title: str, chart_title: str) -> alt.Chart:
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y(f"{key}:N", title=title, sort="-x"),
            x=alt.X("sum(count):Q", title="Votes", stack="zero"),
            color=alt.Color("vote:N", title="Vote", scale=VOTE_COLORS),
            tooltip=[alt.Tooltip(f"{key}:N", title=title), alt.Tooltip("vote:N"), alt.Tooltip("count:Q")],
        )
        .properties(title=chart_title)
    )


def daily_trust_chart(daily: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Positive rate per model per day; hollow points mark days with too few votes to trust."""
    frame = daily.assign(confidence=daily["low_votes"].map({True: "few votes", False: "enough votes"}))
    base = alt.Chart(frame).encode(
        x=alt.X("date:T", title="Day (UTC)"),
        y=alt.Y(
            "positive_rate:Q", title="Share of 👍", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
        ),
        color=alt.Color("model:N", title="Model"),
    )
    line = base.mark_line(opacity=0.7)
    points = base.mark_point(size=50).encode(
        fill=alt.condition("datum.low_votes", alt.value("white"), alt.Color("model:N")),
        shape=alt.Shape("confidence:N", title="Votes that day"),
        tooltip=[
            alt.Tooltip("date:T", title="Day"),
            alt.Tooltip("model:N", title="Model"),
            alt.Tooltip("positive_rate:Q", title="Positive rate", format=PERCENT),
            alt.Tooltip("votes:Q", title="Votes"),
            alt.Tooltip("confidence:N", title="Confidence"),
        ],
    )
    return alt.layer(line, points).properties(title="Trust over time")


def tokens_chart(tokens: pd.DataFrame) -> alt.Chart:
    """Total tokens per day, stacked by model."""
    return (
        alt.Chart(tokens)
        .mark_bar()
        .encode(
            x=alt.X("date:T", title="Day (UTC)"),
            y=alt.Y("total_tokens:Q", title="Tokens", stack="zero"),
            color=alt.Color("model:N", title="Model"),
            tooltip=[
                alt.Tooltip("date:T", title="Day"),
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("prompt_tokens:Q", title="Input tokens", format=","),
                alt.Tooltip("completion_tokens:Q", title="Output tokens", format=","),
                alt.Tooltip("cost_usd:Q", title="Estimated cost (USD)", format="$.2f"),
            ],
        )
        .properties(title="Tokens per model over time")
    )


LATENCY_LABELS = {
    "ttft_p50": "TTFT p50",
    "ttft_p95": "TTFT p95",
    "latency_p50": "Total p50",
    "latency_p95": "Total p95",
}


def latency_chart(latency: pd.DataFrame) -> alt.Chart:
    """p50 and p95 of time to first token and of total latency per model, as grouped bars."""
    long = latency.melt(
        id_vars=["model"], value_vars=list(LATENCY_LABELS), var_name="measure", value_name="ms"
    )
    long["measure"] = long["measure"].map(LATENCY_LABELS)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("model:N", title="Model"),
            xOffset=alt.XOffset("measure:N", sort=list(LATENCY_LABELS.values())),
            y=alt.Y("ms:Q", title="Milliseconds"),
            color=alt.Color("measure:N", title="Measure", sort=list(LATENCY_LABELS.values())),
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("ms:Q", format=",.0f"),
            ],
        )
        .properties(title="Latency per model (p50 / p95)")
    )


def error_rate_chart(errors: pd.DataFrame) -> alt.Chart:
    """Error and cancellation rates per model, as grouped bars."""
    long = errors.melt(
        id_vars=["model", "turns"],
        value_vars=["error_rate", "cancel_rate"],
        var_name="outcome",
        value_name="rate",
    )
    long["outcome"] = long["outcome"].map({"error_rate": "error", "cancel_rate": "cancelled"})
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("model:N", title="Model"),
            xOffset="outcome:N",
            y=alt.Y("rate:Q", title="Share of turns", axis=alt.Axis(format="%")),
            color=alt.Color("outcome:N", title="Outcome", scale=alt.Scale(range=["#d64545", "#e0a030"])),
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("rate:Q", title="Rate", format=".2%"),
                alt.Tooltip("turns:Q", title="Turns"),
            ],
        )
        .properties(title="Errors and cancellations per model")
    )


def prompt_versions_chart(versions: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Positive rate per prompt version with its 95% interval."""
    base = alt.Chart(versions).encode(x=alt.X("prompt_version:N", title="Prompt version"))
    tooltip = [
        alt.Tooltip("prompt_version:N", title="Prompt version"),
        alt.Tooltip("positive_rate:Q", title="Positive rate", format=PERCENT),
        alt.Tooltip("votes:Q", title="Votes"),
        alt.Tooltip("turns:Q", title="Turns"),
        alt.Tooltip("error_rate:Q", title="Error rate", format=".2%"),
    ]
    bars = base.mark_bar(opacity=0.8).encode(
        y=alt.Y(
            "positive_rate:Q", title="Share of 👍", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
        ),
        tooltip=tooltip,
    )
    interval = base.mark_rule(color="black").encode(y="trust_low:Q", y2="trust_high:Q", tooltip=tooltip)
    return alt.layer(bars, interval).properties(title="Prompt versions compared")
