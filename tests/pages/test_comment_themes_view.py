"""The Analytics page's "What the comments say" section in AppTest, on a real SQLite file."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bilan_core.clock import now_ms
from bilan_core.store.engine import get_engine
from bilan_core.store.votes import cast_vote
from tests.app_support import clear_app_caches, new_app
from tests.helpers import add_turn

PAGE = "pages/analytics.py"
HTML_COMPLAINT = "<b>too long</b> [link](http://x.test)"
COMMENTS = [
    (-1, HTML_COMPLAINT),
    (-1, "too long to read"),
    (-1, "way too long"),
    (-1, "a wrong date"),
    (-1, "wrong date again"),
    (1, "clear and right"),
]


@pytest.fixture
def app_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The app on a fresh SQLite file, with fresh caches."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    clear_app_caches()
    yield get_engine(sqlite_url)
    clear_app_caches()


def seed(engine: Engine, comments: list[tuple[int, str]]) -> None:
    moment = now_ms()
    for number, (value, comment) in enumerate(comments):
        prompt_id = add_turn(
            engine,
            model="gpt-4o",
            prompt_id=f"prompt-{number}",
            conversation_id=f"conversation-{number}",
            created_ms=moment - 60_000,
        )
        cast_vote(
            engine, prompt_id=prompt_id, user_id="alice", value=value, comment=comment, at_ms=moment - number
        )


def open_page():
    at = new_app(PAGE)
    at.default_timeout = 60
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_themes_show_with_counts_and_quotes_as_typed(app_env: Engine) -> None:
    seed(app_env, COMMENTS)
    at = open_page()
    assert "What the comments say" in [header.value for header in at.subheader]
    labels = [expander.label for expander in at.expander if expander.label.startswith("“")]
    assert labels[0] == "“too long” · in 3 of 5 👎 (thumbs-down) comments, 0 👍 (thumbs-up)"
    assert labels[1].startswith("“wrong date” · in 2 of 5")
    [too_long] = [expander for expander in at.expander if expander.label == labels[0]]
    quoted = [text.value for text in too_long.text]
    # Newest first, and the HTML and Markdown shown literally (st.text), never rendered.
    assert quoted == [HTML_COMPLAINT, "too long to read", "way too long"]
    links = [link.proto.query_string for link in too_long.get("page_link")]
    assert links == ["c=conversation-0", "c=conversation-1", "c=conversation-2"]
    assert [caption.value for caption in too_long.caption] == [
        "Prompt prompt\\-0",
        "Prompt prompt\\-1",
        "Prompt prompt\\-2",
    ]


def test_too_few_comments_are_said_plainly(app_env: Engine) -> None:
    seed(app_env, COMMENTS[:2])
    at = open_page()
    notes = [info.value for info in at.info]
    assert "Too few 👎 comments for gpt\\-4o to find themes \\(2; at least 5 are needed\\)\\." in notes
    assert not [expander for expander in at.expander if expander.label.startswith("“")]
