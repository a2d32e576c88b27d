"""A click on a chart (its named selection) becomes the filter and narrowing of the answers behind it."""

from __future__ import annotations

import pytest

from bilan_core.analytics.charts import SELECTIONS
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.app.drilldown import PREVIEW_CHARS, answer_preview, drill_from_selection
from bilan_core.clock import MS_PER_DAY

DAY = 20_000  # 2024-10-04
WHERE = AnalyticsFilter(start_ms=(DAY - 10) * MS_PER_DAY, end_ms=(DAY + 1) * MS_PER_DAY - 5, users=("ann",))


def drill(chart: str, point: dict):
    return drill_from_selection(chart, {SELECTIONS[chart][0]: [point]}, WHERE)


def test_a_model_a_vote_and_a_voter_narrow_the_answers() -> None:
    model = drill("trust_by_model", {"model": "gpt-4o"})
    assert model.where.models == ("gpt-4o",) and model.where.users == ("ann",) and model.query == {}
    assert model.title == "Answers: model gpt-4o"
    down = drill("votes_by_model", {"model": "gpt-4o", "vote": "👎 down"})
    assert (down.where.models, down.query) == (("gpt-4o",), {"sign": -1})
    assert down.title == "Answers: model gpt-4o, with a 👎 down vote"
    voter = drill("votes_by_user", {"user_id": "bo", "vote": "👍 up"})
    assert voter.query == {"voter": "bo", "sign": 1} and voter.where.models == ()


def test_a_day_narrows_the_time_range_within_the_filter() -> None:
    day = drill("daily_trust", {"day": DAY, "model": "llama"})
    assert (day.where.start_ms, day.where.end_ms) == (DAY * MS_PER_DAY, WHERE.end_ms)
    assert day.title == "Answers: model llama, on 2024-10-04 (UTC)"
    earlier = drill("tokens", {"day": DAY - 3, "model": "llama"})
    assert (earlier.where.start_ms, earlier.where.end_ms) == ((DAY - 3) * MS_PER_DAY, (DAY - 2) * MS_PER_DAY)
    assert drill("tokens", {"day": DAY + 5, "model": "llama"}) is None  # outside the range
    assert drill("tokens", {"day": "monday", "model": "llama"}) is None


def test_an_outcome_and_a_prompt_version_narrow_the_answers() -> None:
    errors = drill("error_rate", {"model": "m", "outcome": "cancelled"})
    assert errors.query == {"status": "cancelled"}
    version = drill("prompt_versions", {"prompt_version": "v2"})
    assert (version.where.prompt_versions, version.query) == (("v2",), {})
    unversioned = drill("prompt_versions", {"prompt_version": "(none)"})
    assert (unversioned.where.prompt_versions, unversioned.query) == ((), {"unversioned": True})


def test_no_click_or_a_malformed_one_opens_nothing() -> None:
    assert drill_from_selection("latency", {}, WHERE) is None
    assert drill_from_selection("latency", {"pick_latency_model": []}, WHERE) is None
    assert drill_from_selection("latency", {"pick_latency_model": [{"other": 1}]}, WHERE) is None
    assert drill_from_selection("latency", {"pick_latency_model": "gpt-4o"}, WHERE) is None
    with pytest.raises(ValueError, match="unknown chart"):
        drill_from_selection("pie", {}, WHERE)


def test_an_answer_is_previewed_by_its_prompt_on_one_line() -> None:
    assert answer_preview("What is\n  the  capital?") == "What is the capital?"
    long = answer_preview("word " * 100)
    assert len(long) == PREVIEW_CHARS and long.endswith("…")
    assert answer_preview(None) == answer_preview("  ") == "(no prompt stored)"
