"""Comment themes of the Analytics filter through the client: local SQLite and a real server on PostgreSQL."""

from __future__ import annotations

import pytest

from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.client.bilan import Bilan
from bilan_core.clock import now_ms
from bilan_core.store.models import Turn
from tests.helpers import server_client

COMMENTS = [
    ("gpt-4o", -1, "way too long"),
    ("gpt-4o", -1, "too long to read"),
    ("gpt-4o", -1, "Too long, and a wrong date"),
    ("gpt-4o", -1, "wrong date"),
    ("gpt-4o", -1, "meh"),
    ("gpt-4o", 1, "short and right"),
    ("gpt-4o", 1, "right date, thanks"),
    ("llama-3", -1, "refused to answer"),
]


def fill(client: Bilan) -> None:
    for number, (model, value, comment) in enumerate(COMMENTS):
        client.record_turn(
            Turn(
                prompt_id=f"p{number}",
                user_id="alice",
                model=model,
                response="an answer",
                created_ms=now_ms(),
            )
        )
        client.vote(f"p{number}", value, comment)


def assert_expected_themes(client: Bilan) -> None:
    found = client.comment_themes(AnalyticsFilter())
    assert [(theme.model, theme.phrase, theme.count) for theme in found.themes] == [
        ("gpt-4o", "too long", 3),
        ("gpt-4o", "wrong date", 2),
    ]
    assert {quote.prompt_id for quote in found.themes[0].quotes} == {"p0", "p1", "p2"}
    assert found.notes == ("too few 👎 comments for llama-3 to find themes (1; at least 5 are needed)",)
    assert found.comments == len(COMMENTS)


def test_local_mode_themes_of_the_filtered_comments(bilan: Bilan) -> None:
    fill(bilan)
    assert_expected_themes(bilan)
    only_llama = bilan.comment_themes(AnalyticsFilter(models=("llama-3",)))
    assert only_llama.comments == 1 and only_llama.themes == ()
    newest_three = bilan.comment_themes(AnalyticsFilter(), limit=3)
    assert newest_three.comments == 3
    with pytest.raises(ValueError, match="limit"):
        bilan.comment_themes(AnalyticsFilter(), limit=0)


def test_server_mode_themes_equal_local_ones(server_project, live_server) -> None:
    remote = server_client(server_project.key, live_server.url, user_id="alice")
    try:
        fill(remote)
        assert remote.flush(timeout=10)
        assert_expected_themes(remote)
    finally:
        remote.close()
