"""The Playground's Tools toggle and Auto model choice in AppTest: the real app, the real openai SDK
against the loopback server (or the offline demo model), and the turns stored in SQLite."""

from __future__ import annotations

import json

import pytest

from bilan_core.app.markdown_text import escape_markdown
from bilan_core.chat.routing import describe_route
from bilan_core.chat.tool_loop import DEFAULT_MAX_STEPS, describe_tool_call
from bilan_core.chat.tools import builtin_tools
from bilan_core.clock import now_ms
from bilan_core.store.chat_history import load_chat
from bilan_core.store.engine import get_engine
from bilan_core.store.votes import cast_vote
from tests.app_support import clear_app_caches, new_app
from tests.helpers import add_turn
from tests.pages.test_playground_page import send, thumbs, turns, votes

FINAL = "Six times seven is 42."


@pytest.fixture
def app_env(app_env, openai_server, monkeypatch):
    """The shared loopback app (tests/app_support.py): two models, a low routing minimum, a fixed answer."""
    monkeypatch.setenv("BILAN_MODELS", "gpt-4o-mini,gpt-4o")
    monkeypatch.setenv("BILAN_ROUTE_MIN_VOTES", "3")
    openai_server.configure(answer=FINAL)
    return app_env


def shown_texts(at) -> list[str]:
    return [element.value for element in at.chat_message[-1].text]


def test_tools_on_runs_the_loop_shows_each_call_and_votes_on_the_final_answer(app_env, openai_server):
    at = new_app().run()
    send(at, "no tools yet")
    assert "tools" not in openai_server.chat_requests[-1].body

    openai_server.reply_with_tool_call("calculator", {"expression": "6 * 7"})
    at.toggle(key="playground_tools").set_value(True).run()
    send(at, "What is six times seven?")

    tool_round, answer_round = (request.body for request in openai_server.chat_requests[-2:])
    assert tool_round["tools"] == builtin_tools().specs() and answer_round["stream"]
    plain, routed = turns(app_env)
    assert plain.tool_calls is None
    [record] = routed.tool_calls
    assert json.loads(record["result"]) == {"expression": "6 * 7", "result": 42}
    assert routed.response == FINAL and at.chat_message[-1].markdown[0].value == FINAL
    assert describe_tool_call(record) in shown_texts(at)
    assert describe_tool_call(record).startswith('🔧 calculator({"expression": "6 * 7"}) → ')

    thumbs(at)[-1].set_value(1).run()
    assert [(vote.prompt_id, vote.value) for vote in votes(app_env)] == [(routed.prompt_id, 1)]
    assert describe_tool_call(record) in shown_texts(at)


def test_a_bad_tool_call_is_shown_as_an_error_and_the_answer_still_comes(app_env, openai_server):
    at = new_app().run()  # queue scripted answers after the first run: it asks for the model list
    at.toggle(key="playground_tools").set_value(True).run()
    openai_server.reply_with_tool_call("launch_rocket", {"target": "moon"})
    send(at, "Launch it")

    [turn] = turns(app_env)
    [record] = turn.tool_calls
    assert record["error"].startswith("unknown tool 'launch_rocket'")
    assert turn.status == "ok" and turn.response == FINAL
    assert describe_tool_call(record) in shown_texts(at)
    assert "→ error: unknown tool 'launch_rocket'" in describe_tool_call(record)


def test_too_many_tool_rounds_show_the_step_limit_and_every_call(app_env, openai_server):
    at = new_app().run()
    at.toggle(key="playground_tools").set_value(True).run()
    for _ in range(DEFAULT_MAX_STEPS + 1):
        openai_server.reply_with_tool_call("calculator", {"expression": "1 + 1"})
    send(at, "Keep counting")

    [turn] = turns(app_env)
    assert (turn.status, turn.error_type) == ("error", "tool_step_limit")
    assert "tool step limit" in at.chat_message[-1].error[0].value
    calls = [text for text in shown_texts(at) if text.startswith("🔧 calculator")]
    assert len(calls) == DEFAULT_MAX_STEPS + 1 and calls[-1].endswith("→ not run")
    assert not at.warning


def test_auto_routes_to_the_stronger_model_and_shows_why(app_env, openai_server):
    for number in range(3):
        prompt_id = add_turn(app_env, model="gpt-4o-mini")
        cast_vote(app_env, prompt_id=prompt_id, user_id=f"rater-{number}", value=-1, at_ms=now_ms())
    at = new_app().run()
    assert at.selectbox(key="playground_model").options[-1] == "Auto (picked by trust score)"
    at.selectbox(key="playground_model").select("auto").run()
    send(at, "Route me")

    assert openai_server.chat_requests[-1].body["model"] == "gpt-4o"
    routed = [turn for turn in turns(app_env) if turn.prompt_text == "Route me"]
    [turn] = routed
    assert turn.model == "gpt-4o" and turn.route["model"] == "gpt-4o" and turn.route["votes"] == 3
    assert "below 0.70, so gpt-4o answers" in turn.route["reason"]
    captions = [caption.value for caption in at.chat_message[-1].caption]
    assert escape_markdown(describe_route(turn.route)) in captions
    [entry] = load_chat(app_env, conversation_id=turn.conversation_id, user_id="anonymous")
    assert entry.route == turn.route


def test_auto_keeps_the_default_model_without_enough_votes(app_env, openai_server):
    at = new_app().run()
    at.selectbox(key="playground_model").select("auto").run()
    send(at, "Route me")

    assert openai_server.chat_requests[-1].body["model"] == "gpt-4o-mini"
    [turn] = turns(app_env)
    assert turn.route["model"] == "gpt-4o-mini" and "fewer than the 3 needed" in turn.route["reason"]
    captions = [caption.value for caption in at.chat_message[-1].caption]
    assert escape_markdown(describe_route(turn.route)) in captions


def test_tools_work_offline_with_the_demo_model(sqlite_url, monkeypatch):
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    clear_app_caches()
    try:
        at = new_app().run()
        at.toggle(key="playground_tools").set_value(True).run()
        send(at, "What is the weather in Lisbon?")
        [turn] = turns(get_engine(sqlite_url))
    finally:
        clear_app_caches()

    [record] = turn.tool_calls
    assert json.loads(record["result"])["city"] == "Lisbon"
    assert describe_tool_call(record) in shown_texts(at)
    assert "Using get_weather" in at.chat_message[-1].markdown[0].value
