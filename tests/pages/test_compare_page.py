"""The Compare page in AppTest: real SDK against the loopback server, blind mode, verdicts, leaderboard."""

from __future__ import annotations

import json

import pytest

from bilan_core.app.markdown_text import escape_markdown
from bilan_core.client.bilan import Bilan
from bilan_core.experiments.comparisons import Variant, compare, record_preference
from bilan_core.settings import load_settings
from bilan_core.store.engine import get_engine
from bilan_core.store.models import Comparison, Turn, Vote
from tests.app_support import clear_app_caches, new_app, rows
from tests.fixtures.openai_server import DEFAULT_ANSWER

PAGE = "pages/compare.py"
HIDDEN = ("gpt-4o", "gpt-4.1-mini", "secret-one", "secret-two")


TEXT_ELEMENTS = (
    "title", "header", "subheader", "markdown", "caption", "text", "success", "info", "warning", "error",
)  # fmt: skip


def shown_text(at) -> str:
    """Every piece of text the page shows (not widget values), joined, markdown escapes removed."""
    parts = []
    for kind in TEXT_ELEMENTS:
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(frame.value.to_string() for frame in at.dataframe)
    parts.extend(chart.proto.spec for chart in at.get("vega_lite_chart"))
    return "\n".join(parts).replace("\\", "")


def open_page(team: str | None = None):
    at = new_app(PAGE)
    if team:
        at.query_params["team"] = team
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def fill(at, prompt: str = "What is Bilan?") -> None:
    at.text_area(key="compare_prompt").input(prompt)
    at.selectbox(key="compare_model_1").select("gpt-4o")
    at.text_input(key="compare_version_1").input("secret-one")
    at.selectbox(key="compare_model_2").select("gpt-4.1-mini")
    at.slider(key="compare_temperature_2").set_value(0.0)
    at.text_input(key="compare_version_2").input("secret-two")


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_blind_mode_hides_the_variants_until_the_verdict(app_env, openai_server):
    openai_server.configure(chunks=5)
    at = open_page(team="June review")
    assert at.toggle(key="compare_blind").value is True  # on by default in a team session
    fill(at)
    click(at, "compare_run")

    [comparison] = rows(app_env, Comparison)
    assert comparison.blind and comparison.team_session == "June review"
    text = shown_text(at)
    for secret in HIDDEN:
        assert secret not in text, f"{secret!r} shown before the verdict"
    assert [s.value for s in at.subheader][2:4] == ["A", "B"]
    assert [m.value for m in at.markdown].count(DEFAULT_ANSWER) == 2
    assert {turn.model for turn in rows(app_env, Turn)} == {"gpt-4o", "gpt-4.1-mini"}

    at.text_area(key=f"compare_comment_{comparison.id}").input("A reads better")
    click(at, "compare_verdict_a")
    [comparison] = rows(app_env, Comparison)
    assert (comparison.winner, comparison.comment) == ("a", "A reads better")
    text = shown_text(at)
    assert "secret-one" in text and "secret-two" in text
    assert [s.value for s in at.subheader][2:4] == [
        f"A · {escape_markdown(comparison.label_a)}",
        f"B · {escape_markdown(comparison.label_b)}",
    ]
    assert "Your verdict: A is better." in text
    votes = {vote.prompt_id: vote.value for vote in rows(app_env, Vote)}
    assert votes == {comparison.prompt_id_a: 1, comparison.prompt_id_b: -1}
    assert not [button for button in at.button if button.key.startswith("compare_verdict_")]


def test_open_mode_shows_the_variants_and_keeps_their_order(app_env):
    at = open_page()
    assert at.toggle(key="compare_blind").value is False
    fill(at)
    click(at, "compare_run")
    [comparison] = rows(app_env, Comparison)
    assert not comparison.blind and comparison.label_a.startswith("gpt-4o")
    headings = [s.value for s in at.subheader][2:4]
    assert headings[0].startswith("A · gpt\\-4o") and headings[1].startswith("B · gpt\\-4\\.1\\-mini")


def test_per_side_thumbs_are_votes_and_survive_the_verdict(app_env):
    at = open_page(team="t1")
    fill(at)
    click(at, "compare_run")
    [comparison] = rows(app_env, Comparison)
    at.feedback(key=f"compare_thumbs_{comparison.prompt_id_b}").set_value(1).run()
    assert not at.exception
    assert {v.prompt_id: v.value for v in rows(app_env, Vote)} == {comparison.prompt_id_b: 1}
    click(at, "compare_verdict_a")
    # The side rated by hand keeps its 👍; the other gets the verdict's 👍 as the winner.
    assert {v.prompt_id: v.value for v in rows(app_env, Vote)} == {
        comparison.prompt_id_a: 1,
        comparison.prompt_id_b: 1,
    }
    assert at.feedback(key=f"compare_thumbs_{comparison.prompt_id_a}").value == 1


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda at: at.text_area(key="compare_prompt").input("   "), "the prompt must be non-empty text"),
        (lambda at: at.selectbox(key="compare_model_2").select("gpt-4o"), "compare two different variants"),
    ],
    ids=["empty-prompt", "same-variants"],
)
def test_bad_input_is_refused_and_stores_nothing(app_env, openai_server, prepare, message):
    at = open_page()
    fill(at)
    at.text_input(key="compare_version_1").input("")
    at.text_input(key="compare_version_2").input("")
    at.slider(key="compare_temperature_2").set_value(0.7)
    prepare(at)
    click(at, "compare_run")
    assert any(message in e.value.replace("\\", "") for e in at.error), [e.value for e in at.error]
    assert rows(app_env, Comparison) == [] and openai_server.chat_requests == []


def test_a_failed_side_is_shown_and_cannot_be_voted(app_env, openai_server):
    at = open_page()
    fill(at)
    openai_server.fail(503, "overloaded right now")
    click(at, "compare_run")
    assert any("did not answer" in e.value and "overloaded right now" in e.value for e in at.error)
    assert "compare_verdict_a" not in {button.key for button in at.button}


def seed_verdicts(url: str, openai_server, winners: list[str]) -> None:
    client = Bilan(
        load_settings(database_url=url, openai_base_url=openai_server.base_url, openai_api_key="sk-test")
    )
    for winner in winners:
        result = compare(client, "Which?", Variant(model="gpt-4o"), Variant(model="gpt-4o-mini"))
        record_preference(client, result.comparison_id, winner)
    client.close()


def test_the_leaderboard_shows_ratings_charts_and_tests(app_env, openai_server, monkeypatch, sqlite_url):
    monkeypatch.setenv("BILAN_LEADERBOARD_MIN_VOTES", "3")
    seed_verdicts(sqlite_url, openai_server, ["a", "a", "b", "a", "tie"])
    at = open_page()
    ratings, pairs = at.dataframe[0].value, at.dataframe[1].value
    assert ratings["variant"].tolist() == ["gpt-4o", "gpt-4o-mini"]
    assert ratings["votes"].tolist() == [5, 5] and ratings["status"].tolist() == ["", ""]
    assert ratings.iloc[0]["rating"] > 1000 > ratings.iloc[1]["rating"]
    assert (pairs.iloc[0]["wins_a"], pairs.iloc[0]["wins_b"], pairs.iloc[0]["ties"]) == (3, 1, 1)
    assert pairs.iloc[0]["p_value"] == pytest.approx(0.625)
    columns = json.loads(at.dataframe[0].proto.columns)
    headings = [columns[name]["label"] for name in ("ci_low", "ci_high", "both_bad")]
    assert headings == ["95% low", "95% high", "Both bad"]
    pair_headings = json.loads(at.dataframe[1].proto.columns)
    assert pair_headings["p_value"]["label"] == "p-value"
    titles = [json.loads(chart.proto.spec).get("title") for chart in at.get("vega_lite_chart")]
    assert titles == [
        "Bradley–Terry ratings with 95% intervals",
        "Head-to-head win rate (row against column)",
    ]
    assert not any("Not enough votes" in info.value for info in at.info)


def test_the_leaderboard_says_when_there_are_not_enough_votes(
    app_env, openai_server, monkeypatch, sqlite_url
):
    monkeypatch.setenv("BILAN_LEADERBOARD_MIN_VOTES", "10")
    seed_verdicts(sqlite_url, openai_server, ["a", "b"])
    at = open_page()
    assert any("Not enough votes yet" in info.value for info in at.info)
    assert at.dataframe[0].value["status"].tolist() == ["not enough votes yet"] * 2


def test_an_empty_leaderboard_invites_votes(app_env):
    at = open_page()
    assert any("No verdict yet" in info.value for info in at.info)


def test_a_team_label_with_markdown_shows_as_typed_in_the_leaderboard_toggle(app_env):
    team = "**June** [review](http://evil.test)"
    at = open_page(team=team)
    label = at.toggle(key="compare_team_only").label
    assert label == f"Only the team session “{escape_markdown(team)}”"


def test_blind_mode_turns_on_when_a_team_session_is_set_on_the_page(app_env):
    at = open_page()
    assert at.toggle(key="compare_blind").value is False
    at.text_input(key="identity_team_input").input("June review").run()
    assert at.toggle(key="compare_blind").value is True
    at.toggle(key="compare_blind").set_value(False).run()
    assert at.toggle(key="compare_blind").value is False  # the visitor's own choice is kept
    at.text_input(key="identity_team_input").input("").run()
    assert at.toggle(key="compare_blind").value is False
    at.text_input(key="identity_team_input").input("Next review").run()
    assert at.toggle(key="compare_blind").value is True
    assert not at.exception


def test_the_form_is_kept_after_a_look_at_another_page(app_env):
    at = open_page()
    fill(at, "Kept prompt")
    at.run()
    at.switch_page("pages/analytics.py").run()
    at.switch_page(PAGE).run()
    assert at.text_area(key="compare_prompt").value == "Kept prompt"
    assert at.selectbox(key="compare_model_2").value == "gpt-4.1-mini"
    assert at.slider(key="compare_temperature_2").value == 0.0
    assert at.text_input(key="compare_version_1").value == "secret-one"


def test_offline_the_default_variants_differ_so_the_first_compare_works(sqlite_url, monkeypatch):
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)  # no key, no base URL: the demo model answers
    clear_app_caches()
    at = open_page()
    at.text_area(key="compare_prompt").input("What is Bilan?")
    click(at, "compare_run")

    [comparison] = rows(get_engine(sqlite_url), Comparison)
    assert {comparison.variant_a["temperature"], comparison.variant_b["temperature"]} == {0.7, 0.2}
    assert {turn.model for turn in rows(get_engine(sqlite_url), Turn)} == {"bilan-demo"}
    clear_app_caches()
