"""The whole app in AppTest: every page renders, the access gate, identity, Settings."""

from __future__ import annotations

import time

import pytest
from streamlit.proto.TextInput_pb2 import TextInput
from streamlit.testing.v1 import AppTest

from bilan_core.store.conversations import start_conversation
from bilan_core.store.engine import get_engine
from bilan_core.store.votes import cast_vote
from pages.shared import REROUTED_KEY
from tests.app_support import APP_PATH, PAGES, clear_app_caches, new_app
from tests.helpers import add_turn


@pytest.fixture
def app_env(sqlite_url, monkeypatch):
    """The app on a fresh SQLite file, with a fresh cached client."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    clear_app_caches()
    yield sqlite_url
    clear_app_caches()


def seed(url: str) -> str:
    engine = get_engine(url)
    conversation_id = start_conversation(engine, user_id="anonymous", title="Seeded chat").conversation_id
    first = add_turn(
        engine,
        user_id="anonymous",
        conversation_id=conversation_id,
        prompt_text="hello?",
        response="Hi there.",
    )
    add_turn(
        engine, user_id="anonymous", conversation_id=conversation_id, prompt_text="and?", response="More."
    )
    cast_vote(engine, prompt_id=first, user_id="anonymous", value=1, comment="friendly")
    return conversation_id


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("with_data", [False, True], ids=["empty", "data"])
def test_every_page_renders_without_exception(app_env, page, with_data):
    if with_data:
        seed(app_env)
    at = new_app(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title


def test_playground_is_the_default_page_with_offline_banner(app_env):
    at = new_app().run()
    assert at.title[0].value == "Playground"
    assert any("Offline demo" in info.value for info in at.info)
    assert at.chat_input


def test_password_gate_blocks_every_page_until_the_password_is_given(app_env, monkeypatch):
    monkeypatch.setenv("BILAN_APP_PASSWORD", "open-sesame")
    for page in PAGES:
        # Each AppTest run starts like a fresh server process: Streamlit's legacy pages/ mode runs the
        # page file directly, so a page that draws before routing (app_client() or ensure_routed())
        # would show itself here without the password, as it would to a first visitor in production.
        at = new_app(page).run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Bilan"], f"{page} was shown without the password"
        assert at.text_input(key="access_password").proto.type == TextInput.PASSWORD
        assert not at.chat_input and not at.dataframe and not at.info and not at.get("vega_lite_chart")
    at = new_app().run()
    # The password box is in a form: what is typed is sent with the submit (no run in between).
    at.text_input(key="access_password").input("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert at.title[0].value == "Bilan"
    at.text_input(key="access_password").input("open-sesame")
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Playground"


def test_wrong_passwords_lock_the_form_for_a_while_after_five(app_env, monkeypatch):
    monkeypatch.setenv("BILAN_APP_PASSWORD", "open-sesame")
    at = new_app().run()
    for _ in range(5):
        at.text_input(key="access_password").input("wrong")
        at.button[0].click().run()
    assert [e.value for e in at.error] == ["Too many wrong passwords: wait 1 s before trying again."]
    at.text_input(key="access_password").input("open-sesame")
    at.button[0].click().run()
    assert at.title[0].value == "Bilan"  # refused unchecked while locked
    time.sleep(1.05)
    at.text_input(key="access_password").input("open-sesame")
    at.button[0].click().run()
    assert at.title[0].value == "Playground"
    at.switch_page("pages/settings.py").run()
    assert at.title[0].value == "Settings"


def drawn(at: AppTest) -> list[str]:
    """The type of every element the run drew, in order, containers left out."""
    found: list[str] = []
    stack = [at._tree]
    while stack:
        node = stack.pop(0)
        children = getattr(node, "children", None) or {}
        for child in children.values() if isinstance(children, dict) else children:
            if child.type not in {"main", "sidebar", "event", "form"}:
                found.append(child.type)
            stack.append(child)
    return found


@pytest.mark.parametrize("page", PAGES)
def test_a_page_file_run_on_its_own_shows_nothing_but_the_password_form(app_env, monkeypatch, page):
    # No router at all (the page file is the main script): the page guards itself through public calls.
    monkeypatch.setenv("BILAN_APP_PASSWORD", "open-sesame")
    at = AppTest.from_file(str(APP_PATH.parent / page), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert drawn(at) == ["title", "text_input", "button"], f"{page} drew more than the password form"
    assert [t.value for t in at.title] == ["Bilan"]
    assert at.text_input(key="access_password").proto.type == TextInput.PASSWORD


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_on_a_fresh_server_runs_through_the_router(app_env, page):
    # Each AppTest run starts in Streamlit's legacy pages/ mode, which runs the page file without app.py.
    # ensure_routed relies on st.navigation turning that mode off (documented on st.navigation): if a
    # Streamlit upgrade breaks that, the page draws without the router's sidebar and this fails.
    at = new_app(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_input(key="identity_name_input"), f"{page} ran without app.py's sidebar"
    assert REROUTED_KEY not in at.session_state
    at.run()  # a second run (a fresh process again, for AppTest) is routed too
    assert at.text_input(key="identity_name_input"), f"{page} ran without app.py's sidebar on a rerun"


def test_settings_page_masks_secrets_and_shows_schema_version(app_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-should-never-show")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("BILAN_APP_PASSWORD", "gate")
    at = new_app("pages/settings.py")
    at.session_state["access_granted"] = True
    at.run()
    assert not at.exception
    tables = [frame.value for frame in at.dataframe]
    text = " ".join(frame.to_string() for frame in tables)
    assert "sk-test-should-never-show" not in text
    assert "gate" not in text.replace("gate)", "")  # the password never appears
    assert "set (hidden)" in text
    assert "127.0.0.1:9" in text
    from bilan_core.store.engine import head_revision

    assert head_revision() in text


def test_settings_explain_telemetry_show_the_offered_models_and_the_schema_state(
    app_env, openai_server, monkeypatch
):
    openai_server.configure(models=["gpt-4o", "text-embedding-3-small"])
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.setenv("BILAN_DEFAULT_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("BILAN_TELEMETRY", "false")
    at = new_app("pages/settings.py").run()
    assert not at.exception
    summary, database, you, every = (frame.value for frame in at.dataframe)
    assert all(name.strip() for frame in (summary, database, you, every) for name in frame.columns)
    facts = dict(zip(summary["Setting"], summary["Value"], strict=True))
    assert facts["Models offered"] == "gpt-4o-mini, gpt-4o, Auto (picked by trust score)"  # the picker's list
    assert facts["Telemetry"].startswith("off (BILAN_TELEMETRY is off)")
    from bilan_core.store.engine import head_revision

    assert database["Value"].tolist() == [f"{head_revision()} (up to date)"]
    every_setting = dict(zip(every["Environment variable"], every["Value"], strict=True))
    assert every_setting["BILAN_TELEMETRY"] == "off"


def test_settings_say_telemetry_is_on_but_sends_nothing_without_an_endpoint(app_env, monkeypatch):
    monkeypatch.setenv("BILAN_TELEMETRY", "true")
    at = new_app("pages/settings.py").run()
    summary = at.dataframe[0].value
    telemetry = dict(zip(summary["Setting"], summary["Value"], strict=True))["Telemetry"]
    assert "no BILAN_TELEMETRY_ENDPOINT is set, so nothing is sent" in telemetry
    every = at.dataframe[3].value
    assert dict(zip(every["Environment variable"], every["Value"], strict=True))["BILAN_TELEMETRY"] == "on"


def test_display_name_becomes_the_user_id_and_is_kept_in_the_url(app_env):
    at = new_app().run()
    at.text_input(key="identity_name_input").input("  Ada  Lovelace ").run()
    at.text_input(key="identity_team_input").input("June review").run()
    assert not at.exception
    assert at.session_state["identity_user_id"] == "Ada Lovelace"
    assert at.session_state["identity_team_session"] == "June review"
    assert at.query_params["user"] == "Ada Lovelace"
    assert at.query_params["team"] == "June review"


def test_identity_is_restored_from_the_url(app_env):
    at = new_app()
    at.query_params["user"] = "Grace"
    at.query_params["team"] = "sprint-9"
    at.run()
    assert at.session_state["identity_user_id"] == "Grace"
    assert at.text_input(key="identity_name_input").value == "Grace"
    assert at.text_input(key="identity_team_input").value == "sprint-9"


def test_a_bad_display_name_is_refused_with_a_message(app_env):
    at = new_app().run()
    at.text_input(key="identity_name_input").input("x" * 300).run()
    assert not at.exception
    assert any("display name" in e.value for e in at.error)
    assert at.session_state["identity_user_id"] is None


def test_a_bad_identity_in_the_link_is_refused_with_a_message(app_env):
    at = new_app()
    at.query_params["user"] = "x" * 300
    at.query_params["team"] = "sprint-9"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The link's ?user= was not used: the display name is 300 characters; the limit is 200; until you "
        "type your name in the sidebar, your chats and votes are recorded as 'anonymous'."
    ]
    assert at.session_state["identity_user_id"] is None
    assert at.session_state["identity_team_session"] == "sprint-9"
    assert "user" not in at.query_params


def test_a_link_with_two_bad_parts_shows_both_errors_and_keeps_nothing_invalid(app_env):
    at = new_app()
    at.query_params["user"] = "Ada\nLovelace"
    at.query_params["team"] = "t" * 201
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert errors[0].startswith("The link's ?user= was not used: the display name must not contain control")
    assert errors[1].startswith("The link's ?team= was not used: the team-session label is 201 characters")
    assert (at.session_state["identity_user_id"], at.session_state["identity_team_session"]) == (None, None)


def test_a_bad_team_in_the_link_keeps_the_valid_name(app_env):
    at = new_app()
    at.query_params["user"] = "Grace"
    at.query_params["team"] = "t" * 201
    at.run()
    assert [e.value[:30] for e in at.error] == ["The link's ?team= was not used"]
    assert at.session_state["identity_user_id"] == "Grace"
    assert at.text_input(key="identity_name_input").value == "Grace"
    assert at.query_params["user"] == "Grace" and "team" not in at.query_params


def test_the_name_field_says_ownership_is_an_honour_system(app_env):
    at = new_app().run()
    assert "honour system" in at.text_input(key="identity_name_input").help
