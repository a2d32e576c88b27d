"""Compare and Batch in a real headless Chromium at 1440 px: named variants with their settings on hover, a
leaderboard without an interval from one vote, a batch run whose grid shows the comment and the metadata.

Full-page screenshots go to test-results/screenshots/ (compare-named.png, batch-rated.png) to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.comparisons import Variant, compare, record_preference
from bilan_core.settings import load_settings
from tests.browser_support import app_environment, chromium, streamlit_app
from tests.fixtures.openai_server import DEFAULT_ANSWER, FakeOpenAIServer

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
WIDTH = 1440
WAIT_MS = 30_000
VISITOR = "?user=Ada%20Lovelace"


@pytest.fixture(scope="module")
def app_url(
    _openai_server_session: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app on a database holding one verdict (too few votes for an interval)."""
    folder = tmp_path_factory.mktemp("compare-batch")
    database_url = f"sqlite:///{folder / 'app.db'}"
    client = Bilan(
        load_settings(
            database_url=database_url,
            openai_base_url=_openai_server_session.base_url,
            openai_api_key="sk-test",
            user_id="Ada",
        )
    )
    result = compare(client, "Which?", Variant(model="gpt-4o", label="Terse"), Variant(model="gpt-4o-mini"))
    record_preference(client, result.comparison_id, "a")
    client.close()
    env = app_environment(
        BILAN_DATABASE_URL=database_url,
        OPENAI_BASE_URL=_openai_server_session.base_url,
        OPENAI_API_KEY="sk-test-browser",
        BILAN_MAX_RETRIES="0",
    )
    with streamlit_app(env, folder / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(app_url: str) -> Iterator[Page]:
    with chromium() as browser:
        yield new_page(browser)


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def settle(page: Page) -> None:
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def save(page: Page, name: str) -> None:
    """A full-page screenshot at 1440 px wide, the window as tall as the page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": WIDTH, "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(1500)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_named_variants_show_their_settings_on_hover(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/compare{VISITOR}")
    settle(page)
    # One verdict: the leaderboard says there are not enough votes instead of drawing a 1-point interval.
    expect(page.get_by_text("Not enough votes yet: ratings settle")).to_be_visible()
    board = page.get_by_test_id("stDataFrame").first
    expect(board.get_by_test_id("glide-cell-3-0")).to_have_text("— (not enough votes yet)")  # 95% interval
    page.get_by_label("Prompt", exact=True).fill("How do I reset my password?")
    page.get_by_label("Name", exact=True).first.fill("Formal")
    page.get_by_label("System prompt", exact=True).first.fill("Answer formally, in two sentences.")
    page.get_by_role("button", name="Compare", exact=True).click()
    settle(page)
    heading = page.get_by_role("heading", name="A · Formal")
    expect(heading).to_be_visible()
    expect(page.get_by_text(DEFAULT_ANSWER).first).to_be_visible()
    heading.get_by_test_id("stTooltipHoverTarget").hover()
    expect(page.get_by_test_id("stTooltipContent")).to_contain_text("Answer formally, in two sentences.")
    save(page, "compare-named")


def test_a_batch_grid_shows_the_comment_and_the_metadata(page: Page, app_url: str, tmp_path: Path) -> None:
    prompts = tmp_path / "questions.csv"
    prompts.write_text(
        "prompt,topic\nWhat is a trust score?,trust\nHow do votes work?,votes\n", encoding="utf-8"
    )
    page.goto(f"{app_url}/batch{VISITOR}")
    settle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(prompts))
    settle(page)
    page.get_by_role("button", name="Start run").click()
    settle(page)
    expect(page.get_by_text("Run completed: 2 ok, 0 failed of 2.")).to_be_visible()
    expect(page.get_by_text("questions.csv already ran")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    assert box is not None and box["x"] + box["width"] <= WIDTH
    # Columns: row, prompt, answer, rating, comment (empty, not "None"), then the file's metadata.
    expect(grid.get_by_test_id("glide-cell-0-0")).to_have_text("1")
    expect(grid.get_by_test_id("glide-cell-4-0")).to_have_text("")
    expect(grid.get_by_test_id("glide-cell-5-1")).to_have_text("votes")
    save(page, "batch-rated")
