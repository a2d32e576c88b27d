"""Adaptive model selection: the policy on real votes, a feedback simulation, bad policies."""

from __future__ import annotations

import pytest

from bilan_core.client import Bilan
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.routing import RoutingPolicy, choose_model, policy_from_settings
from bilan_core.settings import load_settings
from bilan_core.votes import cast_vote
from tests.helpers import add_turn

POLICY = RoutingPolicy(default_model="small", strong_model="large", threshold=0.7, min_votes=20)


def add_votes(bilan: Bilan, *, model: str, positive: int, negative: int, at_ms: int) -> None:
    """Votes by distinct users on fresh turns of ``model`` at one moment."""
    for number, value in enumerate([1] * positive + [-1] * negative):
        prompt_id = add_turn(bilan.engine, model=model, created_ms=at_ms)
        cast_vote(bilan.engine, prompt_id=prompt_id, user_id=f"user-{number}", value=value, at_ms=at_ms)


def test_too_few_votes_keep_the_default(bilan: Bilan) -> None:
    add_votes(bilan, model="small", positive=0, negative=19, at_ms=now_ms() - 1000)
    decision = choose_model(bilan, POLICY)
    assert decision.model == "small" and not decision.switched
    assert decision.votes == 19
    assert "19 vote(s)" in decision.reason and "fewer than the 20 needed" in decision.reason


def test_low_trust_switches_to_the_stronger_model(bilan: Bilan) -> None:
    add_votes(bilan, model="small", positive=10, negative=15, at_ms=now_ms() - 1000)
    add_votes(bilan, model="large", positive=0, negative=30, at_ms=now_ms() - 1000)
    decision = choose_model(bilan, POLICY)
    assert decision.model == "large" and decision.switched
    assert decision.trust_score == pytest.approx(0.4, abs=0.01)
    assert (
        decision.reason
        == "small has trust 0.40 over 25 votes in the last 7 days, below 0.70, so large answers"
    )
    assert decision.as_dict()["model"] == "large" and decision.as_dict()["votes"] == 25


def test_votes_older_than_the_window_do_not_count(bilan: Bilan) -> None:
    add_votes(bilan, model="small", positive=0, negative=30, at_ms=now_ms() - 8 * MS_PER_DAY)
    assert choose_model(bilan, POLICY).model == "small"
    wider = RoutingPolicy(default_model="small", strong_model="large", window_days=10)
    assert choose_model(bilan, wider).model == "large"


def test_simulated_feedback_switches_then_recovers(bilan: Bilan) -> None:
    start = now_ms() - 30 * MS_PER_DAY
    # Ten votes a day: nine good for a week, two good for a week, then nine good for two weeks.
    daily_positive = [9] * 7 + [2] * 7 + [9] * 14
    chosen = []
    for day, positive in enumerate(daily_positive):
        moment = start + day * MS_PER_DAY
        add_votes(bilan, model="small", positive=positive, negative=10 - positive, at_ms=moment)
        chosen.append(choose_model(bilan, POLICY, at_ms=moment + 1).model)
    assert chosen[:7] == ["small"] * 7
    assert "large" in chosen[7:14]
    first_switch = chosen.index("large")
    assert all(model == "large" for model in chosen[first_switch:14])
    assert chosen[-5:] == ["small"] * 5


def test_policy_from_settings_reads_the_route_settings(sqlite_url: str) -> None:
    settings = load_settings(
        database_url=sqlite_url,
        models=["gpt-4o-mini", "gpt-4o"],
        openai_api_key="sk-test",
        route_threshold=0.6,
        route_min_votes=5,
        route_window_days=3,
    )
    policy = policy_from_settings(settings)
    assert (policy.default_model, policy.strong_model) == ("gpt-4o-mini", "gpt-4o")
    assert (policy.threshold, policy.min_votes, policy.window_days) == (0.6, 5, 3)
    chosen = policy_from_settings(load_settings(database_url=sqlite_url, route_strong_model="gpt-4.1"))
    assert chosen.strong_model == "gpt-4.1"


def test_route_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILAN_ROUTE_THRESHOLD", "0.55")
    monkeypatch.setenv("BILAN_ROUTE_STRONG_MODEL", "gpt-4.1")
    settings = load_settings()
    assert settings.route_threshold == 0.55 and settings.route_strong_model == "gpt-4.1"
    monkeypatch.setenv("BILAN_ROUTE_THRESHOLD", "1.5")
    with pytest.raises(ValueError, match="BILAN_ROUTE_THRESHOLD"):
        load_settings()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"default_model": ""}, "needs a default model"),
        ({"threshold": 1.2}, "between 0 and 1"),
        ({"window_days": 0}, "more than 0 days"),
        ({"min_votes": 0}, "at least 1"),
    ],
)
def test_bad_policies_are_refused(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"default_model": "small", "strong_model": "large"}
    with pytest.raises(ValueError, match=message):
        RoutingPolicy(**(base | fields))
