"""The answers behind a figure: the turns, newest first, a page at a time, narrowed by vote and outcome."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bilan_core.analytics.answers import answers_page
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.clock import now_ms
from bilan_core.store.votes import cast_vote
from tests.helpers import add_turn


def seed(engine: Engine) -> int:
    """Five turns a minute apart: a (👍 by ann, 👎 by bo), b (error), c (no version), d (👎 by ann), e."""
    moment = now_ms() - 3_600_000
    for number, name in enumerate("abcde"):
        add_turn(
            engine,
            prompt_id=name,
            model="gpt-4o" if name != "d" else "llama",
            prompt_version=None if name == "c" else "v1",
            status="error" if name == "b" else "ok",
            prompt_text=f"question {name}",
            response=f"answer {name}",
            conversation_id=f"conv-{name}",
            created_ms=moment + number * 60_000,
        )
    cast_vote(engine, prompt_id="a", user_id="ann", value=1)
    cast_vote(engine, prompt_id="a", user_id="bo", value=-1)
    cast_vote(engine, prompt_id="d", user_id="ann", value=-1)
    return moment


def ids(engine: Engine, where: AnalyticsFilter, **query: object) -> list[str]:
    return answers_page(engine, where, **query).rows["prompt_id"].tolist()  # type: ignore[arg-type]


def test_answers_are_newest_first_with_their_votes_and_conversation(engine: Engine) -> None:
    seed(engine)
    page = answers_page(engine, AnalyticsFilter())
    assert page.rows["prompt_id"].tolist() == ["e", "d", "c", "b", "a"]
    first = page.rows.set_index("prompt_id").loc["a"]
    assert (first["up"], first["down"], first["conversation_id"]) == (1, 1, "conv-a")
    assert first["prompt_text"] == "question a" and first["response"] == "answer a"
    assert page.has_more is False


def test_answers_narrow_to_a_model_a_vote_a_voter_an_outcome_or_no_version(engine: Engine) -> None:
    seed(engine)
    everything = AnalyticsFilter()
    assert ids(engine, AnalyticsFilter(models=("llama",))) == ["d"]
    assert ids(engine, everything, sign=-1) == ["d", "a"]
    assert ids(engine, everything, sign=1) == ["a"]
    assert ids(engine, everything, voter="ann") == ["d", "a"]
    assert ids(engine, everything, voter="ann", sign=1) == ["a"]
    assert ids(engine, everything, status="error") == ["b"]
    assert ids(engine, everything, unversioned=True) == ["c"]
    assert ids(engine, AnalyticsFilter(prompt_versions=("v1",)), status="ok") == ["e", "d", "a"]


def test_answers_come_a_page_at_a_time(engine: Engine) -> None:
    seed(engine)
    first = answers_page(engine, AnalyticsFilter(), page=1, page_size=2)
    last = answers_page(engine, AnalyticsFilter(), page=3, page_size=2)
    assert (first.rows["prompt_id"].tolist(), first.has_more) == (["e", "d"], True)
    assert (last.rows["prompt_id"].tolist(), last.has_more) == (["a"], False)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sign": 0}, "sign must be"),
        ({"status": "lost"}, "status must be one of"),
        ({"voter": " "}, "voter must be"),
        ({"page": 0}, "page must be"),
        ({"page_size": 501}, "page_size between"),
    ],
)
def test_bad_narrowing_is_refused_with_a_clear_error(engine: Engine, query: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        answers_page(engine, AnalyticsFilter(), **query)
