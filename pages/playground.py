"""Playground: streaming chat through the tracked call, with 👍/👎, comments and saved conversations."""

from __future__ import annotations

import threading

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from bilan_core import Bilan, BilanError, NotFoundError, ProviderError, ToolStepLimitError
from bilan_core.app.feedback_prompts import comment_question, thumbs_from_vote, vote_words
from bilan_core.app.feedback_state import change_vote
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.playground import (
    TURNS_PER_PAGE,
    ChatEntry,
    activity_time,
    capture_caption,
    chat_messages,
    chat_window,
    figures_line,
    short_title,
    superseded,
    validated_prompt,
    withheld_text,
)
from bilan_core.chat.routing import describe_route, model_choice_label
from bilan_core.chat.tool_loop import describe_tool_call
from bilan_core.clock import now_ms
from bilan_core.store.conversation_summary import ConversationSummary
from bilan_core.store.conversations import Owned, can_edit_conversation
from pages.answer_flow import ask_again_button, pending_ask_again, show_answer, thinking
from pages.dataset_picker import add_to_dataset_popover
from pages.model_choice import TYPE_ANY_MODEL, playground_choices
from pages.prompt_picker import Boxes, loaded_prompt_options, stored_prompt_panel
from pages.shared import app_client, current_user, offline_banner, show_error, visitor_client

CONVERSATION_KEY = "playground_conversation_id"
COMMENT_FOR_KEY = "playground_comment_for"
NOTICE_KEY = "playground_notice"
STOP_KEY = "playground_stop"
MODEL_KEY = "playground_model"
SYSTEM_KEY = "playground_system_prompt"
TEMPERATURE_KEY = "playground_temperature"
MAX_TOKENS_KEY = "playground_max_tokens"
VERSION_KEY = "playground_prompt_version"
TOOLS_KEY = "playground_tools"
RENAME_KEY = "playground_rename_title"
PROMPT_INPUT_KEY = "playground_prompt_input"
PENDING_PROMPT_KEY = "playground_pending_prompt"
ANSWERING_KEY = "playground_answering"
STOPPED_SAVE_WAIT_S = 10.0
CONVERSATION_PARAM = "c"
LIST_LIMIT_KEY = "playground_conversations_shown"
TURNS_SHOWN_KEY = "playground_turns_shown"
CONVERSATIONS_PER_PAGE = 30
BOXES = Boxes(SYSTEM_KEY, MODEL_KEY, TEMPERATURE_KEY, MAX_TOKENS_KEY, TOOLS_KEY, VERSION_KEY)
CAPTURE_LEVEL_KEY = "playground_capture_level"
DRAFTS_KEY = "playground_comment_drafts"
DELETED_KEY = "playground_deleted_title"
LIST_KEY = "playground_conversation_list"
LIST_HEIGHT_PX = 520
LIST_ROWS_UNSCROLLED = 12
DELETE_LABEL = ":red[**Yes, delete it**]"  # red: the one destructive button (the theme's primary is blue)
DELETE_WARNING = (
    "Delete this conversation with all its answers, your votes and comments on them, **and your teammates' "
    "votes and comments on its answers**? This cannot be undone."
)
DRAFT_LABEL = "Your comment (kept here, and saved with your vote when you choose thumbs up or down)"


def note(message: str) -> None:
    st.session_state[NOTICE_KEY] = message


def prompt_submitted() -> None:
    # Kept in session_state, not read from chat_input's return value: a submitted prompt is a one-run
    # trigger that a rerun (e.g. ensure_routed's) would drop before the script reaches it.
    st.session_state[PENDING_PROMPT_KEY] = st.session_state.get(PROMPT_INPUT_KEY)


def open_conversation(conversation_id: str | None) -> None:
    st.session_state[CONVERSATION_KEY] = conversation_id
    st.session_state.pop(COMMENT_FOR_KEY, None)
    st.session_state.pop(TURNS_SHOWN_KEY, None)
    if conversation_id:
        st.query_params[CONVERSATION_PARAM] = conversation_id
    elif CONVERSATION_PARAM in st.query_params:
        del st.query_params[CONVERSATION_PARAM]


def sync_conversation_with_url() -> str | None:
    """The open conversation: a ``?c=`` link wins, else the one in this session; the URL then shows it."""
    linked = st.query_params.get(CONVERSATION_PARAM)
    if linked and linked != st.session_state.get(CONVERSATION_KEY):
        try:
            visitor_client().get_conversation(linked)
        except NotFoundError:
            note(f"No conversation has the id in this link ({linked}). Starting a new chat.")
            linked = None
        open_conversation(linked)
    current = st.session_state.get(CONVERSATION_KEY)
    if current and st.query_params.get(CONVERSATION_PARAM) != current:
        st.query_params[CONVERSATION_PARAM] = current
    return current


def stored_conversation(conversation_id: str | None) -> Owned | None:
    """The open conversation as stored, which says who owns it; None for a chat not stored (yet)."""
    if conversation_id is None:
        return None
    try:
        return visitor_client().get_conversation(conversation_id)
    except NotFoundError:
        return None


def read_only_notice(owner: str) -> None:
    st.info(
        f"This conversation belongs to {escape_markdown(owner)}. You can read it and rate its answers; "
        "only its owner can continue, rename or delete it. Owners are told apart by the name typed in "
        "the sidebar: an honour system, not a login.",
        icon=":material/visibility:",
    )
    st.button(
        "New chat",
        key="playground_new_chat_instead",
        icon=":material/add:",
        on_click=open_conversation,
        args=(None,),
    )


def renamed(conversation_id: str) -> None:
    try:
        visitor_client().rename_conversation(conversation_id, st.session_state[RENAME_KEY])
    except (BilanError, ValueError) as exc:
        note(f"Could not rename the conversation: {exc}")


def deleted(conversation_id: str, title: str) -> None:
    try:
        visitor_client().delete_conversation(conversation_id)
    except (BilanError, ValueError) as exc:
        note(f"Could not delete the conversation: {exc}")
        return
    open_conversation(None)
    st.session_state[DELETED_KEY] = title


def conversations_sidebar(current: str | None) -> None:
    """New chat and this visitor's conversations, newest first, each with when it was last active."""
    with st.sidebar:
        st.button(
            "New chat",
            key="playground_new_chat",
            icon=":material/add:",
            on_click=open_conversation,
            args=(None,),
            width="stretch",
        )
        shown = st.session_state.get(LIST_LIMIT_KEY, CONVERSATIONS_PER_PAGE)
        past = visitor_client().list_conversations(limit=shown + 1)
        if not past:
            st.caption("No conversation yet.")
        listed = past[:shown]
        labels = conversation_lines(listed)
        ids = [conversation.conversation_id for conversation in listed]
        # The list shows the open conversation (none while a new chat is being started).
        st.session_state[LIST_KEY] = current if current in labels else None
        if listed:
            st.caption("Your conversations, newest first (times in UTC)")
            with st.container(height=LIST_HEIGHT_PX if len(listed) > LIST_ROWS_UNSCROLLED else "content"):
                st.radio(
                    "Your conversations",
                    ids,
                    format_func=labels.__getitem__,
                    key=LIST_KEY,
                    label_visibility="collapsed",
                    on_change=list_choice_opened,
                )
        if len(past) > shown:
            st.button("Show older conversations", key="playground_show_older", on_click=show_older)


def conversation_lines(conversations: list[ConversationSummary]) -> dict[str, str]:
    """Each listed conversation's two lines: its title, then (small, grey) when it was last active."""
    now = now_ms()
    return {
        conversation.conversation_id: (
            f"{escape_markdown(short_title(conversation.title))}  \n"
            f":small[:gray[{escape_markdown(activity_time(conversation.updated_ms, now))}]]"
        )
        for conversation in conversations
    }


def list_choice_opened() -> None:
    open_conversation(st.session_state.get(LIST_KEY))


def show_older() -> None:
    st.session_state[LIST_LIMIT_KEY] = (
        st.session_state.get(LIST_LIMIT_KEY, CONVERSATIONS_PER_PAGE) + CONVERSATIONS_PER_PAGE
    )


def chat_toolbar(conversation: Owned | None) -> None:
    """The model, its settings and (for a stored chat) Rename / Delete in one row above the chat, out of
    the conversation list's way."""
    model_col, settings_col, rename_col, delete_col = st.columns(
        [4, 2, 1.3, 1.3], vertical_alignment="bottom"
    )
    model_col.selectbox(
        "Model",
        playground_choices(),
        format_func=model_choice_label,
        accept_new_options=True,
        help=TYPE_ANY_MODEL,
        key=MODEL_KEY,
        persist_state="session",
    )
    with settings_col.popover("Model settings", icon=":material/tune:", width="stretch"):
        model_settings()
    if conversation is not None:
        conversation_actions(conversation, rename_col, delete_col)
    st.caption(capture_caption(capture_level()))


def model_settings() -> None:
    """Tools, system prompt, temperature, max tokens, the prompt-version label and the stored prompts."""
    st.toggle(
        "Tools",
        key=TOOLS_KEY,
        help="Let the model call the built-in tools (get_weather, calculator); each call is shown.",
        persist_state="session",
    )
    st.text_area(
        "System prompt",
        key=SYSTEM_KEY,
        placeholder="You are a helpful assistant.",
        persist_state="session",
    )
    st.slider("Temperature", 0.0, 2.0, value=0.7, step=0.1, key=TEMPERATURE_KEY, persist_state="session")
    st.number_input(
        "Max tokens",
        min_value=1,
        max_value=128_000,
        value=1024,
        step=64,
        key=MAX_TOKENS_KEY,
        persist_state="session",
    )
    st.text_input(
        "Prompt version",
        key=VERSION_KEY,
        max_chars=200,
        placeholder="e.g. v3",
        help="A label stored with each answer, to compare prompt versions in Analytics.",
        persist_state="session",
    )
    stored_prompt_panel(visitor_client(), BOXES)


def capture_level() -> str:
    """The level in force, asked once per browser session (in server mode it costs a request)."""
    if CAPTURE_LEVEL_KEY not in st.session_state:
        try:
            st.session_state[CAPTURE_LEVEL_KEY] = visitor_client().capture_level()
        except BilanError:
            return app_client().capture.level  # the server did not answer: at least this client's level
    return str(st.session_state[CAPTURE_LEVEL_KEY])


def conversation_actions(conversation: Owned, rename_col: DeltaGenerator, delete_col: DeltaGenerator) -> None:
    conversation_id = conversation.conversation_id
    with rename_col.popover("Rename", icon=":material/edit:", width="stretch"):
        st.text_input("New title", key=RENAME_KEY, max_chars=200)
        st.button("Save title", key="playground_rename_save", on_click=renamed, args=(conversation_id,))
    with delete_col.popover("Delete", icon=":material/delete:", width="stretch"):
        st.write(DELETE_WARNING)
        st.button(
            DELETE_LABEL,
            key="playground_delete_confirm",
            icon=":material/delete_forever:",
            on_click=deleted,
            args=(conversation_id, conversation.title or "Untitled"),
        )


def deleted_notice() -> None:
    """Confirm a deletion once, on the run after it."""
    title = st.session_state.pop(DELETED_KEY, None)
    if title is not None:
        st.success(
            f"Deleted the conversation “{escape_markdown(title)}” with its answers and everyone's votes "
            "on them.",
            icon=":material/delete:",
        )


def comment_key(prompt_id: str) -> str:
    return f"playground_comment_{prompt_id}"


def drafts() -> dict[str, str]:
    """Comments typed but not stored yet, by prompt id: kept across reruns while their box is closed."""
    kept: dict[str, str] = st.session_state.setdefault(DRAFTS_KEY, {})
    return kept


def typed_comment(prompt_id: str) -> str | None:
    """What the comment box holds now (its widget, else the kept draft)."""
    typed = st.session_state.get(comment_key(prompt_id))
    return typed if typed is not None else drafts().get(prompt_id)


def keep_draft(prompt_id: str, text: str | None) -> None:
    if text:
        drafts()[prompt_id] = text
    else:
        drafts().pop(prompt_id, None)


def thumbs_changed(prompt_id: str, widget_key: str, stored_comment: str | None) -> None:
    try:
        change = change_vote(
            visitor_client(),
            prompt_id,
            st.session_state[widget_key],
            stored_comment=stored_comment,
            draft=typed_comment(prompt_id),
        )
    except (BilanError, ValueError) as exc:
        note(f"Your vote was not saved: {exc}")
        return
    keep_draft(prompt_id, change.draft)
    st.session_state.pop(comment_key(prompt_id), None)  # the box is drawn again from the kept text
    if change.vote is None and not change.draft:
        st.session_state.pop(COMMENT_FOR_KEY, None)
    else:
        st.session_state[COMMENT_FOR_KEY] = prompt_id


def comment_saved(prompt_id: str, value: int) -> None:
    try:
        visitor_client().vote(prompt_id, value, typed_comment(prompt_id) or None)
    except (BilanError, ValueError) as exc:
        note(f"Your comment was not saved: {exc}")
        return
    keep_draft(prompt_id, None)
    st.session_state.pop(COMMENT_FOR_KEY, None)


def comment_opened(prompt_id: str, stored_comment: str | None) -> None:
    keep_draft(prompt_id, typed_comment(prompt_id) or stored_comment)
    st.session_state[COMMENT_FOR_KEY] = prompt_id


def comment_closed(prompt_id: str) -> None:
    keep_draft(prompt_id, None)
    st.session_state.pop(COMMENT_FOR_KEY, None)


def comment_typed(prompt_id: str) -> None:
    keep_draft(prompt_id, st.session_state.get(comment_key(prompt_id)))


def ask_comment(entry: ChatEntry) -> None:
    """The comment box: after a vote, its question with Save; before one, a draft saved with the vote."""
    key = comment_key(entry.prompt_id)
    if key not in st.session_state:
        st.session_state[key] = drafts().get(entry.prompt_id, entry.comment or "")
    label = comment_question(entry.vote) if entry.vote is not None else DRAFT_LABEL
    st.text_area(label, key=key, max_chars=10_000, on_change=comment_typed, args=(entry.prompt_id,))
    save_col, close_col, _ = st.columns([1, 1, 4])
    if entry.vote is not None:
        save_col.button(
            "Save comment",
            key=f"playground_comment_save_{entry.prompt_id}",
            on_click=comment_saved,
            args=(entry.prompt_id, entry.vote),
        )
    close_col.button(
        "Discard" if entry.vote is None else "Skip",
        key=f"playground_comment_close_{entry.prompt_id}",
        on_click=comment_closed,
        args=(entry.prompt_id,),
    )


def feedback_row(entry: ChatEntry) -> None:
    widget_key = f"playground_thumbs_{entry.prompt_id}"
    # The database is the truth: the widget shows the stored vote on every rerun, reload and page switch.
    st.session_state[widget_key] = thumbs_from_vote(entry.vote)
    thumbs_col, words_col = st.columns([1, 8], vertical_alignment="center")
    with thumbs_col:
        st.feedback(
            "thumbs",
            key=widget_key,
            on_change=thumbs_changed,
            args=(entry.prompt_id, widget_key, entry.comment),
        )
    words_col.caption(vote_words(entry.vote))
    if st.session_state.get(COMMENT_FOR_KEY) == entry.prompt_id:
        ask_comment(entry)
    elif entry.comment:
        st.text(f"Your comment: {entry.comment}")
        st.button(
            "Edit comment",
            key=f"playground_comment_edit_{entry.prompt_id}",
            icon=":material/edit:",
            type="tertiary",
            on_click=comment_opened,
            args=(entry.prompt_id, entry.comment),
        )
    else:
        st.button(
            "Add a comment",
            key=f"playground_comment_add_{entry.prompt_id}",
            icon=":material/chat_bubble:",
            type="tertiary",
            on_click=comment_opened,
            args=(entry.prompt_id, None),
        )


def show_entry(entry: ChatEntry) -> None:
    prompt_withheld = withheld_text("prompt", entry.capture)
    answer_withheld = withheld_text("answer", entry.capture)
    with st.chat_message("user"):
        if entry.prompt_text is None and prompt_withheld:
            st.caption(prompt_withheld)
        else:
            st.text(entry.prompt_text or "")
    with st.chat_message("assistant"):
        if entry.answered and entry.response is None and answer_withheld:
            st.caption(answer_withheld)
        else:
            show_answer(entry)
        for call in entry.tool_calls or []:
            st.text(describe_tool_call(call))
        if entry.route:
            st.caption(escape_markdown(describe_route(entry.route)))
        if entry.answered:
            st.caption(escape_markdown(figures_line(entry)))
            feedback_row(entry)


def send(
    prompt: str, history: list[ChatEntry], conversation_id: str | None, regenerated_from: str | None = None
) -> None:
    client = visitor_client()
    if conversation_id is None:
        conversation_id = client.start_conversation(title=prompt)
        open_conversation(conversation_id)
    with st.chat_message("user"):
        st.text(prompt)
    answering = threading.Event()
    st.session_state[ANSWERING_KEY] = answering
    try:
        with st.chat_message("assistant"):
            # Clicking Stop reruns the script, interrupting write_stream; `finally` keeps the partial answer.
            st.button(
                "Stop",
                key=STOP_KEY,
                icon=":material/stop_circle:",
                help="Stop the answer here; the part received so far is kept.",
            )
            stream_answer(client, prompt, history, conversation_id, regenerated_from)
    finally:
        answering.set()
    st.rerun()


def wait_for_stopped_answer() -> None:
    """Let a stopped answer be saved before the chat is read.

    After Stop, Streamlit starts the new run on another thread while the stopped run is still
    unwinding; reading at once would miss the partial answer it is about to save.
    """
    answering = st.session_state.get(ANSWERING_KEY)
    if answering is not None and not answering.wait(STOPPED_SAVE_WAIT_S):
        note("The stopped answer is still being saved; it will show on the next refresh.")


def stream_answer(
    client: Bilan,
    prompt: str,
    history: list[ChatEntry],
    conversation_id: str,
    regenerated_from: str | None = None,
) -> None:
    response = None
    start = client.stream_with_tools if st.session_state.get(TOOLS_KEY) else client.create_streaming_chat
    stored = loaded_prompt_options(BOXES)  # the loaded version is sent as prompt= and recorded exactly
    system_prompt = None if stored else st.session_state.get(SYSTEM_KEY)
    try:
        response, text = thinking(
            lambda: start(
                chat_messages(history, system_prompt=system_prompt, prompt=prompt),
                model=st.session_state.get(MODEL_KEY),
                temperature=st.session_state.get(TEMPERATURE_KEY),
                max_tokens=st.session_state.get(MAX_TOKENS_KEY),
                conversation_id=conversation_id,
                variant=(st.session_state.get(VERSION_KEY) or "").strip() or None,
                **stored,
                regenerated_from=regenerated_from,
            )
        )
        st.write_stream(text)
    except (ProviderError, ToolStepLimitError):
        pass  # the failed turn is recorded with the provider's reason; the rerun shows it in the chat
    except (BilanError, ValueError) as exc:
        note(f"The message was not sent: {exc}")
    finally:
        if response is not None:
            response.close()


def show_earlier() -> None:
    st.session_state[TURNS_SHOWN_KEY] = st.session_state.get(TURNS_SHOWN_KEY, TURNS_PER_PAGE) + TURNS_PER_PAGE


def read_chat() -> tuple[str | None, list[ChatEntry], bool]:
    """The open conversation, its newest turns and whether it has earlier ones, with the sidebar's list."""
    conversation_id = sync_conversation_with_url()
    conversations_sidebar(conversation_id)
    wait_for_stopped_answer()
    shown = st.session_state.get(TURNS_SHOWN_KEY, TURNS_PER_PAGE)
    read = visitor_client().load_chat(conversation_id, recent=shown + 1) if conversation_id else []
    return conversation_id, *chat_window(read, shown)


app_client()
st.title("Playground")
offline_banner()
try:
    conversation_id, entries, earlier = read_chat()
    conversation = stored_conversation(conversation_id)
except BilanError as exc:  # server mode: the Bilan server did not answer or refused the read
    show_error(exc)
    st.stop()
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.warning(escape_markdown(notice))
deleted_notice()

editable = can_edit_conversation(conversation, current_user())
if editable:
    chat_toolbar(conversation)
elif conversation is not None:
    read_only_notice(conversation.user_id)
if entries:
    prompt_ids = [entry.prompt_id for entry in entries]
    add_to_dataset_popover(prompt_ids, key="playground", label="Add this chat's prompts to a dataset")
if earlier:
    st.button(
        "Show earlier messages",
        key="playground_show_earlier",
        icon=":material/expand_less:",
        on_click=show_earlier,
    )
replaced = superseded(entries)
for entry in entries:
    show_entry(entry)
    if entry.prompt_id in replaced:
        st.caption("Asked again below; this answer is kept.")
if not editable:
    st.stop()  # anyone with the link may read and rate; only the owner may continue the chat
if not entries:
    st.caption(
        "Ask anything below. Rate each answer with thumbs up (good) or thumbs down (bad) — that is what "
        "Bilan is for."
    )

submitted = st.session_state.pop(PENDING_PROMPT_KEY, None)
asked_again = pending_ask_again(entries)
prompt = None
if submitted is not None:
    try:
        prompt = validated_prompt(submitted)
    except ValueError as exc:
        st.warning(f"Nothing was sent: {exc}.")  # our own fixed wording, no user text
answering_now = prompt is not None or asked_again is not None
if not answering_now:
    ask_again_button(entries)
# Disabled while an answer streams: a message sent then would silently stop it.
st.chat_input("Ask something", key=PROMPT_INPUT_KEY, on_submit=prompt_submitted, disabled=answering_now)
history = entries
if earlier and answering_now and conversation_id:  # the model is sent the whole conversation
    history = visitor_client().load_chat(conversation_id)
if asked_again is not None:
    again, before = asked_again
    before = history[:-1] if earlier else before
    send(again.prompt_text or "", before, conversation_id, regenerated_from=again.prompt_id)
elif prompt is not None:
    send(prompt, history, conversation_id)
