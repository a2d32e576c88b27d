"""Every page in a real headless Chromium over demo data, saved as full-page screenshots: each page must
draw without an exception first. The pages are read from the router's list (pages/shared.py), so a page
added there is photographed too.

They go to test-results/screenshots/ on every run (look at them there), and replace the ones the docs
show (docs/screenshots/) when BILAN_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from bilan_core import Bilan, load_settings
from bilan_core.experiments.experiment_runs import run_experiment
from bilan_core.store.demo_data import seed_demo_data
from bilan_core.store.engine import get_engine
from bilan_core.store.models import Turn
from tests.browser_support import CHART, app_environment, chromium, streamlit_app
from tests.fixtures.openai_server import DEFAULT_ANSWER, FakeOpenAIServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("BILAN_UPDATE_SCREENSHOTS") == "1"
    else ROOT / "test-results" / "screenshots"
)
WAIT_MS = 30_000
# Streamlit's main area and sidebar scroll inside the window: the tallest content decides the page height.
TALLEST = "() => Math.max(...[...document.querySelectorAll('*')].map(element => element.scrollHeight))"
VISITOR = "?user=Ada%20Lovelace&team=prompt-review-june"
# (url path, title) of every page in the router's list, as written in pages/shared.py's app_pages().
ROUTED_PAGES = re.findall(
    r'st\.Page\(PAGES_DIR / "(\w+)\.py", title="([^"]+)"', (ROOT / "pages" / "shared.py").read_text()
)
# The Playground and Analytics are photographed in a state of their own, below.
PLAIN_PAGES = [(path, title) for path, title in ROUTED_PAGES if path not in ("playground", "analytics")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def database_url(_openai_server_session: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A few weeks of demo history, two prompt versions, an experiment run and a review session."""
    folder = tmp_path_factory.mktemp("screenshots")
    url = f"sqlite:///{folder / 'demo.db'}"
    seed_demo_data(get_engine(url), turns=3_000, seed=7)
    seed_prompts_and_an_experiment(url, _openai_server_session.base_url)
    return url


@pytest.fixture(scope="module")
def review_id(database_url: str) -> str:
    """A review session of six demo answers, two raters part-way through it."""
    client = Bilan(load_settings(database_url=database_url, user_id="Ada Lovelace"))
    with Session(get_engine(database_url)) as session:
        prompt_ids = list(session.exec(select(Turn.prompt_id).where(Turn.status == "ok").limit(6)))
    review = client.create_review_session(
        "June answers review", prompt_ids=prompt_ids, criteria=["accuracy"], instructions="Rate each answer."
    )
    for rater, votes in (("Ada Lovelace", (1, -1)), ("Grace Hopper", (1, 1, -1))):
        review.join(rater)
        for vote in votes:
            item = review.next_item(rater)
            assert item is not None
            comment = "Clear and correct." if vote == 1 else "Misses the question."
            review.rate(
                item.item_id, rater, vote=vote, scores={"accuracy": 4 if vote == 1 else 2}, comment=comment
            )
    client.close()
    return review.id


@pytest.fixture(scope="module")
def app_url(
    _openai_server_session: FakeOpenAIServer,
    database_url: str,
    review_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The app over the demo database (its review session made first), answering through the loopback."""
    folder = tmp_path_factory.mktemp("screenshots-app")
    env = app_environment(
        BILAN_DATABASE_URL=database_url,
        OPENAI_BASE_URL=_openai_server_session.base_url,
        OPENAI_API_KEY="sk-test-screenshots",
        BILAN_MAX_RETRIES="0",
    )
    with streamlit_app(env, folder / "streamlit.log") as url:
        yield url


def seed_prompts_and_an_experiment(database_url: str, model_url: str) -> None:
    """Two versions of a stored prompt and one experiment run, so Prompts and Experiments show content."""
    client = Bilan(
        load_settings(
            database_url=database_url, openai_base_url=model_url, openai_api_key="sk-test", user_id="Ada"
        )
    )
    client.create_prompt("support", "You are a helpful support agent.", model="gpt-4o-mini")
    concise = "You are a helpful support agent. Answer in two sentences."
    client.create_prompt("support", concise, labels=["production"], note="shorter answers")
    questions = ["How do I reset my password?", "Can I export my data?", "Where is my invoice?"]
    client.create_dataset("support questions", questions)
    run_experiment(
        client,
        "support questions",
        [
            {"name": "v1", "prompt": client.get_prompt("support", version=1)},
            {"name": "v2 concise", "prompt": client.get_prompt("support")},
        ],
        name="support v1 vs v2",
        concurrency=2,
    )
    client.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def save(page: Page, name: str) -> None:
    """A full-page screenshot: the window is made as tall as the page, whose parts then redraw."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1000)  # tables and charts take their height after the script has run
    for _ in range(3):  # a taller window can let more draw (lazy tables): measure again until it fits
        height = min(int(page.evaluate(TALLEST)) + 40, 6000)
        if height <= page.viewport_size["height"]:
            break
        page.set_viewport_size({"width": 1400, "height": height})
        page.wait_for_timeout(1500)  # tables and charts redraw at the new size, elements fade in
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


def test_playground_after_a_rated_answer(page: Page, app_url: str, openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(chunks=8, chunk_delay=0.02)
    open_page(page, f"{app_url}/{VISITOR}")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("How do I know which answers my team trusts?")
    box.press("Enter")
    answer = page.get_by_label("Chat message from assistant").last
    expect(answer).to_contain_text(DEFAULT_ANSWER)
    expect(answer).to_contain_text("TTFT")
    answer.get_by_role("radio", name="Thumbs up").click()
    page.get_by_label("What made this response helpful?").fill("Short, and it names the trust score.")
    page.get_by_role("button", name="Save comment").click()
    expect(page.get_by_text("Your comment: Short, and it names the trust score.")).to_be_visible()
    expect(answer.get_by_text("You rated this answer good (thumbs up).")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("How do I know which answers")).to_be_visible()
    save(page, "playground")


def test_every_routed_page_is_photographed() -> None:
    assert {"playground", "analytics", "compare", "batch", "prompts", "experiments", "settings"} <= {
        path for path, _ in ROUTED_PAGES
    }


@pytest.mark.parametrize(("name", "title"), PLAIN_PAGES)
def test_page_over_demo_data(page: Page, app_url: str, name: str, title: str) -> None:
    open_page(page, f"{app_url}/{name}{VISITOR}")
    expect(page.get_by_role("heading", name=title).first).to_be_visible()
    save(page, name)


def test_analytics_over_demo_data(page: Page, app_url: str) -> None:
    open_page(page, f"{app_url}/analytics{VISITOR}&range=30d")
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    page.locator(CHART).first.wait_for(state="attached")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    save(page, "analytics")


@pytest.mark.parametrize("view", ["", "&board=1"])
def test_a_review_session_as_a_rater_and_as_its_board(
    page: Page, app_url: str, review_id: str, view: str
) -> None:
    # A ?review= link opens the review page as the app's default page, at the root URL.
    open_page(page, f"{app_url}/{VISITOR}&review={review_id}{view}")
    expect(page.get_by_role("heading", name="June answers review").first).to_be_visible()
    save(page, "review-board" if view else "review-card")
