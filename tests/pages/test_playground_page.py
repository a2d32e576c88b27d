"""The Playground in AppTest, with the real openai SDK against the loopback OpenAI-compatible server."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, select
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import app_test as app_test_module
from streamlit.testing.v1.local_script_runner import LocalScriptRunner

from bilan_core.app.feedback_prompts import THUMBS_DOWN_QUESTION, THUMBS_UP_QUESTION
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.playground import TURNS_PER_PAGE, validated_prompt
from bilan_core.clock import now_ms
from bilan_core.store.conversations import list_conversations, start_conversation
from bilan_core.store.models import Conversation, Turn, Vote
from bilan_core.store.votes import cast_vote
from tests.app_support import new_app
from tests.fixtures.openai_server import DEFAULT_ANSWER
from tests.helpers import add_turn


def turns(engine) -> list[Turn]:
    with Session(engine) as session:
        return list(session.exec(select(Turn).order_by(Turn.created_ms)).all())


def votes(engine) -> list[Vote]:
    with Session(engine) as session:
        return list(session.exec(select(Vote)).all())


def send(at, text: str):
    at.chat_input[0].set_value(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def conversation_list(at):
    return at.radio(key="playground_conversation_list")


def open_listed(at, conversation_id: str):
    """Open a conversation from the sidebar's list."""
    conversation_list(at).set_value(conversation_id).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def thumbs(at):
    return [w for w in at.get("feedback")]


def test_send_streams_an_answer_that_is_recorded(app_env, openai_server):
    openai_server.configure(chunks=5)
    at = new_app().run()
    at.selectbox(key="playground_model").select("gpt-4o")
    at.slider(key="playground_temperature").set_value(0.0)
    at.text_area(key="playground_system_prompt").input("Be brief.")
    at.text_input(key="playground_prompt_version").input("v2")
    send(at, "What is Bilan?")

    [turn] = turns(app_env)
    assert (turn.status, turn.response, turn.model, turn.prompt_version) == (
        "ok",
        DEFAULT_ANSWER,
        "gpt-4o",
        "v2",
    )
    assert turn.prompt_text == "What is Bilan?"
    assert turn.parameters["temperature"] == 0.0
    sent = openai_server.chat_requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["temperature"] == 0.0
    assert at.chat_message[1].markdown[0].value == DEFAULT_ANSWER
    caption = at.chat_message[1].caption[0].value
    assert "gpt\\-4o" in caption and "prompt" in caption and "TTFT" in caption
    assert not any("Offline demo" in info.value for info in at.info)
    [conversation] = list_conversations(app_env, user_id="anonymous")
    assert conversation.title == "What is Bilan?"
    assert at.query_params["c"] == conversation.conversation_id


def test_the_model_picker_lists_chat_models_and_takes_any_typed_id(app_env, openai_server):
    openai_server.configure(models=["gpt-4o", "text-embedding-3-small", "gpt-image-1", "whisper-1"])
    at = new_app().run()
    picker = at.selectbox(key="playground_model")
    assert not {"text-embedding-3-small", "gpt-image-1", "whisper-1"} & set(picker.options)
    assert "gpt-4o" in picker.options
    assert picker.proto.accept_new_options
    # Typing an id the list does not hold: the browser sends the typed text as the value (AppTest only
    # selects listed options, so the text is listed here for it).
    picker.options.append("my-own-finetune")
    picker.set_value("my-own-finetune").run()
    at.selectbox(key="playground_model").options.append("my-own-finetune")
    send(at, "hi")
    assert openai_server.chat_requests[-1].body["model"] == "my-own-finetune"
    assert turns(app_env)[-1].model == "my-own-finetune"


def test_second_message_sends_the_history(app_env, openai_server):
    at = new_app().run()
    send(at, "first")
    send(at, "second")
    sent = openai_server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [t.prompt_text for t in turns(app_env)] == ["first", "second"]
    assert len({t.conversation_id for t in turns(app_env)}) == 1
    assert len(at.chat_message) == 4


def test_vote_comment_change_and_clear(app_env):
    at = new_app().run()
    send(at, "hello")
    [turn] = turns(app_env)
    [widget] = thumbs(at)
    assert widget.value is None
    assert any("Not rated yet" in caption.value for caption in at.caption)

    comment_key = f"playground_comment_{turn.prompt_id}"
    widget.set_value(1).run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(1, None)]
    assert any("rated this answer good (thumbs up)" in caption.value for caption in at.caption)
    assert at.text_area(key=comment_key).label == THUMBS_UP_QUESTION
    at.text_area(key=comment_key).input("Clear and short")
    at.button(key=f"playground_comment_save_{turn.prompt_id}").click().run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(1, "Clear and short")]
    assert any(t.value == "Your comment: Clear and short" for t in at.text)

    # Flipping the vote keeps the comment, offered again for editing under the new question.
    thumbs(at)[0].set_value(0).run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(-1, "Clear and short")]
    assert any("rated this answer bad (thumbs down)" in caption.value for caption in at.caption)
    box = at.text_area(key=comment_key)
    assert (box.label, box.value) == (THUMBS_DOWN_QUESTION, "Clear and short")
    box.input("Clear, but it missed the point").run()
    at.button(key=f"playground_comment_save_{turn.prompt_id}").click().run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(-1, "Clear, but it missed the point")]

    # A saved comment can be edited later.
    at.button(key=f"playground_comment_edit_{turn.prompt_id}").click().run()
    assert at.text_area(key=comment_key).value == "Clear, but it missed the point"
    at.text_area(key=comment_key).input("Missed the point")
    at.button(key=f"playground_comment_save_{turn.prompt_id}").click().run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(-1, "Missed the point")]

    # Taking the vote back keeps its comment as a draft in the box, saved again with the next vote.
    thumbs(at)[0].set_value(None).run()
    assert votes(app_env) == []
    assert thumbs(at)[0].value is None
    assert at.text_area(key=comment_key).value == "Missed the point"
    thumbs(at)[0].set_value(1).run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(1, "Missed the point")]
    assert not at.exception


def test_a_comment_typed_before_the_vote_is_kept_and_saved_with_it(app_env):
    at = new_app().run()
    send(at, "hello")
    [turn] = turns(app_env)
    comment_key = f"playground_comment_{turn.prompt_id}"
    at.button(key=f"playground_comment_add_{turn.prompt_id}").click().run()
    assert "saved with your vote" in at.text_area(key=comment_key).label
    assert f"playground_comment_save_{turn.prompt_id}" not in {button.key for button in at.button}
    at.text_area(key=comment_key).input("Too long").run()
    assert votes(app_env) == []
    at.switch_page("pages/settings.py").run()
    at.switch_page("pages/playground.py").run()
    assert at.text_area(key=comment_key).value == "Too long", "the draft outlives a page switch"
    thumbs(at)[0].set_value(0).run()
    assert [(v.value, v.comment) for v in votes(app_env)] == [(-1, "Too long")]
    assert at.text_area(key=comment_key).label == THUMBS_DOWN_QUESTION
    assert not at.exception


def test_votes_come_back_from_the_database_when_a_conversation_reopens(app_env):
    conversation_id = start_conversation(app_env, user_id="anonymous", title="Old chat").conversation_id
    liked = add_turn(
        app_env, user_id="anonymous", conversation_id=conversation_id, prompt_text="a", response="A"
    )
    disliked = add_turn(
        app_env, user_id="anonymous", conversation_id=conversation_id, prompt_text="b", response="B"
    )
    add_turn(app_env, user_id="anonymous", conversation_id=conversation_id, prompt_text="c", response="C")
    cast_vote(app_env, prompt_id=liked, user_id="anonymous", value=1, comment="nice")
    cast_vote(app_env, prompt_id=disliked, user_id="anonymous", value=-1)
    cast_vote(app_env, prompt_id=disliked, user_id="someone-else", value=1)

    at = new_app().run()
    assert not at.chat_message
    open_listed(at, conversation_id)
    assert [w.value for w in thumbs(at)] == [1, 0, None]
    assert any(t.value == "Your comment: nice" for t in at.text)

    linked = new_app()
    linked.query_params["c"] = conversation_id
    linked.run()
    assert [w.value for w in thumbs(linked)] == [1, 0, None]
    linked.switch_page("pages/settings.py").run()
    linked.switch_page("pages/playground.py").run()
    assert [w.value for w in thumbs(linked)] == [1, 0, None]


def test_a_link_to_an_unknown_conversation_says_so(app_env):
    at = new_app()
    at.query_params["c"] = "no-such-id"
    at.run()
    assert not at.exception
    assert any("No conversation has the id" in w.value for w in at.warning)
    assert "c" not in at.query_params


def test_rename_and_delete_a_conversation(app_env):
    at = new_app().run()
    send(at, "to be renamed")
    at.text_input(key="playground_rename_title").input("Renamed chat").run()
    at.button(key="playground_rename_save").click().run()
    [conversation] = list_conversations(app_env, user_id="anonymous")
    assert conversation.title == "Renamed chat"
    thumbs(at)[0].set_value(1).run()
    assert any("your teammates' votes and comments" in md.value for md in at.markdown)
    confirm = at.button(key="playground_delete_confirm")
    assert confirm.label == ":red[**Yes, delete it**]"  # drawn in red: the destructive one
    confirm.click().run()
    assert list_conversations(app_env, user_id="anonymous") == []
    assert turns(app_env) == [] and votes(app_env) == []
    assert not at.chat_message
    assert "c" not in at.query_params
    assert [s.value for s in at.success] == [
        "Deleted the conversation “Renamed chat” with its answers and everyone's votes on them."
    ]
    at.run()
    assert not at.success, "the confirmation shows once"


def test_two_chats_with_the_same_first_prompt_are_told_apart_in_the_list(app_env):
    first = start_conversation(app_env, user_id="anonymous", title="Same question")
    with Session(app_env) as session:  # the first one was last active three days ago
        stored = session.exec(select(Conversation)).one()
        stored.updated_ms = stored.created_ms = now_ms() - 3 * 86_400_000
        session.add(stored)
        session.commit()
    second = start_conversation(app_env, user_id="anonymous", title="Same question")
    at = new_app().run()
    listed = conversation_list(at)
    assert listed.options[0].startswith("Same question  \n") and listed.options[1].startswith("Same question")
    assert listed.options[0] != listed.options[1]
    assert ":small[:gray[today" in listed.options[0]
    assert listed.value is None
    open_listed(at, first.conversation_id)
    assert conversation_list(at).value == first.conversation_id
    assert at.query_params["c"] == first.conversation_id
    assert second.conversation_id != first.conversation_id


@pytest.mark.parametrize(
    ("script", "reason", "tries"),
    [
        (lambda s: s.fail(401, "Incorrect API key provided: sk-test***"), "Incorrect API key", 1),
        (lambda s: s.rate_limit(retry_after=0.01, times=3), "Rate limit reached", 3),
        (
            lambda s: s.fail(500, "The server had an error", retry_after=0.01, times=3),
            "The server had an error",
            3,
        ),
        (lambda s: s.cut_stream(after_chunks=2), "Connection error", 1),
        (lambda s: s.cut_stream(after_chunks=2, abrupt=False), "no finish reason", 1),
        (
            lambda s: s.fail(
                400, "This model's maximum context length is 128000 tokens", code="context_length_exceeded"
            ),
            "maximum context length",
            1,
        ),
        (
            lambda s: s.fail(404, "The model `gpt-9` does not exist", code="model_not_found"),
            "does not exist",
            1,
        ),
    ],
    ids=[
        "bad-key",
        "rate-limit",
        "server-error",
        "cut-stream",
        "stream-ends-early",
        "context-too-long",
        "unknown-model",
    ],
)
def test_provider_errors_are_shown_in_the_chat_and_recorded(
    app_env, openai_server, monkeypatch, script, reason, tries
):
    monkeypatch.setenv("BILAN_MAX_RETRIES", "2")  # rate limits and server errors fail only after the retries
    at = new_app().run()
    send(at, "works")
    script(openai_server)
    send(at, "fails")
    assert not at.exception
    asked = [r for r in openai_server.chat_requests if r.body["messages"][-1]["content"] == "fails"]
    assert len(asked) == tries
    failed = turns(app_env)[-1]
    assert failed.status == "error"
    assert reason.lower() in (failed.error_message or "").lower()
    shown = [e.value for e in at.chat_message[-1].error]
    assert len(shown) == 1 and reason.lower() in shown[0].lower()
    assert "Traceback" not in " ".join(shown)
    assert len(at.chat_message) == 4  # the conversation is kept
    assert not at.get("feedback")[1:]  # a failed turn has nothing to rate
    send(at, "works again")
    assert turns(app_env)[-1].status == "ok"
    assert len(at.chat_message) == 6


class _RunnerSpy(LocalScriptRunner):
    """The real AppTest script runner, remembered so a test can press Stop while a script runs."""

    current: LocalScriptRunner | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _RunnerSpy.current = self


def test_stop_keeps_the_partial_answer_as_cancelled_and_it_can_be_rated(app_env, openai_server, monkeypatch):
    openai_server.configure(chunks=40, chunk_delay=0.1)
    monkeypatch.setattr(app_test_module, "LocalScriptRunner", _RunnerSpy)
    at = new_app().run()

    def press_stop_after_some_chunks() -> None:
        deadline = time.monotonic() + 20
        while not openai_server.chat_requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        # What clicking Stop does in the browser: the button asks for a rerun, which interrupts the
        # running script (and so write_stream) at its next step.
        _RunnerSpy.current.request_rerun(RerunData())

    presser = threading.Thread(target=press_stop_after_some_chunks)
    presser.start()
    at.chat_input[0].set_value("tell me a long story")
    at.run()
    presser.join()
    assert not at.exception

    [turn] = turns(app_env)
    assert turn.status == "cancelled"
    assert turn.response and DEFAULT_ANSWER.startswith(turn.response) and turn.response != DEFAULT_ANSWER
    assert len(openai_server.chat_requests) == 1  # the rerun after Stop does not send the prompt again
    assert at.chat_message[1].markdown[0].value == turn.response.strip()  # st.markdown trims the text
    assert "stopped early" in at.chat_message[1].caption[0].value

    thumbs(at)[0].set_value(0).run()
    assert [v.value for v in votes(app_env)] == [-1]
    assert at.text_area(key=f"playground_comment_{turn.prompt_id}").label == THUMBS_DOWN_QUESTION


def test_answers_render_markdown_without_raw_html_and_prompts_as_text(app_env, openai_server):
    openai_server.configure(answer="**bold** <img src=x onerror=alert(1)>")
    at = new_app().run()
    send(at, "<script>alert('x')</script> **not bold**")
    assert at.chat_message[0].text[0].value == "<script>alert('x')</script> **not bold**"
    answer = at.chat_message[1].markdown[0]
    assert answer.value.startswith("**bold**")
    assert answer.proto.allow_html is False


def test_two_visitors_never_share_chat_state(app_env):
    alice = new_app()
    alice.query_params["user"] = "Alice"
    alice.run()
    bob = new_app()
    bob.query_params["user"] = "Bob"
    bob.run()
    send(alice, "alice's question")
    thumbs(alice)[0].set_value(1).run()
    bob.run()
    assert not bob.chat_message
    send(bob, "bob's question")
    assert [t.user_id for t in turns(app_env)] == ["Alice", "Bob"]
    assert [(v.user_id, v.value) for v in votes(app_env)] == [("Alice", 1)]
    alice.run()
    assert [m.text[0].value for m in alice.chat_message[::2]] == ["alice's question"]
    assert len(list_conversations(app_env, user_id="Bob")) == 1


def test_display_name_and_team_session_are_stored_with_turns_votes_and_conversation(app_env):
    at = new_app().run()
    at.text_input(key="identity_name_input").input("Ada").run()
    at.text_input(key="identity_team_input").input("June review").run()
    send(at, "hello team")
    thumbs(at)[0].set_value(0).run()

    [turn] = turns(app_env)
    [vote] = votes(app_env)
    [conversation] = list_conversations(app_env, user_id="Ada")
    assert (turn.user_id, turn.team_session) == ("Ada", "June review")
    assert (vote.user_id, vote.team_session, vote.value) == ("Ada", "June review", -1)
    assert conversation.team_session == "June review"
    assert (at.query_params["user"], at.query_params["team"]) == ("Ada", "June review")
    assert list_conversations(app_env, user_id="anonymous") == []


def everything_shown(node) -> str:
    """Every value, label, placeholder and help text in an AppTest tree."""
    texts = []
    for name in ("value", "label", "placeholder", "help", "body"):
        shown = getattr(node, name, None)
        if shown is not None and not callable(shown):
            texts.append(shown.to_string() if hasattr(shown, "to_string") else str(shown))
    for child in getattr(node, "children", {}).values():
        texts.append(everything_shown(child))
    return " ".join(texts)


def test_no_key_is_ever_shown_on_the_playground(app_env):
    at = new_app().run()
    send(at, "hello")
    at.switch_page("pages/settings.py").run()
    settings_page = everything_shown(at._tree)
    assert "set (hidden)" in settings_page  # the walk sees the Settings tables
    at.switch_page("pages/playground.py").run()
    playground = everything_shown(at._tree)
    assert DEFAULT_ANSWER in playground and "Your name" in playground  # the walk sees the page
    assert "sk-test-dummy" not in playground + settings_page


def test_a_blank_message_is_not_sent_and_says_why(app_env, openai_server):
    at = new_app().run()
    send(at, "   \n  ")
    assert turns(app_env) == [] and openai_server.chat_requests == []
    [warning] = at.warning
    assert warning.value == "Nothing was sent: the message is empty: type something to send."
    with pytest.raises(ValueError, match="must be text"):
        validated_prompt(None)
    assert validated_prompt("  keep my spaces ") == "  keep my spaces "


def test_new_chat_starts_an_empty_conversation_and_a_blank_title_is_refused(app_env):
    at = new_app().run()
    send(at, "first chat")
    at.text_input(key="playground_rename_title").input("   ").run()
    at.button(key="playground_rename_save").click().run()
    [warning] = at.warning
    assert warning.value.replace("\\", "") == (
        "Could not rename the conversation: a conversation title must not be empty"
    )
    assert [c.title for c in list_conversations(app_env, user_id="anonymous")] == ["first chat"]

    at.button(key="playground_new_chat").click().run()
    assert not at.chat_message and "c" not in at.query_params
    send(at, "second chat")
    titles = [c.title for c in list_conversations(app_env, user_id="anonymous")]
    assert sorted(titles) == ["first chat", "second chat"]
    assert [m.text[0].value for m in at.chat_message[::2]] == ["second chat"]


def test_the_prompt_version_is_stored_trimmed_and_a_blank_one_is_no_version(app_env):
    at = new_app().run()
    assert at.text_input(key="playground_prompt_version").max_chars == 200
    at.text_input(key="playground_prompt_version").input("  v3  ")
    send(at, "first")
    at.text_input(key="playground_prompt_version").input("   ")
    send(at, "second")
    assert [(t.prompt_text, t.status, t.prompt_version) for t in turns(app_env)] == [
        ("first", "ok", "v3"),
        ("second", "ok", None),
    ]
    assert not at.warning


def test_older_conversations_can_be_listed_beyond_the_first_thirty(app_env):
    ids = [
        start_conversation(app_env, user_id="anonymous", title=f"chat {number}").conversation_id
        for number in range(35)
    ]
    at = new_app().run()
    assert len(conversation_list(at).options) == 30
    at.button(key="playground_show_older").click().run()
    assert len(conversation_list(at).options) == 35
    assert "playground_show_older" not in {button.key for button in at.button}
    open_listed(at, ids[0])
    assert at.query_params["c"] == ids[0]


def test_a_shared_link_lets_others_read_and_rate_but_only_the_owner_continue_rename_or_delete(app_env):
    alice = new_app()
    alice.query_params["user"] = "Alice"
    alice.run()
    send(alice, "alice's question")
    thumbs(alice)[0].set_value(1).run()
    conversation_id = alice.query_params["c"]
    [turn] = turns(app_env)

    bob = new_app()
    bob.query_params["user"] = "Bob"
    bob.query_params["c"] = conversation_id
    bob.run()
    assert not bob.exception
    assert [m.text[0].value for m in bob.chat_message[::2]] == ["alice's question"]
    assert bob.chat_message[1].markdown[0].value == DEFAULT_ANSWER
    assert [i.value for i in bob.info if "belongs to Alice" in i.value]
    assert [i.value for i in bob.info if "an honour system, not a login" in i.value]
    assert not bob.chat_input
    assert "playground_rename_title" not in {w.key for w in bob.text_input}
    assert {"playground_rename_save", "playground_delete_confirm"}.isdisjoint(b.key for b in bob.button)
    assert [w.value for w in thumbs(bob)] == [None]  # Bob's own vote, not Alice's
    thumbs(bob)[0].set_value(0).run()
    assert sorted((v.user_id, v.value) for v in votes(app_env)) == [("Alice", 1), ("Bob", -1)]
    assert bob.text_area(key=f"playground_comment_{turn.prompt_id}").label == THUMBS_DOWN_QUESTION
    assert bob.query_params["c"] == conversation_id
    bob.button(key="playground_new_chat_instead").click().run()
    assert not bob.chat_message and "c" not in bob.query_params and bob.chat_input

    alice.run()
    assert not any("belongs to" in i.value for i in alice.info)
    alice.text_input(key="playground_rename_title").input("Shared chat").run()
    alice.button(key="playground_rename_save").click().run()
    send(alice, "a follow-up")
    [conversation] = list_conversations(app_env, user_id="Alice")
    assert conversation.title == "Shared chat"
    assert [t.conversation_id for t in turns(app_env)] == [conversation_id, conversation_id]
    alice.button(key="playground_delete_confirm").click().run()
    assert list_conversations(app_env, user_id="Alice") == [] and turns(app_env) == []


def test_the_owner_shown_to_others_is_plain_text(app_env):
    owner = "**Eve** [x](http://example.com)"
    conversation_id = start_conversation(app_env, user_id=owner, title="t").conversation_id
    add_turn(app_env, user_id=owner, conversation_id=conversation_id, prompt_text="q", response="A")
    at = new_app()
    at.query_params["c"] = conversation_id
    at.run()
    [notice] = [i.value for i in at.info if "belongs to" in i.value]
    assert escape_markdown(owner) in notice
    assert not at.chat_input and len(thumbs(at)) == 1


def test_a_malformed_stream_shows_the_text_received_as_cut_off_and_retry_asks_again(app_env, openai_server):
    openai_server.configure(chunks=6)
    at = new_app().run()
    openai_server.malformed_chunk(after_chunks=3)  # the role chunk, two pieces, then a broken event
    send(at, "tell me")

    [failed] = turns(app_env)
    assert (failed.status, failed.error_type) == ("error", "unknown_error")
    assert failed.response and DEFAULT_ANSWER.startswith(failed.response)
    answer = at.chat_message[1]
    assert answer.markdown[0].value == failed.response.strip()
    [shown] = [e.value for e in answer.error]
    assert "cut off" in shown and "not valid JSON" in shown
    assert not at.warning and not any("stopped early" in c.value for c in at.caption)

    at.button(key="playground_ask_again_button").click().run()
    assert not at.exception
    old, new = turns(app_env)
    assert old.prompt_id == failed.prompt_id and old.status == "error"  # the failed turn is kept
    assert (new.status, new.response, new.regenerated_from) == ("ok", DEFAULT_ANSWER, failed.prompt_id)
    assert new.prompt_text == "tell me" and new.conversation_id == failed.conversation_id
    assert at.button(key="playground_ask_again_button").label == "Regenerate"


def test_regenerate_adds_a_linked_answer_keeps_the_old_one_and_sends_it_no_more(app_env, openai_server):
    at = new_app().run()
    send(at, "first")
    at.button(key="playground_ask_again_button").click().run()
    assert not at.exception
    old, new = turns(app_env)
    assert new.regenerated_from == old.prompt_id and new.prompt_text == "first"
    assert [m["role"] for m in openai_server.chat_requests[-1].body["messages"]] == ["user"]
    assert "Asked again below; this answer is kept." in [c.value for c in at.caption]
    send(at, "second")
    sent = openai_server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]  # the replaced answer is not sent
    assert at.chat_input[0].disabled is False


def test_a_long_conversation_draws_its_newest_turns_and_loads_earlier_ones_on_demand(app_env, openai_server):
    conversation_id = start_conversation(app_env, user_id="anonymous", title="Long chat").conversation_id
    total = TURNS_PER_PAGE + 5
    for number in range(total):
        add_turn(
            app_env,
            user_id="anonymous",
            conversation_id=conversation_id,
            prompt_text=f"q{number}",
            response=f"a{number}",
            created_ms=1_800_000_000_000 + number,
        )
    at = new_app()
    at.query_params["c"] = conversation_id
    at.run()
    assert len(at.chat_message) == 2 * TURNS_PER_PAGE
    assert at.chat_message[0].text[0].value == "q5"
    at.button(key="playground_show_earlier").click().run()
    assert len(at.chat_message) == 2 * total and at.chat_message[0].text[0].value == "q0"
    assert "playground_show_earlier" not in {button.key for button in at.button}

    at.button(key="playground_new_chat").click().run()
    open_listed(at, conversation_id)  # reopened: the newest part again
    assert len(at.chat_message) == 2 * TURNS_PER_PAGE
    send(at, "and now?")
    sent = openai_server.chat_requests[-1].body["messages"]
    assert len(sent) == 2 * total + 1 and sent[0]["content"] == "q0", "the model gets the whole conversation"
