"""The Analytics page in AppTest, through app.py, on a real SQLite file."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from bilan_core.app.markdown_text import escape_markdown
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.store.engine import get_engine
from bilan_core.store.histograms import MAX_RELATIVE_ERROR
from bilan_core.store.votes import cast_vote
from tests.app_support import clear_app_caches, new_app
from tests.helpers import add_turn, figures

PAGE = "pages/analytics.py"
HTML_COMMENT = "<script>alert('pwned')</script><b>bold</b> [link](http://x.test) **no**"
CHART_TITLES = {
    "Trust per model",
    "Votes per model",
    "Trust over time",
    "Tokens per model over time",
    "Latency per model (p50 / p95)",
    "Errors and cancellations per model",
    "Votes per user",
    "Prompt versions compared",
}


@pytest.fixture
def app_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The app on a fresh SQLite file, with fresh caches."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    clear_app_caches()
    yield get_engine(sqlite_url)
    clear_app_caches()


def seed(engine: Engine) -> int:
    """gpt-4o: 3 turns an hour ago (alice 👍 with an HTML comment, bob 👍, bob 👎); llama (unpriced): one
    turn 10 days ago, 👎 by chloe in team session 'review'. Returns the time used as 'now'."""
    moment = now_ms()
    for number, (user, value) in enumerate((("alice", 1), ("bob", 1), ("bob", -1))):
        prompt_id = add_turn(
            engine,
            model="gpt-4o",
            user_id=user,
            prompt_version="v2",
            prompt_text=f"<i>question {number}</i>",
            response=f"<img src=x onerror=alert(1)> answer {number}",
            created_ms=moment - 3_600_000,
            **figures(tokens=(1_000, 500), latency_ms=100.0 * (number + 1), ttft_ms=10.0),
        )
        comment = HTML_COMMENT if number == 0 else None
        cast_vote(
            engine, prompt_id=prompt_id, user_id=user, value=value, comment=comment, at_ms=moment - 3_500_000
        )
    chloe_in_review = {"user_id": "chloe", "team_session": "review"}
    ten_days_ago = moment - 10 * MS_PER_DAY
    old = add_turn(
        engine,
        model="llama-3.1-8b",
        prompt_version="v1",
        prompt_text="old question",
        response="old answer",
        created_ms=ten_days_ago,
        **chloe_in_review,
        **figures(tokens=(10, 10), latency_ms=50.0),
    )
    cast_vote(engine, prompt_id=old, value=-1, comment="too vague", at_ms=ten_days_ago + 1, **chloe_in_review)
    return moment


def open_page(query: dict | None = None):
    at = new_app(PAGE)
    at.default_timeout = 60
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def chart_specs(at) -> list[dict]:
    return [json.loads(element.proto.spec) for element in at.get("vega_lite_chart")]


def texts(at) -> list[str]:
    return [element.value for element in at.text]


def comment_cards(at) -> list[str]:
    """The comment list's header lines: the vote as emoji and word, then model, user, session, time."""
    return [c.value for c in at.caption if c.value.startswith(("**👍 up**", "**👎 down**"))]


def shown_comments(at) -> list[str]:
    """The comments in the list, in order (each header line is followed by its comment as text)."""
    headers = len(comment_cards(at))
    return [t for t in texts(at) if not t.startswith(("question", "<i>question", "answer", "<img", "old "))][
        :headers
    ]


def page_links(at) -> list:
    return [element.proto for element in at.get("page_link")]


def all_markdown(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.label for e in at.expander]
    return "\n".join(parts)


def test_empty_database_says_how_to_get_data(app_env: Engine) -> None:
    at = open_page()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Analytics"
    message = " ".join(info.value for info in at.info)
    assert "Playground" in message and "python -m bilan_core demo-data" in message
    assert not at.metric and not chart_specs(at)


def test_with_data_shows_headline_every_chart_comments_and_exports(app_env: Engine) -> None:
    seed(app_env)
    at = open_page()
    assert not at.exception, [e.value for e in at.exception]
    shown = metrics(at)
    assert shown["Votes"] == "4"
    assert shown["Turns"] == "4"
    assert shown["Comments"] == "2"
    assert shown["Positive rate (all votes alike)"] == "50.0 %"
    assert shown["Trust score (recent count more)"].endswith(" %")
    assert shown["Trend of 👍 over this range"] == "→ stable"
    assert shown["Tokens"] == "4,520"
    # gpt-4o is priced (3,000 in and 1,500 out at $2.50/$10 per million); llama is not.
    assert shown["Estimated cost"] == "≥ $0.02"  # at least: llama's turn has no price
    # 100 ms exactly, as the latency histograms estimate it (within their stated error).
    assert float(shown["Median latency"].removesuffix(" ms")) == pytest.approx(100, rel=MAX_RELATIVE_ERROR)
    captions = [caption.value for caption in at.caption]
    summary = next(c for c in captions if c.startswith("Trust score "))
    # Each figure says what it is where it is shown, and the trend says what it means.
    assert "recent votes counting more" in summary and "the plain share of 👍 (95 % interval " in summary
    assert "Trend → stable: the earlier and later halves of the votes are within 10 points" in summary
    assert any(c.startswith("Line: 95 % interval") for c in captions)
    assert any("same order: most votes first" in c for c in captions)
    team = at.selectbox(key="analytics_team_session")
    assert team.value is None and team.proto.placeholder == "All"  # not "Choose an option"
    titles = {spec.get("title") for spec in chart_specs(at)}
    # Every turn went well: the error chart gives way to a sentence saying so.
    assert titles == CHART_TITLES - {"Errors and cancellations per model"}
    assert any("No errors or cancellations in this view's 4 turns" in info.value for info in at.info)
    prices = at.expander[0]
    assert prices.label == "Prices behind the estimated cost"
    assert prices.dataframe[0].value.iloc[-1].tolist() == ["llama-3.1-8b", "unpriced", "unpriced"]
    assert len(comment_cards(at)) == 2 and not any("Comment" in f.value.columns for f in at.dataframe)
    facts = escape_markdown("model llama-3.1-8b · by chloe · session review · ")
    assert comment_cards(at)[1].startswith("**👎 down** · " + facts)
    assert [button.label for button in at.get("download_button")] == [
        "Turns and votes (CSV)",
        "Fine-tuning JSONL (👍 up answers)",
        "DPO preference pairs (JSONL)",
    ]
    assert not any(button.proto.disabled for button in at.get("download_button"))


def test_headline_compares_with_the_previous_period(app_env: Engine) -> None:
    seed(app_env)
    at = open_page({"range": "7d"})
    votes = next(metric for metric in at.metric if metric.label == "Votes")
    # This week: 3 gpt-4o votes; the week before: chloe's llama vote.
    assert (votes.value, votes.proto.delta) == ("3", "+2")
    cost = next(metric for metric in at.metric if metric.label == "Estimated cost")
    assert cost.value == "$0.02"


def test_a_filter_change_changes_the_numbers_and_the_link(app_env: Engine) -> None:
    seed(app_env)
    at = open_page()
    assert metrics(at)["Votes"] == "4"
    at.multiselect(key="analytics_models").select("llama-3.1-8b").run()
    assert not at.exception
    shown = metrics(at)
    assert (shown["Votes"], shown["Positive rate (all votes alike)"], shown["Estimated cost"]) == (
        "1",
        "0.0 %",
        "unpriced",
    )
    assert at.query_params["model"] == "llama-3.1-8b"
    at.selectbox(key="analytics_range").select("24h").run()
    assert metrics(at)["Votes"] == "0"
    assert any("Nothing matches these filters" in info.value for info in at.info)
    assert at.query_params["range"] == "24h"


def test_the_query_string_reproduces_the_view(app_env: Engine) -> None:
    seed(app_env)
    at = open_page({"range": "90d", "voter": "bob", "version": "v2", "user": "Grace"})
    assert not at.exception
    assert at.selectbox(key="analytics_range").value == "90d"
    assert at.multiselect(key="analytics_users").value == ["bob"]
    assert at.multiselect(key="analytics_prompt_versions").value == ["v2"]
    assert (metrics(at)["Votes"], metrics(at)["Positive rate (all votes alike)"]) == ("2", "50.0 %")
    # The page's own parameters are kept; the identity's are left alone.
    assert at.query_params["voter"] == "bob" and at.query_params["user"] == "Grace"
    at.selectbox(key="analytics_team_session").select("review").run()
    at.multiselect(key="analytics_users").unselect("bob").run()
    at.multiselect(key="analytics_prompt_versions").unselect("v2").run()
    assert at.query_params["session"] == "review"
    assert "voter" not in at.query_params and "version" not in at.query_params
    shared = {key: at.query_params[key] for key in ("range", "session")}
    again = open_page(shared)
    assert metrics(again) == metrics(at)
    assert metrics(again)["Votes"] == "1"


def test_a_custom_range_from_the_link_and_a_bad_link(app_env: Engine) -> None:
    moment = seed(app_env)
    from bilan_core.clock import to_datetime

    old_day = to_datetime(moment - 10 * MS_PER_DAY).date().isoformat()
    at = open_page({"range": "custom", "from": old_day, "to": old_day})
    assert not at.exception
    assert at.date_input(key="analytics_from").value.isoformat() == old_day
    assert metrics(at)["Votes"] == "1"
    at.date_input(key="analytics_to").set_value(date.fromisoformat(old_day) - timedelta(days=1)).run()
    assert not at.exception
    assert any("is after the last day" in error.value for error in at.error)
    assert not at.metric
    bad = open_page({"range": "forever"})
    assert any("Unknown time range 'forever'" in warning.value for warning in bad.warning)
    assert metrics(bad)["Votes"] == "4"


def test_a_new_vote_shows_at_once(app_env: Engine) -> None:
    moment = seed(app_env)
    at = open_page()
    assert metrics(at)["Votes"] == "4"
    prompt_id = add_turn(app_env, model="gpt-4o", created_ms=moment)
    cast_vote(app_env, prompt_id=prompt_id, user_id="dmitri", value=1)
    at.run()
    assert (metrics(at)["Votes"], metrics(at)["Turns"]) == ("5", "5")


def test_html_in_comments_prompts_and_answers_is_shown_as_text(app_env: Engine) -> None:
    seed(app_env)
    at = open_page()
    shown = texts(at)
    assert HTML_COMMENT in shown
    assert "<i>question 0</i>" in shown
    assert "<img src=x onerror=alert(1)> answer 0" in shown
    assert "<script>" not in all_markdown(at) and "<img" not in all_markdown(at)
    assert HTML_COMMENT in shown_comments(at)


def test_comments_search_sign_filter_and_pages(app_env: Engine) -> None:
    moment = seed(app_env)
    for number in range(25):
        prompt_id = add_turn(app_env, model="gpt-4o", created_ms=moment - 60_000)
        cast_vote(app_env, prompt_id=prompt_id, user_id="eve", value=1, comment=f"note number {number}")
    at = open_page()
    assert any("27 comments · page 1 of 2" in caption.value for caption in at.caption)
    at.number_input(key="analytics_comment_page").set_value(2).run()
    assert any("page 2 of 2" in caption.value for caption in at.caption)
    assert len(comment_cards(at)) == 7
    at.text_input(key="analytics_comment_search").input("NUMBER 1").run()
    caption = next(c.value for c in at.caption if "comments ·" in c.value)
    assert caption.startswith("11 comments · page 1 of 1")  # 1 and 10..19, back on page 1
    at.text_input(key="analytics_comment_search").input("").run()
    at.radio(key="analytics_comment_sign").set_value("down").run()
    assert shown_comments(at) == ["too vague"]
    assert at.query_params["vote"] == "down"
    at.text_input(key="analytics_comment_search").input("nothing like this").run()
    assert any("No comments match" in info.value for info in at.info)


def test_a_model_name_with_markdown_shows_as_typed_in_the_cost_help(app_env: Engine) -> None:
    model = "**evil** [click](http://evil.test)"
    add_turn(app_env, model=model, prompt_tokens=10, completion_tokens=10, created_ms=now_ms() - 60_000)
    at = open_page()
    cost = next(metric for metric in at.metric if metric.label == "Estimated cost")
    assert cost.value == "unpriced"
    assert escape_markdown(model) in cost.proto.help
    assert model not in cost.proto.help


def test_the_filters_survive_a_visit_to_another_page(app_env: Engine) -> None:
    seed(app_env)
    at = open_page()
    at.selectbox(key="analytics_range").select("90d").run()
    at.multiselect(key="analytics_models").select("llama-3.1-8b").run()
    at.switch_page("pages/playground.py").run()
    at.query_params.clear()  # what the browser does on a page switch: the filters are no longer in the URL
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.selectbox(key="analytics_range").value == "90d"
    assert at.multiselect(key="analytics_models").value == ["llama-3.1-8b"]
    assert metrics(at)["Votes"] == "1"
    assert (at.query_params["range"], at.query_params["model"]) == ("90d", "llama-3.1-8b")  # link again


def test_the_comment_search_and_vote_filter_come_from_and_go_to_the_link(app_env: Engine) -> None:
    seed(app_env)
    at = open_page({"q": "VAGUE", "vote": "down"})
    assert not at.exception
    assert at.text_input(key="analytics_comment_search").value == "VAGUE"
    assert at.radio(key="analytics_comment_sign").value == "down"
    assert shown_comments(at) == ["too vague"]
    at.radio(key="analytics_comment_sign").set_value("up").run()
    assert at.query_params["vote"] == "up" and at.query_params["q"] == "VAGUE"
    assert any("No comments match" in info.value for info in at.info)
    at.text_input(key="analytics_comment_search").input("").run()
    assert "q" not in at.query_params
    bad = open_page({"vote": "sideways"})
    assert any("Unknown vote filter 'sideways'" in warning.value for warning in bad.warning)
    assert len(comment_cards(bad)) == 2


def test_each_comment_links_to_its_conversation_in_the_playground(app_env: Engine) -> None:
    moment = now_ms()
    prompt_id = add_turn(
        app_env, model="gpt-4o", conversation_id="conv-42", prompt_text="q", response="a", created_ms=moment
    )
    cast_vote(app_env, prompt_id=prompt_id, user_id="ann", value=1, comment="kept")
    at = open_page()
    [link] = [proto for proto in page_links(at) if "Playground" in proto.label]
    assert link.label == "Open this conversation in the Playground"
    assert link.page_script_hash and link.query_string == "c=conv-42"  # the Playground opens ?c= links


def test_the_team_session_filter_starts_on_the_visitors_own_session(app_env: Engine) -> None:
    seed(app_env)
    at = open_page({"team": "review"})  # the visitor's own team session, from the identity link
    assert not at.exception
    assert at.selectbox(key="analytics_team_session").value == "review"
    assert metrics(at)["Votes"] == "1"
    assert "session" not in at.query_params  # the default is not written into the link
    at.selectbox(key="analytics_team_session").select(None).run()
    assert metrics(at)["Votes"] == "4" and at.query_params["session"] == "*"
    shared = open_page({"team": "review", "session": "*"})
    assert shared.selectbox(key="analytics_team_session").value is None
    new_team = open_page({"team": "kick-off"})  # no data in that session yet: everything is shown
    assert new_team.selectbox(key="analytics_team_session").value is None
    assert metrics(new_team)["Votes"] == "4"


def test_downloads_are_disabled_when_the_view_has_nothing_to_export(app_env: Engine) -> None:
    seed(app_env)
    only_down = open_page({"model": "llama-3.1-8b", "range": "90d"})
    disabled = {button.label: button.proto.disabled for button in only_down.get("download_button")}
    # llama has a turn (CSV) but no 👍 answer to fine-tune on.
    assert disabled == {
        "Turns and votes (CSV)": False,
        "Fine-tuning JSONL (👍 up answers)": True,
        "DPO preference pairs (JSONL)": False,
    }
    nothing = open_page({"range": "24h", "model": "llama-3.1-8b"})
    assert all(button.proto.disabled for button in nothing.get("download_button"))


def test_with_five_turns_the_charts_have_sensible_domains(app_env: Engine) -> None:
    moment = now_ms()
    for number in range(5):
        add_turn(
            app_env, model="gpt-4o", created_ms=moment - number * 60_000, latency_ms=100.0, prompt_tokens=3
        )
    at = open_page()
    assert not at.exception
    specs = {spec.get("title"): spec for spec in chart_specs(at)}
    # No error at all: said in words instead of an empty chart (and the axis is never "0.000000%").
    assert "Errors and cancellations per model" not in specs
    assert any("No errors or cancellations in this view's 5 turns" in info.value for info in at.info)
    add_turn(app_env, model="gpt-4o", status="error", created_ms=moment)
    at.run()
    errors = {spec.get("title"): spec for spec in chart_specs(at)}["Errors and cancellations per model"]
    assert errors["encoding"]["x"]["scale"]["domain"] == [0, pytest.approx(1 / 6 * 1.15)]
    assert specs["Tokens per model over time"]["encoding"]["x"]["timeUnit"] == "yearmonthdate"
    # Without votes the trust charts say why they are missing instead of drawing empty axes.
    assert any("No votes in this view" in info.value for info in at.info)
    assert "Trust per model" not in specs
