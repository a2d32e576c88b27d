"""Altair charts for the A/B leaderboard frames (no Streamlit here: the Compare page only shows them)."""

from __future__ import annotations

from typing import cast

import altair as alt
import pandas as pd

from bilan_core.analytics.bradley_terry import ANCHOR
from bilan_core.analytics.palette import model_scale

PERCENT = ".0%"
# Variant labels differ often only at their end (" · v2"), so they are shown whole, not cut at 180 px.
LABEL_LIMIT = 480
# Columns of the head-to-head matrix sit side by side, read level: each part of a label on its own line.
COLUMN_LABEL_LIMIT = 140
LABEL_LINES = "split(datum.label, ' · ')"
ROW_STEP = 32


def variant_model(label: str) -> str:
    """The model a variant label starts with (``"gpt-4o · t=0.2 · v2"`` → ``"gpt-4o"``)."""
    return str(label).split(" · ", 1)[0]


def rating_intervals_chart(ratings: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """Each variant's rating as a point (its model's colour) on its 95 % interval; a variant below the minimum
    votes has a hollow point and no interval (its rating is provisional).

    The model is the frame's ``model`` column when it has one, else the start of the variant label.
    """
    frame = ratings.dropna(subset=["rating"])
    models = frame["model"] if "model" in frame.columns else frame["variant"].map(variant_model)
    frame = frame.assign(model=models.astype(str))
    order = frame.sort_values("rating", ascending=False)["variant"].tolist()
    # No axis titles: the labels name the variants, the chart title says what is drawn.
    base = alt.Chart(frame).encode(
        y=alt.Y("variant:N", title=None, sort=order, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    )
    tooltip = [
        alt.Tooltip("variant:N", title="Variant"),
        alt.Tooltip("rating:Q", title="Rating", format=".0f"),
        alt.Tooltip("ci_low:Q", title="95% interval low", format=".0f"),
        alt.Tooltip("ci_high:Q", title="95% interval high", format=".0f"),
        alt.Tooltip("rank:Q", title="Rank"),
        alt.Tooltip("votes:Q", title="Votes"),
    ]
    interval = (
        base.transform_filter("isValid(datum.ci_low)")
        .mark_rule(strokeWidth=3, opacity=0.6)
        .encode(
            x=alt.X("ci_low:Q", title="Rating (95% interval)", scale=alt.Scale(zero=False)),
            x2="ci_high:Q",
            tooltip=tooltip,
        )
    )
    point = base.mark_point(size=100, filled=True, strokeWidth=2).encode(
        x="rating:Q",
        color=alt.Color("model:N", title="Model", scale=model_scale(frame["model"])),
        stroke=alt.Stroke("model:N", title="Model", scale=model_scale(frame["model"])),
        fillOpacity=alt.FillOpacity(
            "enough_votes:N",
            title="Enough votes",
            scale=alt.Scale(domain=[True, False], range=[1.0, 0.0]),
            legend=alt.Legend(
                labelExpr="datum.value ? 'yes (filled)' : 'not yet (hollow, no interval)'",
                symbolStrokeColor="#555",
                symbolFillColor="#555",
            ),
        ),
        tooltip=tooltip,
    )
    anchor = alt.Chart(pd.DataFrame({"anchor": [ANCHOR]})).mark_rule(strokeDash=[4, 4], color="gray")
    return alt.layer(interval, point, anchor.encode(x="anchor:Q")).properties(
        title="Bradley–Terry ratings with 95% intervals", height=alt.Step(ROW_STEP)
    )


def win_rate_chart(win_rates: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    """The head-to-head matrix: how often the row variant beat the column variant (ties count half)."""
    stacked = cast(
        pd.Series, win_rates.rename_axis(index="variant", columns="opponent").stack(future_stack=True)
    )
    long = stacked.rename("win_rate").reset_index().dropna(subset=["win_rate"])
    base = alt.Chart(long).encode(
        y=alt.Y("variant:N", title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
        x=alt.X(
            "opponent:N",
            title=None,
            axis=alt.Axis(labelLimit=COLUMN_LABEL_LIMIT, labelAngle=0, orient="top", labelExpr=LABEL_LINES),
        ),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("win_rate:Q", title="Win rate", scale=alt.Scale(domain=[0, 1], scheme="redblue")),
        tooltip=[
            alt.Tooltip("variant:N", title="Variant"),
            alt.Tooltip("opponent:N", title="Against"),
            alt.Tooltip("win_rate:Q", title="Win rate", format=PERCENT),
        ],
    )
    labels = base.mark_text(baseline="middle").encode(text=alt.Text("win_rate:Q", format=PERCENT))
    return alt.layer(cells, labels).properties(
        title="Head-to-head win rate (row against column)", height=alt.Step(ROW_STEP)
    )
