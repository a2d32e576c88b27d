"""The Analytics page's comment search in the link, and download file names that carry the filter and date."""

from __future__ import annotations

from datetime import date

import pytest

from bilan_core.app.analytics_view import PageFilters
from bilan_core.app.comment_filters import (
    VOTE_LABELS,
    CommentFilters,
    comment_filters_from_query,
    vote_word,
)
from bilan_core.app.export_names import export_file_name

TODAY = date(2026, 5, 1)


def test_the_comment_search_and_vote_filter_round_trip_through_the_link() -> None:
    picked = CommentFilters(search="too long", vote="down")
    assert picked.to_query() == {"q": "too long", "vote": "down"}
    assert picked.sign == -1
    link = {key: [value] for key, value in picked.to_query().items()}
    assert comment_filters_from_query(link) == (picked, [])
    assert CommentFilters().to_query() == {}
    assert comment_filters_from_query({}) == (CommentFilters(), [])


def test_a_bad_comment_link_falls_back_and_says_why() -> None:
    found, problems = comment_filters_from_query({"vote": ["sideways"], "q": ["x" * 300]})
    assert found == CommentFilters(search="x" * 200, vote="all")
    assert len(problems) == 2 and "sideways" in problems[1] and "200" in problems[0]
    with pytest.raises(ValueError, match="one of all, up, down"):
        CommentFilters(vote="1")


def test_votes_are_words_as_well_as_emoji() -> None:
    assert (vote_word(1), vote_word(-1)) == ("👍 up", "👎 down")
    assert VOTE_LABELS == {"all": "All votes", "up": "👍 up only", "down": "👎 down only"}


def test_export_file_names_carry_the_filter_and_the_day() -> None:
    assert export_file_name("csv", PageFilters(), TODAY) == "bilan-turns_30d_2026-05-01.csv"
    filtered = PageFilters(time_range="7d", models=("gpt-4o", "llama 3/8b"), team_session="Review #2")
    assert (
        export_file_name("finetune", filtered, TODAY)
        == "bilan-finetune_7d_model-gpt-4o+llama-3-8b_session-Review-2_2026-05-01.jsonl"
    )
    custom = PageFilters(time_range="custom", start_day=date(2026, 4, 1), end_day=date(2026, 4, 7))
    assert export_file_name("dpo", custom, TODAY) == "bilan-dpo_2026-04-01_to_2026-04-07_2026-05-01.jsonl"
    many = PageFilters(users=tuple(f"user-number-{n}" for n in range(50)))
    assert len(export_file_name("csv", many, TODAY)) <= 150
    assert export_file_name("csv", many, TODAY).endswith("_2026-05-01.csv")
    with pytest.raises(ValueError, match="export kind"):
        export_file_name("xlsx", PageFilters(), TODAY)
