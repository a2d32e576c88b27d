"""The Compare page in AppTest: real SDK against the loopback server, blind mode, verdicts, leaderboard."""

from __future__ import annotations

import json
import re

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


def failed_side(app_env) -> str:
    [comparison] = rows(app_env, Comparison)
    statuses = {turn.prompt_id: turn.status for turn in rows(app_env, Turn)}
    [side] = [side for side in ("a", "b") if statuses[getattr(comparison, f"prompt_id_{side}")] == "error"]
    return side


def test_a_failed_side_can_be_retried(app_env, openai_server):
    at = open_page()
    fill(at)
    openai_server.fail(503, "overloaded right now")
    click(at, "compare_run")
    assert any("did not answer" in e.value and "overloaded right now" in e.value for e in at.error)
    side = failed_side(app_env)
    other = "b" if side == "a" else "a"
    verdicts = {button.key for button in at.button if button.key.startswith("compare_verdict_")}
    assert verdicts == {f"compare_verdict_{other}", "compare_verdict_both_bad"}  # a tie with a failure: no
    assert any("One side failed" in caption.value for caption in at.caption)

    click(at, f"compare_retry_{side}")
    assert not at.error
    assert [m.value for m in at.markdown].count(DEFAULT_ANSWER) == 2
    verdicts = {button.key for button in at.button if button.key.startswith("compare_verdict_")}
    assert verdicts == {f"compare_verdict_{winner}" for winner in ("a", "b", "tie", "both_bad")}
    [comparison] = rows(app_env, Comparison)
    turns = {turn.prompt_id: turn.status for turn in rows(app_env, Turn)}
    assert turns[getattr(comparison, f"prompt_id_{side}")] == "ok" and len(turns) == 3


def test_a_verdict_can_judge_what_came_back_when_one_side_failed(app_env, openai_server):
    at = open_page()
    fill(at)
    openai_server.fail(503, "overloaded right now")
    click(at, "compare_run")
    side = failed_side(app_env)
    other = "b" if side == "a" else "a"
    click(at, f"compare_verdict_{other}")
    [comparison] = rows(app_env, Comparison)
    assert comparison.winner == other
    votes = {vote.prompt_id: vote.value for vote in rows(app_env, Vote)}
    ids = {name: getattr(comparison, f"prompt_id_{name}") for name in ("a", "b")}
    assert votes == {ids[other]: 1, ids[side]: -1}
    assert f"compare_retry_{side}" not in {button.key for button in at.button}  # decided: no retry


def test_variants_are_named_and_the_settings_show_on_hover(app_env):
    at = open_page()
    fill(at)
    at.text_input(key="compare_name_1").input("Formal")
    at.text_area(key="compare_system_2").input("Answer in three bullets, no more.")
    click(at, "compare_run")
    [comparison] = rows(app_env, Comparison)
    assert comparison.label_a == "Formal"
    assert comparison.label_b == "gpt-4.1-mini · t=0 · secret-two · “Answer in three bullets…”"
    side_b = at.subheader[3]
    assert side_b.value.startswith("B · gpt")
    assert "System prompt\\: Answer in three bullets, no more\\." in side_b.proto.help
    # The automatic name is offered as the placeholder of the empty name.
    assert at.text_input(key="compare_name_2").placeholder.startswith("gpt-4.1-mini · t=0")


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
    assert list(ratings.columns) == [
        "Rank", "Variant", "Rating", "95% interval", "Votes", "Wins", "Losses", "Ties", "Both bad",
    ]  # fmt: skip
    assert ratings["Variant"].tolist() == ["gpt-4o", "gpt-4o-mini"]
    assert ratings["Votes"].tolist() == [5, 5]
    assert ratings.iloc[0]["Rating"] > 1000 > ratings.iloc[1]["Rating"]
    assert all(re.fullmatch(r"\d[\d,]*–\d[\d,]*", interval) for interval in ratings["95% interval"])
    assert (pairs.iloc[0]["Wins"], pairs.iloc[0]["Losses"], pairs.iloc[0]["Ties"]) == (3, 1, 1)
    assert pairs.iloc[0]["p-value"] == "0.625"
    assert pairs.iloc[0]["Verdict"] == "no significant difference"
    pair_columns = json.loads(at.dataframe[1].proto.columns)
    widths = [pair_columns[name]["width"] for name in pairs.columns]
    assert sum(widths) <= 980  # every column, the Verdict too, fits the page at 1440 px
    titles = [json.loads(chart.proto.spec).get("title") for chart in at.get("vega_lite_chart")]
    assert titles == [
        "Bradley–Terry ratings with 95% intervals",
        "Head-to-head win rate (row against column)",
    ]
    for chart in at.get("vega_lite_chart"):  # the labels say what the rows are: no title to overlap them
        layer = json.loads(chart.proto.spec)["layer"][0]["encoding"]
        assert layer["y"]["title"] is None
    assert not any("Not enough votes" in info.value for info in at.info)


def test_one_vote_gives_no_interval_and_no_p_value(app_env, openai_server, monkeypatch, sqlite_url):
    monkeypatch.setenv("BILAN_LEADERBOARD_MIN_VOTES", "10")
    seed_verdicts(sqlite_url, openai_server, ["a"])
    at = open_page()
    assert any("Not enough votes yet" in info.value for info in at.info)
    ratings, pairs = at.dataframe[0].value, at.dataframe[1].value
    assert ratings["95% interval"].tolist() == ["— (not enough votes yet)"] * 2
    assert pairs["p-value"].tolist() == ["—"] and pairs["Verdict"].tolist() == ["not enough votes yet"]
    assert "None" not in pairs.to_string() and "nan" not in ratings.to_string()


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
