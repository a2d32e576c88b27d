"""``get_stats()`` and the Analytics headline are two reads of the same trust figures: on random votes
(ties in time included) they agree on the score, counts, positive rate, interval and trend."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, insert

from bilan_core.analytics.dashboard import headline
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.stats import VoteFilter, compute_stats
from bilan_core.clock import MS_PER_DAY
from bilan_core.store.models import TURNS, VOTES
from bilan_core.store.rollup_rebuild import rebuild_rollups

AT = 20_100 * MS_PER_DAY + 12 * 3_600_000
MODELS = ("gpt-4o", "gpt-4o-mini", "llama-3")


def random_votes(engine: Engine, seed: int) -> None:
    """Turns and votes over 40 days; some share a millisecond; 👍 grow, fall or stay by ``seed % 3``."""
    chance = random.Random(seed)
    turns, votes = [], []
    for number in range(chance.randint(5, 300)):
        model = chance.choice(MODELS)
        created = AT - chance.randint(0, 40 * MS_PER_DAY)
        if chance.random() < 0.2:
            created -= created % 60_000  # whole minutes: ties that only the id order breaks
        prompt_id = f"p{number}"
        turns.append(
            {"project_id": 0, "prompt_id": prompt_id, "user_id": "u", "model": model, "created_ms": created}
        )
        age = (AT - created) / (40 * MS_PER_DAY)  # 0 (newest) to 1 (oldest)
        lean = [0.1 + 0.8 * age, 0.9 - 0.8 * age, 0.5][seed % 3]  # the chance of a 👎
        for user in chance.sample(["alice", "bob", "carol"], chance.randint(0, 3)):
            votes.append(
                {
                    "project_id": 0,
                    "prompt_id": prompt_id,
                    "user_id": user,
                    "value": 1 if chance.random() > lean else -1,
                    "model": model,
                    "created_ms": created,
                    "updated_ms": created,
                }
            )
    chance.shuffle(votes)  # ids no longer follow time
    with engine.begin() as connection:
        connection.execute(insert(TURNS), turns)
        if votes:
            connection.execute(insert(VOTES), votes)
        rebuild_rollups(connection, 0)  # rows written behind the store's write functions' back


def assert_same_figures(engine: Engine, stats_filter: VoteFilter, analytics_filter: AnalyticsFilter) -> None:
    stats = compute_stats(engine, stats_filter, at_ms=AT)
    top = headline(engine, analytics_filter, prices={}, at_ms=AT)
    assert (top.votes, top.positive_votes) == (stats.total_votes, stats.positive_votes)
    assert top.positive_rate == stats.positive_rate
    assert (top.trust_low, top.trust_high) == (stats.confidence_low, stats.confidence_high)
    assert top.trend == stats.recent_trend
    if stats.trust_score is None:
        assert top.trust_score is None
    else:
        assert top.trust_score == pytest.approx(stats.trust_score, abs=1e-9)


@pytest.mark.parametrize("seed", range(9))
def test_get_stats_and_the_headline_agree_on_random_votes(engine: Engine, seed: int) -> None:
    random_votes(engine, seed)
    overall = compute_stats(engine, VoteFilter(), at_ms=AT)
    if overall.total_votes >= 100:
        assert overall.recent_trend == ["improving", "declining", "stable"][seed % 3]
    assert_same_figures(engine, VoteFilter(), AnalyticsFilter())
    for model in MODELS:
        assert_same_figures(engine, VoteFilter(model=model), AnalyticsFilter(models=(model,)))
    since, until = AT - 20 * MS_PER_DAY, AT - 3 * MS_PER_DAY
    assert_same_figures(
        engine, VoteFilter(since=since, until=until), AnalyticsFilter(start_ms=since, end_ms=until)
    )
