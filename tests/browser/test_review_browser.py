"""A three-person review session end to end in headless Chromium: three raters join by link (three browser
contexts, three names), rate, skip and go back; the facilitator's board updates by itself, then closes the
session; the raters are told, and the report opens by its link."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.browser_support import app_environment, chromium, streamlit_app
from tests.reviews.review_support import record_turns

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)
RATERS = ("Ann", "Bob", "Cy")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def review(tmp_path) -> Iterator[tuple[str, Bilan, str]]:
    """The app on a SQLite file holding an open session of 6 answers, 2 raters each; URL, client, id."""
    database_url = f"sqlite:///{tmp_path / 'review.db'}"
    lead = Bilan(load_settings(database_url=database_url, user_id="lead", telemetry=False))
    session = lead.create_review_session(
        "Thursday review", prompt_ids=record_turns(lead, 6), raters_per_item=2, instructions="Check the facts"
    )
    with streamlit_app(app_environment(BILAN_DATABASE_URL=database_url), tmp_path / "streamlit.log") as url:
        yield url, lead, session.id
    lead.close()


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def idle(page: Page) -> None:
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def join(page: Page, url: str, name: str) -> None:
    page.goto(url)
    idle(page)
    form = page.get_by_test_id("stForm")
    form.get_by_label("Your name").fill(name)
    form.get_by_role("button", name="Join").click()
    expect(page.get_by_text("rated by you")).to_be_visible()
    expect(page.get_by_text("Check the facts")).to_be_visible()
    idle(page)


def rate(page: Page, choice: str, comment: str | None = None) -> None:
    page.get_by_text(choice, exact=True).click()
    if comment:
        page.get_by_label("Comment (optional)").fill(comment)
    page.get_by_role("button", name="Save and next").click()
    expect(page.get_by_text(f"Saved: {choice}.")).to_be_visible()
    idle(page)


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label)


def test_three_people_rate_the_board_follows_then_the_session_closes_with_its_report(browser, review) -> None:
    url, lead, session_id = review
    board = new_page(browser)
    board.goto(f"{url}/?review={session_id}&board=1")
    idle(board)
    expect(metric(board, "Ratings")).to_contain_text("0 of 12")
    expect(board.get_by_text(f"?review={session_id}")).to_be_visible()

    raters = {name: new_page(browser) for name in RATERS}
    for name, page in raters.items():
        join(page, f"{url}/?review={session_id}", name)
    expect(metric(board, "Raters")).to_contain_text("3")  # the board redraws by itself
    expect(metric(board, "Ratings")).to_contain_text("0 of 12")

    rate(raters["Ann"], "👍 Good", "clear and short")
    rate(raters["Bob"], "👎 Bad", "wrong year")
    rate(raters["Cy"], "👍 Good")
    expect(raters["Ann"].get_by_text(re.compile(r"^1 of \d+ rated by you"))).to_be_visible()
    expect(metric(board, "Ratings")).to_contain_text("3 of 12")
    expect(board.get_by_text("wrong year", exact=False).first).to_be_visible()

    bob = raters["Bob"]  # Back shows the rating pre-filled; changing it replaces it
    bob.get_by_role("button", name="Back").click()
    idle(bob)
    # Until the rerun ends, Streamlit may still show the card it replaces (a stale element).
    expect(bob.get_by_label("Comment (optional)")).to_have_count(1)
    expect(bob.get_by_label("Comment (optional)")).to_have_value("wrong year")
    bob.get_by_label("Comment (optional)").fill("right after all")
    rate(bob, "👍 Good")
    cy = raters["Cy"]
    cy.get_by_role("button", name="Skip").click()
    expect(cy.get_by_text("Skipped: it goes to someone else.")).to_be_visible()
    expect(board.get_by_text("right after all").first).to_be_visible()
    expect(metric(board, "Skipped / drafts")).to_contain_text("1 / 0")

    ratings = lead.get_review_session(session_id).ratings()
    assert sorted(ratings["rater"]) == ["Ann", "Bob", "Cy"]
    assert ratings.set_index("rater").loc["Bob", "comment"] == "right after all"

    idle(board)
    board.get_by_role("button", name="Close session…").click()
    expect(board.get_by_text("Close the session?")).to_be_visible()
    idle(board)  # the board holds still while the close is confirmed
    board.get_by_role("button", name="Yes, close it").click()
    expect(board.get_by_text("The session is closed: the report is ready.")).to_be_visible()
    assert lead.get_review_session(session_id).status == "closed"

    ann = raters["Ann"]
    ann.reload()
    expect(ann.get_by_text("This session is closed")).to_be_visible()
    ann.get_by_role("link", name="Read the report").click()
    expect(ann.get_by_role("heading", name="Most disputed items")).to_be_visible()
    expect(ann.get_by_role("button", name="Download Markdown")).to_be_visible()
    expect(ann.get_by_test_id("stException")).to_have_count(0)
    for page in (board, *raters.values()):
        page.context.close()
