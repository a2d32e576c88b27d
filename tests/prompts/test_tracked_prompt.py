"""Tracked chat calls with ``prompt=``: compiled messages, the version recorded on the turn, exact stats.

Local mode on SQLite, and server mode through the wire (``promptName`` / ``promptVersion``) to a real
server on PostgreSQL; the demo model answers, so no provider is needed.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bilan_core import Bilan, PromptTemplateError
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.pricing import Price
from bilan_core.store.models import Turn
from tests.fixtures.bilan_server import LiveServer, ServerProject
from tests.helpers import server_client

TEMPLATE = [
    {"role": "system", "content": "You answer for {{company}}."},
    {"role": "user", "content": "{{q}}"},
]


def vote_on_versions(client: Bilan) -> tuple[str, str]:
    """Two versions of a prompt, one answer each (one more for v2, asked with extra messages), votes."""
    v1 = client.create_prompt("support", TEMPLATE, params={"temperature": 0, "max_tokens": 50})
    v2 = client.create_prompt("support", "Be brief for {{company}}.")
    first = client.create_chat_completion([], prompt=v1, variables={"company": "ACME", "q": "Hi?"})
    second = client.create_chat_completion(
        [{"role": "user", "content": "Hello"}], prompt=v2, variables={"company": "ACME"}, variant="mine"
    )
    third = client.run_with_tools(
        [{"role": "user", "content": "What is 2+2?"}], prompt=v2, variables={"company": "B"}
    )
    client.vote(first.prompt_id, 1)
    client.vote(second.prompt_id, -1)
    client.vote(third.prompt_id, 1)
    assert client.get_stats(prompt_name="support", prompt_version=1).total_votes == 1
    v2_stats = client.get_stats(prompt_name="support", prompt_version=2)
    assert (v2_stats.total_votes, v2_stats.positive_votes) == (2, 1)
    assert client.get_stats(prompt_name="support").total_votes == 3
    assert client.get_stats(prompt_name="other").total_votes == 0
    assert client.get_stats(variant="support v1").total_votes == 1  # the free-text label still works
    return first.prompt_id, second.prompt_id


def check_turns(session: Session, first: str, second: str) -> None:
    one = session.exec(select(Turn).where(Turn.prompt_id == first)).one()
    assert (one.prompt_name, one.prompt_number, one.prompt_version) == ("support", 1, "support v1")
    assert one.messages == [
        {"role": "system", "content": "You answer for ACME."},
        {"role": "user", "content": "Hi?"},
    ]
    assert one.parameters == {"temperature": 0, "max_tokens": 50}
    two = session.exec(select(Turn).where(Turn.prompt_id == second)).one()
    assert (two.prompt_name, two.prompt_number, two.prompt_version) == ("support", 2, "mine")
    assert [m["role"] for m in two.messages or []] == ["system", "user"]


def test_a_prompt_version_is_compiled_and_recorded_locally(bilan: Bilan) -> None:
    first, second = vote_on_versions(bilan)
    with Session(bilan.engine) as session:
        check_turns(session, first, second)


def test_a_prompt_version_reaches_the_server_on_the_wire(
    server_project: ServerProject, live_server: LiveServer
) -> None:
    client = server_client(server_project.key, live_server.url)
    try:
        first, second = vote_on_versions(client)
    finally:
        client.close()
    with Session(server_project.engine) as session:
        check_turns(session, first, second)


def test_bad_prompt_options_are_refused_before_anything_is_sent(bilan: Bilan) -> None:
    prompt = bilan.create_prompt("support", TEMPLATE)
    with pytest.raises(PromptTemplateError, match=r"missing variable\(s\): q"):
        bilan.create_chat_completion([], prompt=prompt, variables={"company": "ACME"})
    with pytest.raises(ValueError, match="pass prompt= too"):
        bilan.create_chat_completion([{"role": "user", "content": "x"}], variables={"company": "ACME"})
    with pytest.raises(ValueError, match="prompt must be a PromptVersion"):
        bilan.create_chat_completion([], prompt="support")  # type: ignore[typeddict-item]
    with pytest.raises(ValueError, match="pass prompt_name= too"):
        bilan.get_stats(prompt_version=2)
    with Session(bilan.engine) as session:
        assert session.exec(select(Turn)).all() == []


def figures_of(client: Bilan) -> None:
    """Version 2 has two answers (one 👍, one 👎), version 1 one 👍; both answered by the demo model."""
    v2, v1 = client.prompt_figures("support")
    assert (v2.version, v2.turns, v2.votes, v2.positive_votes, v2.negative_votes) == (2, 2, 2, 1, 1)
    assert (v1.version, v1.turns, v1.votes, v1.positive_votes) == (1, 1, 1, 1)
    assert v1.trust_score == pytest.approx(1.0) and 0 < v1.confidence_low < 1 == v1.confidence_high
    assert v2.median_latency_ms is not None and v2.median_latency_ms > 0
    assert [t.model for t in v2.tokens] == ["bilan-demo"]
    assert v2.cost(client.prices()) is None  # the demo model has no price: unpriced is never free
    priced = {"bilan-demo": Price(1_000_000.0, 1_000_000.0)}
    assert v2.cost(priced) == pytest.approx(sum(t.prompt_tokens + t.completion_tokens for t in v2.tokens))
    assert client.prompt_figures("nothing") == []


def analytics_of(client: Bilan) -> None:
    """The Analytics filter on stored prompt versions is exact, and the picker lists them."""
    assert client.filter_options()["prompts"] == ["support v1", "support v2"]
    v2 = client.dashboard(AnalyticsFilter(prompts=("support v2",))).headline
    assert (v2.turns, v2.votes, v2.positive_votes) == (2, 2, 1)
    both = client.dashboard(AnalyticsFilter(prompts=("support v1", "support v2"))).headline
    assert (both.turns, both.votes) == (3, 3)
    assert client.dashboard(AnalyticsFilter(prompts=("support v9",))).headline.votes == 0


def test_each_versions_figures_locally(bilan: Bilan) -> None:
    vote_on_versions(bilan)
    figures_of(bilan)
    analytics_of(bilan)
    with pytest.raises(ValueError, match="written 'name vN'"):
        AnalyticsFilter(prompts=("support",))


def test_each_versions_figures_through_the_server(
    server_project: ServerProject, live_server: LiveServer
) -> None:
    client = server_client(server_project.key, live_server.url)
    try:
        vote_on_versions(client)
        figures_of(client)
        analytics_of(client)
    finally:
        client.close()
