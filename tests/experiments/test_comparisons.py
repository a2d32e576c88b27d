"""A/B comparisons through the real openai SDK and the loopback server: sides, blind order, votes, errors."""

from __future__ import annotations

import random
import time

import pytest
from sqlmodel import Session, select

import bilan_core
from bilan_core.analytics.bradley_terry import NOT_ENOUGH_VOTES
from bilan_core.analytics.dashboard import AnalyticsFilter
from bilan_core.client.bilan import Bilan
from bilan_core.errors import NotFoundError, ProviderError
from bilan_core.experiments.comparisons import (
    Variant,
    compare,
    comparison_leaderboard,
    record_preference,
    start_comparison,
    stream_comparison,
    verdict_choices,
)
from bilan_core.store.comparisons import revealed
from bilan_core.store.models import Comparison, Turn, Vote
from tests.chat_helpers import client_for
from tests.fixtures.openai_server import DEFAULT_ANSWER, FakeOpenAIServer

FAST = Variant(model="gpt-4o-mini", temperature=0.2, prompt_version="v1", system_prompt="Be brief.")
STRONG = Variant(model="gpt-4o", temperature=0.7, prompt_version="v2")


def make_client(url: str, server: FakeOpenAIServer, *, team_session: str | None = None) -> Bilan:
    """A client on the loopback server whose leaderboard ranks models after 3 votes."""
    return client_for(server, url, team_session=team_session, leaderboard_min_votes=3)


@pytest.fixture
def client(sqlite_url: str, openai_server: FakeOpenAIServer) -> Bilan:
    bilan = make_client(sqlite_url, openai_server)
    yield bilan
    bilan.close()


def turns(client: Bilan) -> dict[str, Turn]:
    with Session(client.engine) as session:
        return {turn.prompt_id: turn for turn in session.exec(select(Turn)).all()}


def wait_for_turns(client: Bilan, count: int) -> dict[str, Turn]:
    """The turns once ``count`` are recorded (the sides record theirs on their own threads)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        recorded = turns(client)
        if len(recorded) >= count:
            return recorded
        time.sleep(0.02)
    raise AssertionError(f"only {len(turns(client))} of {count} turns were recorded")


def votes(client: Bilan) -> dict[str, int]:
    with Session(client.engine) as session:
        return {vote.prompt_id: vote.value for vote in session.exec(select(Vote)).all()}


def seed_where_first_is_side(side: str) -> int:
    """A seed whose first draw puts the caller's first variant on ``side``."""
    return next(seed for seed in range(100) if (random.Random(seed).random() < 0.5) == (side == "a"))


@pytest.mark.parametrize("side", ["a", "b"])
def test_blind_compare_records_both_answers_as_turns_in_random_order(
    client: Bilan, openai_server: FakeOpenAIServer, side: str
) -> None:
    openai_server.configure(chunks=4)
    rng = random.Random(seed_where_first_is_side(side))
    result = compare(client, "What is Bilan?", FAST, STRONG, blind=True, rng=rng)
    assert (result.answer_a, result.answer_b) == (DEFAULT_ANSWER, DEFAULT_ANSWER)
    expected_a, expected_b = (FAST, STRONG) if side == "a" else (STRONG, FAST)
    shown = (result.variant_a.display_label, result.variant_b.display_label)
    assert shown == (expected_a.display_label, expected_b.display_label)
    stored = client.get_comparison(result.comparison_id)
    assert stored.blind and stored.a_shown_first == (side == "a")
    assert (stored.label_a, stored.label_b) == (expected_a.display_label, expected_b.display_label)
    assert (stored.prompt_id_a, stored.prompt_id_b) == (result.prompt_id_a, result.prompt_id_b)
    recorded = turns(client)
    turn_a, turn_b = recorded[result.prompt_id_a], recorded[result.prompt_id_b]
    for turn, expected in ((turn_a, expected_a), (turn_b, expected_b)):
        assert (turn.model, turn.prompt_version) == (expected.model, expected.prompt_version)
        assert turn.status == "ok"
    assert turn_a.parameters["temperature"] == expected_a.temperature
    sent = {request.body["model"]: request.body for request in openai_server.chat_requests}
    assert sent["gpt-4o-mini"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["gpt-4o"]["messages"] == [{"role": "user", "content": "What is Bilan?"}]
    assert not revealed(stored)


def test_blind_order_really_varies(client: Bilan) -> None:
    firsts = {start_comparison(client, "Hi", FAST, STRONG, blind=True).a_shown_first for _ in range(40)}
    assert firsts == {True, False}


def test_open_mode_keeps_the_order_and_team_sessions_default_to_blind(
    sqlite_url: str, openai_server: FakeOpenAIServer, client: Bilan
) -> None:
    for _ in range(10):
        open_row = start_comparison(client, "Hi", FAST, STRONG)
        assert not open_row.blind and open_row.label_a == FAST.display_label and revealed(open_row)
    team = make_client(sqlite_url, openai_server, team_session="june-review")
    row = start_comparison(team, "Hi", FAST, STRONG)
    assert row.blind and row.team_session == "june-review"
    team.close()


def test_both_sides_stream_at_the_same_time(client: Bilan, openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(chunks=6, chunk_delay=0.05)
    row = start_comparison(client, "Stream please", FAST, STRONG, blind=False)
    pieces = list(stream_comparison(client, row.id))
    first_end = next(index for index, piece in enumerate(pieces) if piece.finished)
    # Both sides had sent text before either side finished: they streamed concurrently.
    assert {piece.side for piece in pieces[:first_end] if piece.text} == {"a", "b"}
    for side in ("a", "b"):
        assert "".join(piece.text for piece in pieces if piece.side == side) == DEFAULT_ANSWER
    [end_a] = [piece for piece in pieces if piece.finished and piece.side == "a"]
    stored = client.get_comparison(row.id)
    assert end_a.error is None and end_a.prompt_id == stored.prompt_id_a


def test_closing_the_stream_early_cancels_both_sides(client: Bilan, openai_server: FakeOpenAIServer) -> None:
    openai_server.configure(chunks=20, chunk_delay=0.05)
    row = start_comparison(client, "Long answer", FAST, STRONG, blind=False)
    stream = stream_comparison(client, row.id)
    next(stream)
    stream.close()
    recorded = wait_for_turns(client, 2)
    assert {turn.status for turn in recorded.values()} == {"cancelled"}
    stored = client.get_comparison(row.id)
    assert (stored.prompt_id_a, stored.prompt_id_b) == (None, None)


@pytest.mark.parametrize(
    ("winner", "implied"),
    [("a", (1, -1)), ("b", (-1, 1)), ("both_bad", (-1, -1)), ("tie", (None, None))],
)
def test_a_preference_casts_the_votes_it_implies(client: Bilan, winner: str, implied: tuple) -> None:
    result = compare(client, "Which is better?", FAST, STRONG, blind=False)
    row = record_preference(client, result.comparison_id, winner, comment="  A was clearer.  ")
    assert (row.winner, row.comment) == (winner, "A was clearer.") and row.decided_ms
    assert revealed(client.get_comparison(result.comparison_id))
    stored = votes(client)
    assert (stored.get(result.prompt_id_a), stored.get(result.prompt_id_b)) == implied


def test_comparison_votes_reach_the_per_model_analytics(client: Bilan) -> None:
    for _ in range(3):
        result = compare(client, "Which is better?", FAST, STRONG, blind=False)
        record_preference(client, result.comparison_id, "b")
    strong, fast = client.get_stats(model="gpt-4o"), client.get_stats(model="gpt-4o-mini")
    assert (strong.positive_votes, strong.negative_votes) == (3, 0)
    assert (fast.positive_votes, fast.negative_votes) == (0, 3)
    assert client.get_stats(variant="v2").positive_votes == 3
    trust = client.dashboard(AnalyticsFilter()).trust_by_model.set_index("model")
    assert (trust.loc["gpt-4o", "votes"], trust.loc["gpt-4o", "positive"]) == (3, 3)
    assert (trust.loc["gpt-4o-mini", "votes"], trust.loc["gpt-4o-mini", "positive"]) == (3, 0)


def test_a_side_the_user_rated_keeps_that_vote(client: Bilan) -> None:
    result = compare(client, "Which is better?", FAST, STRONG, blind=False)
    client.vote(result.prompt_id_b, 1, "B is fine too")
    record_preference(client, result.comparison_id, "a")
    assert votes(client) == {result.prompt_id_a: 1, result.prompt_id_b: 1}


def test_bad_preferences_are_refused_clearly(client: Bilan) -> None:
    result = compare(client, "Which is better?", FAST, STRONG)
    with pytest.raises(NotFoundError, match="no comparison has id 'nope'"):
        record_preference(client, "nope", "a")
    with pytest.raises(ValueError, match="winner must be one of a, b, tie, both_bad, got 'left'"):
        record_preference(client, result.comparison_id, "left")
    with pytest.raises(ValueError, match="comment is 10,001 characters"):
        record_preference(client, result.comparison_id, "a", comment="x" * 10_001)
    assert client.get_comparison(result.comparison_id).winner is None
    assert votes(client) == {}
    record_preference(client, result.comparison_id, "a")
    with pytest.raises(ValueError, match="already decided"):
        record_preference(client, result.comparison_id, "b")
    assert client.get_comparison(result.comparison_id).winner == "a"


@pytest.mark.parametrize(
    ("prompt", "first", "second", "message"),
    [
        ("", FAST, STRONG, "the prompt must be non-empty text"),
        ("Hi", FAST, FAST, "compare two different variants"),
        ("Hi", "gpt-4o", {"model": "gpt-4o", "colour": "red"}, "unknown variant field"),
        ("Hi", "gpt-4o", 42, "a variant is a Variant, a model name or a dict"),
        ("Hi", "gpt-4o", {"model": " "}, "a variant needs a model name"),
        ("Hi", "gpt-4o", {"model": "gpt-4o-mini", "temperature": 3.0}, "a number from 0 to 2, got 3.0"),
        ("Hi", "gpt-4o", {"model": "gpt-4o-mini", "temperature": "hot"}, "temperature must be a number"),
        ("Hi", "gpt-4o", {"model": "gpt-4o-mini", "prompt_version": "v" * 201}, "prompt_version must be"),
        ("Hi", "gpt-4o", {"model": "gpt-4o-mini", "system_prompt": 7}, "system_prompt must be non-empty"),
        ("Hi", "gpt-4o", {"model": "gpt-4o-mini", "label": " "}, "label must be non-empty text"),
    ],
)
def test_bad_comparisons_are_refused_and_store_nothing(
    client: Bilan, openai_server: FakeOpenAIServer, prompt: str, first: object, second: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compare(client, prompt, first, second)
    with Session(client.engine) as session:
        assert session.exec(select(Comparison)).all() == []
    assert openai_server.chat_requests == []


def test_a_failed_side_raises_and_is_linked_as_failed(client: Bilan, openai_server: FakeOpenAIServer) -> None:
    openai_server.fail(503, "overloaded")
    with pytest.raises(ProviderError, match="overloaded") as caught:
        compare(client, "Hi", FAST, STRONG, blind=False)
    with Session(client.engine) as session:
        [row] = session.exec(select(Comparison)).all()
    failed = turns(client)[caught.value.prompt_id]
    assert failed.status == "error"
    # The failed turn is linked to its side, so a verdict may still judge what came back.
    assert caught.value.prompt_id in (row.prompt_id_a, row.prompt_id_b)
    failed_side = "a" if row.prompt_id_a == caught.value.prompt_id else "b"
    assert client.comparison_view(row.id).sides[failed_side].answer is None


def test_a_comparison_without_its_answers_cannot_be_decided(client: Bilan) -> None:
    comparison = start_comparison(client, "Hi", FAST, STRONG, blind=False)
    with pytest.raises(ValueError, match="does not have both answers yet"):
        record_preference(client, comparison.id, "a")


def answered_sides(client: Bilan, comparison_id: str) -> dict[str, str]:
    """Each side's text after streaming both sides to their end (a failed one ends with its error)."""
    texts = {"a": "", "b": ""}
    for piece in stream_comparison(client, comparison_id):
        texts[piece.side] += piece.text
    return texts


def test_one_failed_side_can_be_retried_or_judged_on_what_came_back(
    client: Bilan, openai_server: FakeOpenAIServer
) -> None:
    comparison = start_comparison(client, "Hi", FAST, STRONG, blind=False)
    openai_server.fail(503, "overloaded")
    answered_sides(client, comparison.id)
    sides = client.comparison_view(comparison.id).sides
    [failed] = [side for side, view in sides.items() if view.answer is None]
    [answered] = [side for side, view in sides.items() if view.answer is not None]
    assert sides[failed].prompt_id and verdict_choices(sides) == (answered, "both_bad")
    with pytest.raises(ValueError, match="only one side answered"):
        record_preference(client, comparison.id, "tie")
    assert client.get_comparison(comparison.id).winner is None

    retried = list(stream_comparison(client, comparison.id, sides=[failed]))
    assert {piece.side for piece in retried} == {failed} and retried[-1].prompt_id
    assert verdict_choices(client.comparison_view(comparison.id).sides) == ("a", "b", "tie", "both_bad")
    record_preference(client, comparison.id, "tie")
    with pytest.raises(ValueError, match="already decided"):
        list(stream_comparison(client, comparison.id, sides=[failed]))
    with pytest.raises(ValueError, match="side must be 'a' or 'b'"):
        list(stream_comparison(client, comparison.id, sides=["c"]))


def test_a_verdict_on_one_answer_counts_the_failed_side_as_the_loser(
    client: Bilan, openai_server: FakeOpenAIServer
) -> None:
    comparison = start_comparison(client, "Hi", FAST, STRONG, blind=False)
    openai_server.fail(503, "overloaded")
    answered_sides(client, comparison.id)
    sides = client.comparison_view(comparison.id).sides
    [answered] = [side for side, view in sides.items() if view.answer is not None]
    record_preference(client, comparison.id, answered)
    with Session(client.engine) as session:
        votes = {vote.prompt_id: vote.value for vote in session.exec(select(Vote)).all()}
    loser = "b" if answered == "a" else "a"
    assert votes == {sides[answered].prompt_id: 1, sides[loser].prompt_id: -1}


def test_neither_side_answering_allows_no_verdict(client: Bilan, openai_server: FakeOpenAIServer) -> None:
    comparison = start_comparison(client, "Hi", FAST, STRONG, blind=False)
    openai_server.fail(503, "overloaded", times=2)
    answered_sides(client, comparison.id)
    assert verdict_choices(client.comparison_view(comparison.id).sides) == ()
    with pytest.raises(ValueError, match="neither side answered"):
        record_preference(client, comparison.id, "both_bad")


def test_the_leaderboard_reads_the_stored_comparisons(client: Bilan) -> None:
    for winner in ("b", "b", "a", "tie"):
        result = compare(client, "Which is better?", FAST, STRONG)
        record_preference(client, result.comparison_id, winner)
    board = comparison_leaderboard(client, rounds=30)
    table = board.ratings.set_index("variant")
    assert table.loc[STRONG.display_label, "wins"] == 2 and table.loc[FAST.display_label, "wins"] == 1
    assert table.loc[STRONG.display_label, "rating"] > table.loc[FAST.display_label, "rating"]
    assert (table["votes"] == 4).all() and (table["status"] == "").all()  # min votes 3 from the settings
    strict = comparison_leaderboard(client, min_votes=5, rounds=30)
    assert (strict.ratings["status"] == NOT_ENOUGH_VOTES).all() and not strict.has_enough_votes
    assert comparison_leaderboard(client, team_session="other", rounds=5).ratings.empty


def test_comparisons_on_postgresql(postgres_url: str, openai_server: FakeOpenAIServer) -> None:
    client = make_client(postgres_url, openai_server)
    result = compare(client, "Which is better?", FAST, STRONG, blind=True)
    record_preference(client, result.comparison_id, "a", comment="sharper")
    assert votes(client) == {result.prompt_id_a: 1, result.prompt_id_b: -1}
    board = comparison_leaderboard(client, min_votes=1, rounds=10)
    assert board.ratings.iloc[0]["variant"] == result.variant_a.display_label
    client.close()


def test_the_module_level_functions(sqlite_url: str, openai_server: FakeOpenAIServer) -> None:
    bilan_core.init(
        database_url=sqlite_url,
        openai_base_url=openai_server.base_url,
        openai_api_key="sk-test",
        telemetry=False,
    )
    result = bilan_core.compare("Hi", "gpt-4o", {"model": "gpt-4o-mini", "prompt_version": "v9"})
    bilan_core.record_preference(result.comparison_id, "tie")
    board = bilan_core.leaderboard(min_votes=1)
    assert sorted(board.ratings["variant"]) == ["gpt-4o", "gpt-4o-mini · v9"]
    assert board.ratings["ties"].tolist() == [1, 1]
    bilan_core.get_client().close()


def test_the_view_hides_the_variants_until_the_verdict(client: Bilan) -> None:
    result = compare(client, "Which is better?", FAST, STRONG, blind=True)
    before = client.comparison_view(result.comparison_id, user_id="alice")
    assert not before.revealed and before.can_decide
    assert [view.label for view in before.sides.values()] == [None, None]
    assert [view.latency_ms for view in before.sides.values()] == [None, None]
    assert [view.answer for view in before.sides.values()] == [DEFAULT_ANSWER, DEFAULT_ANSWER]
    record_preference(client, result.comparison_id, "b")
    after = client.comparison_view(result.comparison_id, user_id="alice")
    assert after.revealed and not after.can_decide
    assert after.sides["a"].label == result.variant_a.display_label
    assert (after.sides["a"].vote, after.sides["b"].vote) == (-1, 1)
    other = client.comparison_view(result.comparison_id, user_id="bob")
    assert other.sides["a"].vote is None
    assert client.comparisons_version()[0] == 1


def test_a_named_variant_keeps_its_model_on_the_leaderboard(client: Bilan) -> None:
    named = Variant(model="gpt-4o", label="Formal")
    for winner in ("a", "b"):
        result = compare(client, "Which?", named, FAST, blind=False)
        record_preference(client, result.comparison_id, winner)
    board = comparison_leaderboard(client, rounds=5).ratings.set_index("variant")
    # The chart colours a variant by its model: "Formal" is gpt-4o, not a model called "Formal".
    assert board.loc["Formal", "model"] == "gpt-4o"
    assert board.loc[FAST.display_label, "model"] == "gpt-4o-mini"
