"""Adaptive model selection: the policy on real votes, a feedback simulation, bad policies."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from bilan_core.chat.routing import (
    ModelChoice,
    RouteDecision,
    RoutingPolicy,
    choose_model,
    describe_route,
    model_choice_label,
    policy_from_settings,
    resolve_model,
)
from bilan_core.client.bilan import Bilan
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.settings import DEMO_MODEL, load_settings
from bilan_core.store.models import Turn
from bilan_core.store.votes import cast_vote
from tests.chat_helpers import client_for
from tests.fixtures.openai_server import FakeOpenAIServer
from tests.helpers import add_turn

POLICY = RoutingPolicy(default_model="small", strong_model="large", threshold=0.7, min_votes=20)


def add_votes(bilan: Bilan, *, model: str, positive: int, negative: int, at_ms: int) -> None:
    """Votes by distinct users on fresh turns of ``model`` at one moment."""
    for number, value in enumerate([1] * positive + [-1] * negative):
        prompt_id = add_turn(bilan.engine, model=model, created_ms=at_ms)
        cast_vote(bilan.engine, prompt_id=prompt_id, user_id=f"user-{number}", value=value, at_ms=at_ms)


def turn_of(client: Bilan, prompt_id: str) -> Turn:
    """The stored turn with ``prompt_id``."""
    with Session(client.engine) as session:
        return session.exec(select(Turn).where(Turn.prompt_id == prompt_id)).one()


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


def routed_client(server: FakeOpenAIServer, sqlite_url: str, **settings: object) -> Bilan:
    """A client on the loopback server routing between gpt-4o-mini and gpt-4o after 20 votes."""
    return client_for(server, sqlite_url, models=["gpt-4o-mini", "gpt-4o"], **settings)


def test_auto_model_answers_with_the_chosen_model_and_stores_the_decision(
    openai_server: FakeOpenAIServer, sqlite_url: str
) -> None:
    client = routed_client(openai_server, sqlite_url)
    add_votes(client, model="gpt-4o-mini", positive=5, negative=20, at_ms=now_ms() - 1000)

    response = client.create_chat_completion([{"role": "user", "content": "Hi"}], model="auto")

    assert openai_server.chat_requests[0].body["model"] == "gpt-4o" and response.model == "gpt-4o"
    routed = turn_of(client, response.prompt_id)
    assert routed.model == "gpt-4o"
    assert routed.route["model"] == "gpt-4o" and routed.route["votes"] == 25
    assert routed.route["trust_score"] == pytest.approx(0.2, abs=0.01)
    assert routed.route["reason"].startswith("gpt-4o-mini has trust 0.20 over 25 votes")
    assert describe_route(routed.route) == f"Auto chose gpt-4o: {routed.route['reason']}"


def test_auto_model_recovers_to_the_default_once_trust_is_back(
    openai_server: FakeOpenAIServer, sqlite_url: str
) -> None:
    client = routed_client(openai_server, sqlite_url, route_window_days=2)
    add_votes(client, model="gpt-4o-mini", positive=2, negative=20, at_ms=now_ms() - 3 * MS_PER_DAY)
    add_votes(client, model="gpt-4o-mini", positive=20, negative=2, at_ms=now_ms() - 1000)

    stream = client.create_streaming_chat([{"role": "user", "content": "Hi"}], model="auto")
    "".join(stream)

    assert openai_server.chat_requests[0].body["model"] == "gpt-4o-mini"
    routed = turn_of(client, stream.prompt_id)
    assert routed.route["model"] == "gpt-4o-mini" and routed.route["votes"] == 22
    assert "at or above 0.70, so it stays the model" in routed.route["reason"]


def test_the_async_auto_path_routes_too(openai_server: FakeOpenAIServer, sqlite_url: str) -> None:
    client = routed_client(openai_server, sqlite_url, route_min_votes=3)
    add_votes(client, model="gpt-4o-mini", positive=0, negative=3, at_ms=now_ms() - 1000)

    response = asyncio.run(client.acreate_chat_completion([{"role": "user", "content": "Hi"}], model="auto"))

    assert response.model == "gpt-4o"
    assert turn_of(client, response.prompt_id).route["model"] == "gpt-4o"


def test_auto_model_refuses_a_route_given_by_hand(openai_server: FakeOpenAIServer, sqlite_url: str) -> None:
    client = routed_client(openai_server, sqlite_url)
    with pytest.raises(ValueError, match="model='auto' stores its own routing decision"):
        client.create_chat_completion([{"role": "user", "content": "Hi"}], model="auto", route={"x": 1})
    assert openai_server.chat_requests == []


def test_the_tool_loop_routes_once_and_stores_the_decision(
    openai_server: FakeOpenAIServer, sqlite_url: str
) -> None:
    client = routed_client(openai_server, sqlite_url, route_min_votes=3)
    add_votes(client, model="gpt-4o-mini", positive=0, negative=3, at_ms=now_ms() - 1000)
    openai_server.reply_with_tool_call("calculator", {"expression": "1 + 2"})

    response = client.run_with_tools([{"role": "user", "content": "1 + 2?"}], model="auto")

    assert [request.body["model"] for request in openai_server.chat_requests] == ["gpt-4o", "gpt-4o"]
    routed = turn_of(client, response.prompt_id)
    assert routed.route == response.route and routed.route["model"] == "gpt-4o"
    assert routed.tool_calls[0]["function"]["name"] == "calculator"


def test_the_demo_model_has_no_stronger_model_to_switch_to(bilan: Bilan) -> None:
    policy = policy_from_settings(bilan.settings)
    assert policy.strong_model == policy.default_model == DEMO_MODEL
    strict = RoutingPolicy(default_model=DEMO_MODEL, strong_model=DEMO_MODEL, min_votes=2)
    add_votes(bilan, model=DEMO_MODEL, positive=0, negative=2, at_ms=now_ms() - 1000)

    decision = choose_model(bilan, strict)

    assert decision.model == DEMO_MODEL and not decision.switched
    assert decision.reason.endswith(
        "but no stronger model is configured (BILAN_ROUTE_STRONG_MODEL), so it stays the model"
    )
    response = bilan.create_chat_completion([{"role": "user", "content": "Hello"}], model="auto")
    assert turn_of(bilan, response.prompt_id).route["model"] == DEMO_MODEL


def test_the_auto_choice_reads_as_what_it_does() -> None:
    assert model_choice_label("auto") == "Auto (picked by trust score)"
    assert model_choice_label("gpt-4o") == "gpt-4o"


def a_decision(model: str) -> RouteDecision:
    return RouteDecision(
        model=model, reason="test", default_model="small", strong_model="large", trust_score=0.5, votes=30,
        threshold=0.7, window_days=7.0, min_votes=20, decided_ms=1,
    )  # fmt: skip


def test_the_model_a_call_uses_is_resolved_in_one_place() -> None:
    settings = load_settings(default_model="small", models="small,large", telemetry=False)

    def refuse() -> RouteDecision:
        raise AssertionError("only model='auto' asks the routing policy")

    assert resolve_model(None, settings, decide=refuse) == ModelChoice("small", None)
    assert resolve_model("large", settings, route={"x": 1}, decide=refuse) == ModelChoice("large", {"x": 1})
    routed = resolve_model("auto", settings, decide=lambda: a_decision("large"))
    assert routed.model == "large" and routed.route == a_decision("large").as_dict()
    assert resolve_model("auto", settings) == ModelChoice("auto", None)  # routed later, call by call
    with pytest.raises(ValueError, match="stores its own routing decision"):
        resolve_model("auto", settings, route={"x": 1}, decide=lambda: a_decision("large"))
