"""The Analytics page's rules: time-range presets, the filter in the query string, headline figures.

Kept out of the page so they are tested without Streamlit. The query string uses its own names
(``voter``, ``session``) because ``user`` and ``team`` already carry the visitor's identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from bilan_core.analytics.dashboard import AnalyticsFilter, Headline
from bilan_core.analytics.filters import parse_prompt_ref
from bilan_core.clock import MS_PER_DAY, MS_PER_HOUR
from bilan_core.pricing import Price

TIME_RANGES: dict[str, str] = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "all": "All time",
    "custom": "Custom dates",
}
RANGE_SPANS_MS: dict[str, int] = {
    "24h": MS_PER_DAY,
    "7d": 7 * MS_PER_DAY,
    "30d": 30 * MS_PER_DAY,
    "90d": 90 * MS_PER_DAY,
}
WHOLE_DAY_RANGES = ("7d", "30d", "90d")  # the last N UTC days, today included
DEFAULT_RANGE = "30d"
QUERY_KEYS = ("range", "from", "to", "model", "voter", "session", "version", "prompt")
TREND_ARROWS = {"improving": "↑", "declining": "↓", "stable": "→"}
TREND_MEANINGS = {
    "improving": "the later half of the votes is more often 👍 than the earlier half (by over 10 points)",
    "declining": "the later half of the votes is less often 👍 than the earlier half (by over 10 points)",
    "stable": "the earlier and later halves of the votes are within 10 points (or there are under 10 votes)",
}
TRUST_LABEL = "Trust score (recent count more)"
RATE_LABEL = "Positive rate (all votes alike)"
TREND_LABEL = "Trend of 👍 over this range"
ALL_SESSIONS = "*"  # ?session=* : every team session, even for a visitor who has one of their own


@dataclass(frozen=True)
class PageFilters:
    """What the visitor picked: a time range (preset or custom UTC days) and the name filters."""

    time_range: str = DEFAULT_RANGE
    start_day: date | None = None
    end_day: date | None = None
    models: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    team_session: str | None = None
    prompt_versions: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.time_range not in TIME_RANGES:
            raise ValueError(f"time range must be one of {', '.join(TIME_RANGES)}, got {self.time_range!r}")
        if self.time_range == "custom":
            if self.start_day is None or self.end_day is None:
                raise ValueError("a custom time range needs both a first and a last day")
            if self.start_day > self.end_day:
                raise ValueError(f"the first day {self.start_day} is after the last day {self.end_day}")

    def to_filter(self, at_ms: int) -> AnalyticsFilter:
        """The analytics filter at time ``at_ms``; preset ranges end at the next whole hour or day."""
        start_ms, end_ms = self.time_bounds(at_ms)
        return AnalyticsFilter(
            start_ms=start_ms,
            end_ms=end_ms,
            models=self.models,
            users=self.users,
            team_session=self.team_session,
            prompt_versions=self.prompt_versions,
            prompts=self.prompts,
        )

    def time_bounds(self, at_ms: int) -> tuple[int | None, int | None]:
        """Start (inclusive) and end (exclusive) in epoch ms; None for an open side."""
        if self.time_range == "all":
            return None, None
        if self.time_range == "custom":
            assert self.start_day is not None and self.end_day is not None
            return _day_start_ms(self.start_day), _day_start_ms(self.end_day + timedelta(days=1))
        if self.time_range in WHOLE_DAY_RANGES:
            # Whole UTC days up to the end of today: read from the daily roll-ups alone.
            end_ms = (at_ms // MS_PER_DAY + 1) * MS_PER_DAY
            return end_ms - RANGE_SPANS_MS[self.time_range], end_ms
        # The 24 whole UTC hours up to the end of this hour: read from the hourly roll-ups alone, and
        # the filter (the cache key) stays steady between reruns.
        end_ms = -(-(at_ms + 1) // MS_PER_HOUR) * MS_PER_HOUR
        return end_ms - RANGE_SPANS_MS[self.time_range], end_ms

    def to_query(self, *, own_session: str | None = None) -> dict[str, str | list[str]]:
        """The query-string parameters that reproduce this view (defaults, and the own session, left out)."""
        params: dict[str, str | list[str]] = {}
        if self.time_range != DEFAULT_RANGE:
            params["range"] = self.time_range
        if self.time_range == "custom":
            assert self.start_day is not None and self.end_day is not None
            params["from"], params["to"] = self.start_day.isoformat(), self.end_day.isoformat()
        named = (("model", self.models), ("voter", self.users), ("version", self.prompt_versions))
        for key, values in (*named, ("prompt", self.prompts)):
            if values:
                params[key] = list(values)
        if self.team_session and self.team_session != own_session:
            params["session"] = self.team_session
        elif not self.team_session and own_session:
            params["session"] = ALL_SESSIONS  # else the visitor's own session would be the default again
        return params


def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class ParsedFilters:
    """Filters read from a query string, and what in it could not be used (shown as warnings)."""

    filters: PageFilters
    problems: list[str] = field(default_factory=list)


def filters_from_query(
    params: Mapping[str, Sequence[str]], *, own_session: str | None = None
) -> ParsedFilters:
    """Read the page's filters from query parameters (each key to all its values); bad parts fall back.

    Without ``session`` in the link, the team-session filter is the visitor's own session (if any).
    """
    problems: list[str] = []
    time_range = _last(params, "range") or DEFAULT_RANGE
    if time_range not in TIME_RANGES:
        problems.append(
            f"Unknown time range {time_range!r} in the link; showing {TIME_RANGES[DEFAULT_RANGE]}."
        )
        time_range = DEFAULT_RANGE
    start_day = end_day = None
    if time_range == "custom":
        try:
            start_day, end_day = _custom_days(_last(params, "from"), _last(params, "to"))
        except ValueError as exc:
            problems.append(f"{exc}; showing {TIME_RANGES[DEFAULT_RANGE]}.")
            time_range = DEFAULT_RANGE
    filters = PageFilters(
        time_range=time_range,
        start_day=start_day,
        end_day=end_day,
        models=_names(params, "model"),
        users=_names(params, "voter"),
        team_session=_team_session(_last(params, "session"), own_session),
        prompt_versions=_names(params, "version"),
        prompts=_prompt_refs(params, problems),
    )
    return ParsedFilters(filters, problems)


def default_session(own_session: str | None, known_sessions: Sequence[str]) -> str | None:
    """The team-session filter's default: the visitor's own session, if it has any data yet."""
    return own_session if own_session in known_sessions else None


def _team_session(linked: str | None, own_session: str | None) -> str | None:
    if linked is None:
        return own_session
    return None if linked in ("", ALL_SESSIONS) else linked


def _prompt_refs(params: Mapping[str, Sequence[str]], problems: list[str]) -> tuple[str, ...]:
    refs = _names(params, "prompt")
    kept = []
    for ref in refs:
        try:
            parse_prompt_ref(ref)
            kept.append(ref)
        except ValueError as exc:
            problems.append(f"{exc}; that prompt filter is left out.")
    return tuple(kept)


def _last(params: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = params.get(key) or []
    return values[-1].strip() if values else None


def _names(params: Mapping[str, Sequence[str]], key: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip() for value in params.get(key) or [] if value.strip()))


def _custom_days(first: str | None, last: str | None) -> tuple[date, date]:
    if not first or not last:
        raise ValueError("A custom time range in the link needs both 'from' and 'to' dates (YYYY-MM-DD)")
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ValueError(f"The dates {first!r} to {last!r} in the link are not YYYY-MM-DD") from None
    if start > end:
        raise ValueError(f"The link's first day {start} is after its last day {end}")
    return start, end


# --- the headline row -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One headline figure as the page shows it: label, value, change vs the previous period, help."""

    label: str
    value: str
    delta: str | None
    delta_color: str
    help: str


def headline_metrics(current: Headline, previous: Headline | None) -> list[Metric]:
    """The headline row: each figure formatted, with its change against the previous period."""
    versus = (
        "Change: vs the previous period of the same length."
        if previous
        else "No change shown: this range has no previous period."
    )
    return [
        _trust_metric(current, previous, versus),
        trend_metric(current),
        _rate_metric(current, previous, versus),
        _count_metric("Votes", current.votes, previous.votes if previous else None, versus),
        _count_metric("Comments", current.comments, previous.comments if previous else None, versus),
        _count_metric("Turns", current.turns, previous.turns if previous else None, versus),
        _count_metric("Tokens", current.tokens, previous.tokens if previous else None, versus),
        _cost_metric(current, previous, versus),
        _latency_metric(current, previous, versus),
    ]


def _unless_zero(delta: str) -> str:
    """A signed change as shown, or "0" when it rounds to nothing: Streamlit draws no arrow only for "0"."""
    return "0" if not any(char in "123456789" for char in delta) else delta


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


def _points(now: float | None, before: float | None) -> str | None:
    if now is None or before is None:
        return None
    return _unless_zero(f"{(now - before) * 100:+.1f} pts")


def _trust_metric(current: Headline, previous: Headline | None, versus: str) -> Metric:
    arrow = TREND_ARROWS.get(current.trend, "")
    interval = (
        f"Unweighted share of 👍 {_percent(current.positive_rate)}, 95 % interval "
        f"{_percent(current.trust_low)} – {_percent(current.trust_high)}"
        if current.trust_low is not None
        else "No votes yet"
    )
    return Metric(
        label=TRUST_LABEL,
        value=_percent(current.trust_score),
        delta=_points(current.trust_score, previous.trust_score if previous else None),
        delta_color="normal",
        help=(
            "Share of 👍 where a vote's weight halves every 7 days, so recent votes count more. "
            f"{interval}. Trend {arrow} {current.trend}: {TREND_MEANINGS[current.trend]}. {versus}"
        ),
    )


def trend_metric(current: Headline) -> Metric:
    """The trend as an arrow and a word, its meaning in the help; a dash without votes."""
    if current.votes == 0:
        return Metric(
            label=TREND_LABEL, value="—", delta=None, delta_color="off", help="No votes in this range."
        )
    return Metric(
        label=TREND_LABEL,
        value=f"{TREND_ARROWS[current.trend]} {current.trend}",
        delta=None,
        delta_color="off",
        help=f"{current.trend.capitalize()}: {TREND_MEANINGS[current.trend]}.",
    )


def trust_summary(current: Headline) -> str | None:
    """The trust score and trend, and the share of 👍 with its 95 % interval, in words under the headline."""
    if current.trust_score is None or current.trust_low is None or current.trust_high is None:
        return None
    # The interval is the unweighted share's (Wilson), so it is stated next to that share: the
    # recency-weighted trust score may lie outside it.
    return (
        f"Trust score {_percent(current.trust_score)}: the share of 👍 with recent votes counting more. "
        f"Positive rate {_percent(current.positive_rate)}: the plain share of 👍 "
        f"(95 % interval {_percent(current.trust_low)} – {_percent(current.trust_high)}). "
        f"Trend {TREND_ARROWS[current.trend]} {current.trend}: {TREND_MEANINGS[current.trend]}."
    )


def _rate_metric(current: Headline, previous: Headline | None, versus: str) -> Metric:
    return Metric(
        label=RATE_LABEL,
        value=_percent(current.positive_rate),
        delta=_points(current.positive_rate, previous.positive_rate if previous else None),
        delta_color="normal",
        help=f"Plain share of 👍 among votes, old and new alike. {versus}",
    )


def _count_metric(label: str, now: int, before: int | None, versus: str) -> Metric:
    return Metric(
        label=label,
        value=f"{now:,}",
        delta=None if before is None else _unless_zero(f"{now - before:+,}"),
        delta_color="off" if label == "Tokens" else "normal",
        help=versus,
    )


def _cost_metric(current: Headline, previous: Headline | None, versus: str) -> Metric:
    unpriced = ", ".join(current.unpriced_models)
    if current.cost_usd is None:
        value = "unpriced" if current.unpriced_models else "$0.00"
    else:
        # Short enough for a metric tile: "≥" says models without a price are left out.
        value = ("≥ " if unpriced else "") + f"${current.cost_usd:,.2f}"
    delta = None
    if previous is not None and current.cost_usd is not None and previous.cost_usd is not None:
        change = current.cost_usd - previous.cost_usd
        delta = _unless_zero(f"{'-' if change < 0 else '+'}${abs(change):,.2f}")
    note = f" Not counted (no price, set BILAN_PRICES): {unpriced}." if unpriced else ""
    return Metric(
        label="Estimated cost",
        value=value,
        delta=delta,
        delta_color="inverse",
        help=f"From tokens and the price table.{note} {versus}",
    )


def _latency_metric(current: Headline, previous: Headline | None, versus: str) -> Metric:
    now, before = current.median_latency_ms, previous.median_latency_ms if previous else None
    delta = None if now is None or before is None else _unless_zero(f"{now - before:+,.0f} ms")
    return Metric(
        label="Median latency",
        value="—" if now is None else f"{now:,.0f} ms",
        delta=delta,
        delta_color="inverse",
        help=f"Nearest-rank median of total answer time. {versus}",
    )


def price_rows(prices: Mapping[str, Price], unpriced: Sequence[str]) -> pd.DataFrame:
    """The price table as shown: every priced model, then the unpriced ones in view, marked so."""
    priced = [
        {
            "Model": model,
            "Input (USD / 1M tokens)": f"{price.input_per_million:,.2f}",
            "Output (USD / 1M tokens)": f"{price.output_per_million:,.2f}",
        }
        for model, price in sorted(prices.items())
    ]
    missing = [
        {"Model": model, "Input (USD / 1M tokens)": "unpriced", "Output (USD / 1M tokens)": "unpriced"}
        for model in unpriced
        if model not in prices
    ]
    return pd.DataFrame(
        priced + missing, columns=["Model", "Input (USD / 1M tokens)", "Output (USD / 1M tokens)"]
    )
