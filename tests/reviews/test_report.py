"""A review session's report on real sessions (SQLite, PostgreSQL, server mode): figures, themes, text."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from bilan_core.analytics.agreement import rating_agreement
from bilan_core.analytics.trust import wilson_interval
from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.reviews.report import PAIRWISE_THEMES_NOTE
from bilan_core.store.models import Turn
from tests.reviews.review_support import answered_experiment

RATERS = ("ann", "bob", "cy")
EVIL = '=HYPERLINK("http://x.test") <b>bold</b> | [link](http://x.test)'


def record_answers(bilan: Bilan, count: int, *, model: str, prefix: str) -> list[str]:
    """``count`` recorded turns of ``model`` with prompt ids ``prefix-N``."""
    ids = []
    for number in range(count):
        prompt_id = f"{prefix}-{number}"
        bilan.record_turn(
            Turn(
                prompt_id=prompt_id,
                user_id="alice",
                model=model,
                prompt_text=f"question {number} *about* {model}",
                response=f"answer {number}",
                created_ms=now_ms(),
            )
        )
        ids.append(prompt_id)
    assert bilan.flush(timeout=10)
    return ids


def vote_of(rater: str, prompt_id: str) -> int:
    """gpt answers are liked, llama ones not, except cy who likes everything (lenient) and ann on llama-0."""
    if rater == "cy" or prompt_id.startswith("gpt"):
        return 1
    return 1 if (rater, prompt_id) == ("ann", "llama-0") else -1


COMMENTS = {
    "llama": ["too long to read", "way too long", "too long and vague", "wrong date", "a wrong date again"],
}


def rate_everything(session, items: pd.DataFrame) -> None:
    prompt_of = dict(zip(items["item_id"], items["prompt_id"], strict=True))
    for rater in RATERS:
        session.join(rater)
        while (item := session.next_item(rater)) is not None:
            prompt_id = prompt_of[item.item_id]
            vote = vote_of(rater, prompt_id)
            number = int(prompt_id.split("-")[1])
            comment = None
            if prompt_id.startswith("llama") and rater == "bob":
                comment = COMMENTS["llama"][number % 5]
            elif prompt_id.startswith("llama") and rater == "ann" and 0 < number < 5:
                comment = EVIL if number == 1 else COMMENTS["llama"][(number + 2) % 5]
            elif prompt_id.startswith("gpt") and rater == "bob" and number < 4:
                comment = "clear and right"
            session.rate(
                item.item_id, rater, vote=vote, scores={"accuracy": 5 if vote > 0 else 2}, comment=comment
            )


@pytest.fixture
def closed_session(facilitator: Bilan):
    ids = record_answers(facilitator, 12, model="gpt-4o", prefix="gpt") + record_answers(
        facilitator, 12, model="llama-3", prefix="llama"
    )
    session = facilitator.create_review_session(
        "Week 48 <b>review</b>", prompt_ids=ids, criteria=["accuracy"]
    )
    rate_everything(session, session.items())
    session.close()
    return session


def test_the_report_adds_up_the_session(closed_session) -> None:
    report = closed_session.report()
    ratings = closed_session.ratings()
    assert (report.items, report.rated_items, report.ratings) == (24, 24, 72)
    assert list(report.raters["rater"]) == ["ann", "bob", "cy"]
    assert list(report.raters["ratings"]) == [24, 24, 24]
    assert report.raters.set_index("rater").loc["bob", "comments"] == 16
    # The same alpha as computed on the ratings directly, and cy (👍 to everything) is the lenient one.
    assert report.agreement.overall.alpha == pytest.approx(rating_agreement(ratings).overall.alpha)
    flags = report.raters.set_index("rater")["flag"]
    assert flags["cy"] == "disagrees, lenient" and flags["bob"] == ""
    results = report.results.set_index("variant")
    assert list(results.index) == ["gpt-4o", "llama-3"]
    assert results.loc["gpt-4o", ["ratings", "positive", "negative"]].tolist() == [36, 36, 0]
    # llama: cy's 12 👍 and ann's on llama-0.
    assert results.loc["llama-3", ["positive", "negative"]].tolist() == [13, 23]
    low, high = wilson_interval(13, 36)
    assert (results.loc["llama-3", "ci_low"], results.loc["llama-3", "ci_high"]) == pytest.approx((low, high))
    assert results.loc["gpt-4o", "mean_accuracy"] == 5.0
    assert report.agreement.criteria[0].measure == "accuracy"


def test_themes_and_disputed_items(closed_session) -> None:
    report = closed_session.report()
    phrases = [theme.phrase for theme in report.themes.themes if theme.model == "llama-3"]
    assert phrases[:2] == ["too long", "wrong date"]
    disputed = report.disputed
    # Every llama item split 2 to 1 (cy against the others) except llama-0, where ann sided with cy.
    assert len(disputed) == 10
    assert set(disputed["disagreement"].round(4)) == {round(2 / 3, 4)}
    assert disputed["label"].eq("llama-3").all()
    first = disputed.iloc[0]
    assert first["summary"] in {"1 👎 down, 2 👍 up", "2 👎 down, 1 👍 up"}
    assert set(report.disputed_ratings["item_id"]) == set(disputed["item_id"])


def test_markdown_escapes_every_user_text(closed_session) -> None:
    text = closed_session.report().markdown()
    assert text.startswith("# Review report: Week 48 \\<b\\>review\\</b\\>")
    assert "## Agreement" in text and "## Results per model or variant" in text
    assert "## What the comments say" in text and "## Most disputed items" in text
    assert "<b>" not in text and "](http" not in text
    assert "\\<b\\>bold\\</b\\> \\| \\[link\\]\\(http\\:" in text
    assert "| gpt\\-4o | 36 | 36 | 0 | 1.00 |" in text


def test_csv_is_formula_safe_and_complete(closed_session) -> None:
    rows = list(csv.DictReader(io.StringIO(closed_session.report().csv().decode("utf-8"))))
    sections = {row["section"] for row in rows}
    assert sections == {"summary", "agreement", "raters", "results", "themes", "disputed", "disputed_ratings"}
    summary = {row["measure"]: row["value"] for row in rows if row["section"] == "summary"}
    assert summary["ratings"] == "72" and summary["name"] == "Week 48 <b>review</b>"
    comments = [row["detail"] for row in rows if row["section"] == "disputed_ratings"]
    assert "'" + EVIL in comments
    assert not any(cell.startswith("=") for row in rows for cell in row.values() if cell)


def test_pairwise_report_ranks_variants_with_bradley_terry(facilitator: Bilan) -> None:
    run_id = answered_experiment(facilitator, items=6)
    session = facilitator.create_review_session("a/b", run_id=run_id, pairwise=True, raters_per_item=2)
    items = session.items().set_index("item_id")
    for rater in ("ann", "bob"):
        session.join(rater)
        while (item := session.next_item(rater)) is not None:
            # Both prefer "short" except bob on the first item, who calls it a tie.
            short_side = "a" if items.loc[item.item_id, "variant"] == "short" else "b"
            verdict = "tie" if (rater, item.position) == ("bob", items["position"].min()) else short_side
            session.rate(item.item_id, rater, winner=verdict, comment=f"{rater} on {item.position}")
    session.close()
    report = session.report()
    assert report.leaderboard is not None
    ratings = report.results.set_index("variant")
    assert list(ratings.index) == ["short", "long"]
    assert ratings.loc["short", "rating"] > 1000 > ratings.loc["long", "rating"]
    assert (ratings.loc["short", "wins"], ratings.loc["short", "ties"]) == (11, 1)
    assert report.agreement.overall.measure == "winner"
    assert report.themes.notes == (PAIRWISE_THEMES_NOTE,)
    [disputed] = report.disputed.to_dict("records")
    assert disputed["label"] in {"short vs long", "long vs short"} and disputed["disagreement"] == 1.0
    text = report.markdown()
    assert "Bradley–Terry ratings" in text and "| short | " in text
    assert "- bob: tie — “bob on " in text


def test_an_open_session_without_ratings_reports_plainly(facilitator: Bilan) -> None:
    ids = record_answers(facilitator, 3, model="gpt-4o", prefix="gpt")
    report = facilitator.create_review_session("empty", prompt_ids=ids).report()
    assert (report.items, report.rated_items, report.ratings) == (3, 0, 0)
    assert report.results.empty and report.disputed.empty and report.raters.empty
    assert not report.agreement.overall.judged
    assert report.themes.notes == ("no 👎 comments to group into themes",)
    text = report.markdown()
    assert "still open" in text and "No ratings yet." in text and "No item split its raters." in text
    rows = list(csv.DictReader(io.StringIO(report.csv().decode("utf-8"))))
    assert {row["section"] for row in rows} == {"summary", "agreement", "themes"}
