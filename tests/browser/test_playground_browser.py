"""End to end in a real headless Chromium: `streamlit run app.py` on 127.0.0.1, with the loopback model.

These tests never skip: without Chromium they fail and say how to install it (tests/run.sh does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from bilan_core.store.engine import get_engine
from bilan_core.store.models import Turn, Vote
from tests.browser_support import CHART, app_environment, chromium, streamlit_app
from tests.fixtures.openai_server import DEFAULT_ANSWER, FakeOpenAIServer

pytestmark = pytest.mark.browser

WAIT_MS = 20_000
expect.set_options(timeout=WAIT_MS)


def chat_environment(database_url: str, openai: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    """The app's environment: the loopback model, no retries, this database."""
    return app_environment(
        OPENAI_BASE_URL=openai.base_url,
        OPENAI_API_KEY="sk-test-browser",
        BILAN_DATABASE_URL=database_url,
        BILAN_MAX_RETRIES="0",
        **extra,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module's tests."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def app_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'app.db'}"


@pytest.fixture(scope="module")
def app_url(
    app_db: str, _openai_server_session: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One running app for the chat tests (each test is its own visitor), on a fresh SQLite file."""
    log_path = tmp_path_factory.mktemp("browser-log") / "streamlit.log"
    with streamlit_app(chat_environment(app_db, _openai_server_session), log_path) as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def rows(database_url: str, table: type[Turn] | type[Vote], **where: object) -> list:
    with Session(get_engine(database_url)) as session:
        statement = select(table)
        for name, value in where.items():
            statement = statement.where(getattr(table, name) == value)
        return list(session.exec(statement).all())


def stored_soon(read: Callable[[], list], *, count: int, within_s: float = 10.0) -> list:
    """``read()`` once it returns ``count`` rows (another process's writes land a moment later)."""
    deadline = time.monotonic() + within_s
    found = read()
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        found = read()
    return found


def open_app(page: Page, url: str) -> None:
    """Open a page and wait until the script run is over (typing during the first run can be lost)."""
    page.goto(url)
    wait_until_idle(page)


def wait_until_idle(page: Page) -> None:
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def ask(page: Page, prompt: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(prompt)
    box.press("Enter")
    expect(page.get_by_label("Chat message from user").last).to_have_text(prompt)


def assistant_text(page: Page) -> Callable[[], str]:
    return lambda: page.get_by_label("Chat message from assistant").last.inner_text()


def wait_for_partial_answer(page: Page) -> None:
    """Wait until the answer is on screen but not finished: it arrives piece by piece."""
    page.wait_for_function(
        """full => {
            const answers = [...document.querySelectorAll('[aria-label="Chat message from assistant"]')];
            const text = answers.length ? answers[answers.length - 1].innerText : '';
            return text.includes('Hello') && !text.includes(full);
        }""",
        arg=DEFAULT_ANSWER,
        polling=20,
    )


def test_chat_stream_vote_comment_reload_then_analytics(page, app_url, app_db, openai_server):
    openai_server.configure(chunks=12, chunk_delay=0.12)
    open_app(page, f"{app_url}/?user=Browser%20Tester&team=e2e-session")
    ask(page, "What is Bilan? <b>not bold</b>")

    wait_for_partial_answer(page)
    answer = page.get_by_label("Chat message from assistant").last
    expect(answer).to_contain_text(DEFAULT_ANSWER)
    expect(answer).to_contain_text("TTFT")

    answer.get_by_role("radio", name="Thumbs up").click()
    question = page.get_by_label("What made this response helpful?")
    question.fill("Short and to the point")
    page.get_by_role("button", name="Save comment").click()
    expect(page.get_by_text("Your comment: Short and to the point")).to_be_visible()

    [turn] = rows(app_db, Turn, user_id="Browser Tester")
    assert (turn.status, turn.response, turn.team_session) == ("ok", DEFAULT_ANSWER, "e2e-session")
    [vote] = rows(app_db, Vote, prompt_id=turn.prompt_id)
    assert (vote.value, vote.comment, vote.user_id, vote.team_session) == (
        1,
        "Short and to the point",
        "Browser Tester",
        "e2e-session",
    )
    assert f"c={turn.conversation_id}" in page.url

    page.reload()
    answer = page.get_by_label("Chat message from assistant").last
    expect(answer).to_contain_text(DEFAULT_ANSWER)
    expect(answer.get_by_role("radio", name="Thumbs up")).to_have_attribute("aria-checked", "true")
    expect(answer.get_by_role("radio", name="Thumbs down")).to_have_attribute("aria-checked", "false")
    expect(page.get_by_text("Your comment: Short and to the point")).to_be_visible()

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    page.locator(CHART).first.wait_for(state="attached")
    assert page.locator(CHART).count() >= 1
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_stop_keeps_the_partial_answer_which_can_be_rated(page, app_url, app_db, openai_server):
    openai_server.configure(chunks=60, chunk_delay=0.1)
    open_app(page, f"{app_url}/?user=Stopper")
    ask(page, "Tell me a long story")
    wait_for_partial_answer(page)
    page.get_by_role("button", name="Stop").click()

    answer = page.get_by_label("Chat message from assistant").last
    expect(answer).to_contain_text("stopped early")
    [turn] = rows(app_db, Turn, user_id="Stopper")
    assert turn.status == "cancelled"
    assert turn.response and DEFAULT_ANSWER.startswith(turn.response) and turn.response != DEFAULT_ANSWER
    answer.get_by_role("radio", name="Thumbs down").click()
    expect(page.get_by_label("How could this response be improved?")).to_be_visible()
    [vote] = rows(app_db, Vote, prompt_id=turn.prompt_id)
    assert (vote.value, vote.user_id) == (-1, "Stopper")


def test_thinking_then_a_cut_answer_shown_with_retry_and_regenerate_linked(
    page, app_url, app_db, openai_server
):
    openai_server.configure(chunks=8, chunk_delay=0.05, answer_delay=1.5)
    open_app(page, f"{app_url}/?user=Retrier")
    ask(page, "Explain Bilan")
    expect(page.get_by_text("Thinking…")).to_be_visible()  # before the first token
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()  # no silent cancel by a new message
    answer = page.get_by_label("Chat message from assistant").last
    expect(answer).to_contain_text("TTFT")
    expect(page.get_by_text("Thinking…")).to_have_count(0)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()

    openai_server.configure(answer_delay=0.0)
    openai_server.cut_stream(after_chunks=4)
    page.get_by_role("button", name="Regenerate").click()
    cut = page.get_by_label("Chat message from assistant").last
    expect(cut).to_contain_text("cut off")
    expect(cut).to_contain_text(DEFAULT_ANSWER[:12])  # the text received before the cut is shown
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_label("Chat message from assistant")).to_have_count(3)
    expect(page.get_by_label("Chat message from assistant").last).to_contain_text(DEFAULT_ANSWER)

    # The app stores turns write-behind: this process sees the last one a moment after the page shows it.
    turns = stored_soon(lambda: rows(app_db, Turn, user_id="Retrier"), count=3)
    first, regenerated, retried = sorted(turns, key=lambda t: t.created_ms)
    assert [t.status for t in (first, regenerated, retried)] == ["ok", "error", "ok"]
    assert regenerated.regenerated_from == first.prompt_id
    assert retried.regenerated_from == regenerated.prompt_id
    assert DEFAULT_ANSWER.startswith(regenerated.response) and regenerated.response


def test_two_visitors_chatting_at_once_each_see_only_their_own_chat(browser, app_url, app_db, openai_server):
    openai_server.configure(chunks=10, chunk_delay=0.1)
    contexts = [browser.new_context() for _ in range(2)]
    try:
        alice, bob = (context.new_page() for context in contexts)
        people = ("Alice", "Bob")
        open_app(alice, f"{app_url}/?user=Alice")
        open_app(bob, f"{app_url}/?user=Bob")
        for page, prompt in ((alice, "Alice asks about apples"), (bob, "Bob asks about bananas")):
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill(prompt)
            box.press("Enter")  # both answers stream at the same time
        for page, mine, theirs in ((alice, "apples", "bananas"), (bob, "bananas", "apples")):
            answer = page.get_by_label("Chat message from assistant")
            expect(answer).to_contain_text(DEFAULT_ANSWER)
            expect(answer).to_contain_text("TTFT")  # shown once the turn is recorded
            expect(page.get_by_label("Chat message from user")).to_have_count(1)
            expect(page.get_by_label("Chat message from user")).to_contain_text(mine)
            expect(page.get_by_text(theirs)).to_have_count(0)
        asked = {turn.user_id: turn.prompt_text for turn in rows(app_db, Turn) if turn.user_id in people}
        assert asked == {"Alice": "Alice asks about apples", "Bob": "Bob asks about bananas"}
    finally:
        for context in contexts:
            context.close()


def test_a_fresh_server_asks_for_the_password_even_on_a_direct_page_link(
    page, tmp_path, sqlite_url, openai_server
):
    env = chat_environment(sqlite_url, openai_server, BILAN_APP_PASSWORD="open-sesame")
    with streamlit_app(env, tmp_path / "streamlit.log") as url:
        # The very first run of the process: Streamlit's legacy pages/ mode would run the page file itself.
        open_app(page, f"{url}/compare")
        password = page.get_by_role("textbox", name="Password")
        expect(password).to_be_visible()
        expect(page.get_by_role("heading", name="Bilan")).to_be_visible()
        expect(page.get_by_role("heading", name="Compare")).to_have_count(0)

        password.fill("wrong")
        page.get_by_role("button", name="Enter").click()
        expect(page.get_by_text("Wrong password.")).to_be_visible()
        password.fill("open-sesame")
        page.get_by_role("button", name="Enter").click()
        expect(page.get_by_role("heading", name="Compare")).to_be_visible()
