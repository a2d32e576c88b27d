"""The Analytics page in a real headless Chromium: charts drawn, a link's filter applied to the numbers and
the CSV download (named after the filter), a comment holding HTML and script shown as text, never run, a
click on a chart listing the answers behind it, and a comment's link opening its conversation."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bilan_core.clock import now_ms
from bilan_core.store.conversations import start_conversation
from bilan_core.store.engine import get_engine
from bilan_core.store.votes import cast_vote
from tests.browser_support import CHART, app_environment, chromium, streamlit_app
from tests.helpers import add_turn

pytestmark = pytest.mark.browser

# A fresh server's first run imports pandas and Altair and reroutes through app.py: slow on a busy machine.
WAIT_MS = 30_000
SCRIPT_COMMENT = "<script>window.__pwned = 1</script><b id='injected'>bold?</b> & more"


def seed(database_url: str) -> None:
    engine = get_engine(database_url)
    moment = now_ms() - 3_600_000
    for number, model in enumerate(("gpt-4o", "gpt-4o", "llama-3.1-8b")):
        start_conversation(engine, user_id="alice", title=f"chat {number}", conversation_id=f"conv-{number}")
        prompt_id = add_turn(
            engine,
            model=model,
            prompt_text=f"question {number}",
            response=f"<img src=x onerror='window.__pwned = 2'> answer {number}",
            latency_ms=100.0,
            prompt_tokens=10,
            completion_tokens=10,
            created_ms=moment + number,
            conversation_id=f"conv-{number}",
        )
        comment = SCRIPT_COMMENT if number == 0 else None
        cast_vote(engine, prompt_id=prompt_id, user_id="alice", value=1, comment=comment, at_ms=moment + 10)


@pytest.fixture
def app_url(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port over a seeded SQLite file."""
    seed(sqlite_url)
    with streamlit_app(app_environment(BILAN_DATABASE_URL=sqlite_url), tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        yield context.new_page()


def test_a_filtered_link_draws_charts_downloads_filtered_csv_and_shows_html_as_text(
    page: Page, app_url: str, tmp_path: Path
) -> None:
    page.goto(f"{app_url}/analytics?model=gpt-4o")
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible(timeout=WAIT_MS)
    votes = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Votes", exact=True))
    expect(votes.get_by_test_id("stMetricValue")).to_have_text("2", timeout=WAIT_MS)
    page.locator(CHART).first.wait_for(state="attached")
    # Eight charts but the error one: every turn went well, which a sentence says instead.
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(7, timeout=WAIT_MS)
    expect(page.get_by_text("No errors or cancellations in this view's 2 turns.")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)

    card = page.locator('[class*="st-key-analytics_comment_"][class*="_card"]').first
    expect(card.get_by_text(SCRIPT_COMMENT, exact=True)).to_be_visible(timeout=WAIT_MS)
    details = card.get_by_test_id("stExpander").filter(has_text="Prompt and answer")
    details.click()
    answer = "<img src=x onerror='window.__pwned = 2'> answer 0"
    expect(details.get_by_text(answer, exact=True)).to_be_visible(timeout=WAIT_MS)
    assert page.locator("#injected").count() == 0
    assert page.evaluate("window.__pwned") is None

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Turns and votes (CSV)").click()
    saved = tmp_path / "turns.csv"
    assert download_info.value.suggested_filename.startswith("bilan-turns_30d_model-gpt-4o_")
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(encoding="utf-8", newline="")))
    assert [row["model"] for row in rows] == ["gpt-4o", "gpt-4o"]
    assert rows[0]["vote_comment"] == SCRIPT_COMMENT


def test_a_click_on_a_chart_lists_the_answers_behind_it(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/analytics?model=gpt-4o")
    chart = page.locator('[data-testid="stVegaLiteChart"]').filter(has_text="Votes per model")
    expect(page.get_by_text("Answers: model gpt-4o")).to_have_count(0)
    # Vega draws each bar as an SVG mark; the 👍 part of gpt-4o's stacked bar comes first.
    bar = chart.locator('[aria-roledescription="bar"]').first
    bar.wait_for(state="visible")
    box = bar.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_text("Answers: model gpt-4o, with a 👍 up vote")).to_be_visible(timeout=WAIT_MS)
    listed = page.locator(".st-key-analytics_drill")
    expect(listed.get_by_text("1 👍 up, 0 👎 down", exact=False)).to_have_count(2)
    expect(listed.get_by_text("question 1", exact=True).first).to_be_visible()  # the prompt, to scan the list
    expect(listed.get_by_text("llama", exact=False)).to_have_count(0)
    page.get_by_role("button", name="Close the list").click()
    expect(page.get_by_text("Answers: model gpt-4o, with a 👍 up vote")).to_have_count(0)


def test_a_comment_opens_its_conversation_in_the_playground(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/analytics")
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible(timeout=WAIT_MS)
    page.get_by_text("Open this conversation in the Playground").first.click()
    page.wait_for_url("**c=conv-0*", timeout=WAIT_MS)  # the Playground is the app's first page: "/?c=…"
    expect(page.get_by_text("question 0")).to_be_visible(timeout=WAIT_MS)
