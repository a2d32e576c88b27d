"""A review report as Markdown (user text escaped) and as one formula-safe CSV."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

from bilan_core.analytics.csv_cells import CsvWriter
from bilan_core.markdown_text import escape_markdown
from bilan_core.reviews.report import ReviewReport, value_words

if TYPE_CHECKING:
    from bilan_core.analytics.agreement import AlphaEstimate

PROMPT_CHARACTERS = 300
CSV_COLUMNS = ["section", "key", "measure", "value", "low", "high", "detail"]


def inline(text: object) -> str:
    """User text for one line of Markdown or a table cell: on one line, every special character escaped."""
    return escape_markdown(" ".join(str(text).split()))


def number(value: object, digits: int = 2) -> str:
    """A figure to show, or an en dash when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return f"{float(value):.{digits}f}" if isinstance(value, float) else str(value)


def interval(low: object, high: object) -> str:
    """``[low, high]``, or an en dash without an interval."""
    if number(low) == "–" or number(high) == "–":
        return "–"
    return f"[{number(low)}, {number(high)}]"


def report_markdown(report: ReviewReport) -> str:
    """The whole report as Markdown."""
    return "\n".join(
        [*_summary(report), *_agreement(report), *_results(report), *_themes(report), *_disputes(report)]
    )


def _summary(report: ReviewReport) -> Iterator[str]:
    session = report.session
    names = ", ".join(inline(name) for name in report.raters["rater"])
    yield f"# Review report: {inline(session.name)}"
    yield ""
    kind = "pairwise (A or B)" if session.pairwise else "👍/👎 (thumbs up or down)"
    yield (
        f"Session {inline(session.id)} · {inline(session.status)} · {kind} · {report.items} items, "
        f"{report.rated_items} rated · {report.ratings} ratings by {len(report.raters)} raters "
        f"({names or 'none'})"
    )
    if session.criteria:
        yield ""
        yield "Criteria scored 1–5: " + ", ".join(inline(name) for name in session.criteria)
    if session.status != "closed":
        yield ""
        yield "*The session is still open: these figures may change.*"
    yield ""


def _agreement(report: ReviewReport) -> Iterator[str]:
    yield "## Agreement"
    yield ""
    yield "| Measure | Alpha | 95 % interval | Items rated by 2 or more | Reading |"
    yield "|---|---|---|---|---|"
    for estimate in (report.agreement.overall, *report.agreement.criteria):
        yield _alpha_row(estimate)
    yield ""
    yield "### Raters"
    yield ""
    yield "| Rater | Ratings | Comments | Shared items | Agreement | 👍 rate | Consensus | Leniency | Flag |"
    yield "|---|---|---|---|---|---|---|---|---|"
    for row in report.raters.itertuples(index=False):
        yield (
            f"| {inline(row.rater)} | {row.ratings} | {row.comments} | {row.shared_items} | "
            f"{number(row.agreement)} | {number(row.positive_rate)} | {number(row.consensus_rate)} | "
            f"{number(row.leniency)} | {inline(row.flag) or '–'} |"
        )
    yield ""
    yield inline(report.agreement.outlier_rule)
    yield ""


def _alpha_row(estimate: AlphaEstimate) -> str:
    return (
        f"| {inline(estimate.measure)} ({estimate.level}) | {number(estimate.alpha, 3)} | "
        f"{interval(estimate.ci_low, estimate.ci_high)} | {estimate.overlapping_items} | "
        f"{inline(estimate.reading)} |"
    )


def _results(report: ReviewReport) -> Iterator[str]:
    yield "## Results per model or variant"
    yield ""
    if report.results.empty:
        yield "No ratings yet."
    elif report.leaderboard is not None:
        yield (
            "Bradley–Terry ratings (mean 1000; 400 points = 10 times as likely to win), "
            "95 % bootstrap interval."
        )
        yield ""
        yield "| Variant | Rating | 95 % interval | Games | Wins | Losses | Ties | Both bad |"
        yield "|---|---|---|---|---|---|---|---|"
        for row in report.results.itertuples(index=False):
            yield (
                f"| {inline(row.variant)} | {number(row.rating, 0)} | {interval(row.ci_low, row.ci_high)} | "
                f"{row.games} | {row.wins} | {row.losses} | {row.ties} | {row.both_bad} |"
            )
    else:
        yield from _trust_table(report)
    yield ""


def _trust_table(report: ReviewReport) -> Iterator[str]:
    criteria = report.session.criteria
    yield "Trust: the share of 👍 (thumbs-up) ratings, with its Wilson 95 % interval."
    yield ""
    extra = "".join(f" Mean {inline(name)} |" for name in criteria)
    yield f"| Model or variant | Ratings | 👍 up | 👎 down | Trust | 95 % interval |{extra}"
    yield "|---|---|---|---|---|---|" + "---|" * len(criteria)
    for row in report.results.to_dict("records"):
        means = "".join(f" {number(row[f'mean_{name}'])} |" for name in criteria)
        yield (
            f"| {inline(row['variant'])} | {row['ratings']} | {row['positive']} | {row['negative']} | "
            f"{number(row['trust'])} | {interval(row['ci_low'], row['ci_high'])} |{means}"
        )


def _themes(report: ReviewReport) -> Iterator[str]:
    yield "## What the comments say"
    yield ""
    for note in report.themes.notes:
        yield f"- {inline(note)}"
    for theme in report.themes.themes:
        yield (
            f"- **{inline(theme.phrase)}** ({inline(theme.model)}): in {theme.count} of "
            f"{theme.negative_comments} 👎 (thumbs-down) comments, {theme.positive_count} 👍 (thumbs-up)"
        )
        for quote in theme.quotes:
            source = f" (prompt {inline(quote.prompt_id)})" if quote.prompt_id else ""
            yield f"  - “{inline(quote.comment)}”{source}"
    if not report.themes.notes and not report.themes.themes:
        yield "No themes."
    yield ""


def _disputes(report: ReviewReport) -> Iterator[str]:
    yield "## Most disputed items"
    yield ""
    if report.disputed.empty:
        yield "No item split its raters."
        return
    measure = "winner" if report.session.pairwise else "vote"
    for row in report.disputed.to_dict("records"):
        yield (
            f"### Item {row['item_id']}: {inline(row['label'])} · {inline(row['summary'])} · "
            f"{row['disagreement']:.0%} of rater pairs disagree"
        )
        yield ""
        prompt = row["prompt"] if isinstance(row["prompt"], str) else "(no prompt stored)"
        shortened = prompt if len(prompt) <= PROMPT_CHARACTERS else prompt[:PROMPT_CHARACTERS] + "…"
        yield f"Prompt {inline(row['prompt_id'])}: {inline(shortened)}"
        yield ""
        chosen = report.disputed_ratings[report.disputed_ratings["item_id"] == row["item_id"]]
        for rating in chosen.to_dict("records"):
            comment = rating["comment"]
            said = f" — “{inline(comment)}”" if isinstance(comment, str) and comment.strip() else ""
            yield f"- {inline(rating['rater'])}: {value_words(rating[measure], measure)}{said}"
        yield ""


def report_csv(report: ReviewReport) -> bytes:
    """The report as rows of ``section, key, measure, value, low, high, detail``, formula-safe."""
    buffer = io.StringIO(newline="")
    writer = CsvWriter(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(report))
    return buffer.getvalue().encode("utf-8")


def _csv_rows(report: ReviewReport) -> Iterator[list[object]]:
    session = report.session
    for measure, value in (
        ("name", session.name),
        ("status", session.status),
        ("pairwise", session.pairwise),
        ("items", report.items),
        ("rated_items", report.rated_items),
        ("ratings", report.ratings),
        ("raters", len(report.raters)),
    ):
        yield ["summary", session.id, measure, value, None, None, None]
    for estimate in (report.agreement.overall, *report.agreement.criteria):
        yield [
            "agreement",
            estimate.measure,
            "alpha",
            estimate.alpha,
            estimate.ci_low,
            estimate.ci_high,
            estimate.reading,
        ]
    for row in report.raters.to_dict("records"):
        for measure in ("ratings", "comments", "shared_items", "agreement", "positive_rate", "leniency"):
            yield ["raters", row["rater"], measure, _cell(row[measure]), None, None, row["flag"] or None]
    yield from _result_rows(report)
    for theme in report.themes.themes:
        quotes = " | ".join(quote.comment for quote in theme.quotes)
        yield ["themes", theme.model, theme.phrase, theme.count, None, None, quotes]
    for note in report.themes.notes:
        yield ["themes", None, "note", None, None, None, note]
    for row in report.disputed.to_dict("records"):
        yield ["disputed", row["item_id"], row["prompt_id"], row["disagreement"], None, None, row["summary"]]
    measure = "winner" if session.pairwise else "vote"
    for rating in report.disputed_ratings.to_dict("records"):
        yield [
            "disputed_ratings",
            rating["item_id"],
            rating["rater"],
            _cell(rating[measure]),
            None,
            None,
            rating["comment"],
        ]


def _result_rows(report: ReviewReport) -> Iterator[list[object]]:
    if report.leaderboard is not None:
        for row in report.results.to_dict("records"):
            yield [
                "results",
                row["variant"],
                "rating",
                row["rating"],
                row["ci_low"],
                row["ci_high"],
                f"{row['games']} games",
            ]
        return
    for row in report.results.to_dict("records"):
        detail = f"{row['positive']} of {row['ratings']} 👍"
        yield ["results", row["variant"], "trust", row["trust"], row["ci_low"], row["ci_high"], detail]
        for name in report.session.criteria:
            yield ["results", row["variant"], f"mean {name}", _cell(row[f"mean_{name}"]), None, None, None]


def _cell(value: object) -> object:
    """A figure for the CSV: missing values empty, numpy scalars as plain numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
