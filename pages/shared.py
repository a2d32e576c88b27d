"""What every page shares: the app's cached Bilan client, the access gate and the visitor's identity."""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from bilan_core import Bilan, BilanError, BilanSettings, load_settings
from bilan_core.app.identity import (
    OWNERSHIP_NOTE,
    identity_from_link,
    team_session_label,
    user_id_from_display_name,
)
from bilan_core.app.markdown_text import escape_markdown
from bilan_core.app.password_gate import PasswordThrottle, password_required
from bilan_core.app.review_view import REVIEW_PARAM
from bilan_core.app.secret_settings import overrides_from_named

USER_KEY = "identity_user_id"
TEAM_SESSION_KEY = "identity_team_session"
NAME_INPUT_KEY = "identity_name_input"
TEAM_INPUT_KEY = "identity_team_input"
IDENTITY_ERROR_KEY = "identity_error"
ACCESS_KEY = "access_granted"
ACCESS_ERROR_KEY = "access_wrong_password"
PASSWORD_INPUT_KEY = "access_password"
THROTTLE_KEY = "access_throttle"
USER_PARAM = "user"
TEAM_PARAM = "team"


NAME_HELP = f"Recorded as the user id of your chats and votes. {OWNERSHIP_NOTE}"

PAGES_DIR = Path(__file__).resolve().parent
REROUTED_KEY = "router_rerun_asked"

_router = threading.local()


def app_pages() -> list[st.Page]:
    """The app's pages, in menu order (the router's ``st.navigation`` list); a ``?review=`` link opens
    the Reviews page at the app's address."""
    review = bool(st.query_params.get(REVIEW_PARAM))
    return [
        st.Page(PAGES_DIR / "playground.py", title="Playground", icon=":material/chat:", default=not review),
        st.Page(PAGES_DIR / "compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page(PAGES_DIR / "batch.py", title="Batch", icon=":material/inventory_2:"),
        st.Page(PAGES_DIR / "prompts.py", title="Prompts", icon=":material/edit_note:"),
        st.Page(PAGES_DIR / "experiments.py", title="Experiments", icon=":material/science:"),
        st.Page(PAGES_DIR / "analytics.py", title="Analytics", icon=":material/monitoring:"),
        st.Page(PAGES_DIR / "review.py", title="Reviews", icon=":material/rate_review:", default=review),
        st.Page(PAGES_DIR / "settings.py", title="Settings", icon=":material/settings:"),
    ]


@contextmanager
def routed() -> Iterator[None]:
    """Mark this script run as going through ``app.py`` (the access gate and the shared sidebar)."""
    _router.active = True
    st.session_state.pop(REROUTED_KEY, None)
    try:
        yield
    finally:
        _router.active = False


def ensure_routed() -> None:
    """Send a page file that Streamlit ran on its own through ``app.py``; failing that, guard it here.

    Because this folder is named ``pages/``, Streamlit starts each process (and every AppTest run) in
    its legacy multipage mode, which runs ``pages/x.py`` without ``app.py`` — skipping the password —
    until some session calls ``st.navigation``, which (as its documentation says) turns that mode off
    for the whole process. So a page run on its own calls ``st.navigation`` and reruns once, through the
    router. If it is still not routed after that (a page file run as the main script, or a Streamlit
    that changed), the page shows the password form itself and stops. Every page calls this (or
    ``app_client()``) before drawing anything, and reads one-run triggers (a submitted chat message, a
    form submit) through callbacks: the rerun drops them.
    """
    if getattr(_router, "active", False) or not _page_file_running():
        return
    if not st.session_state.get(REROUTED_KEY):
        st.session_state[REROUTED_KEY] = True
        st.navigation(app_pages(), position="hidden")
        st.rerun()
    if not access_allowed():
        st.stop()


def _page_file_running() -> bool:
    # True while a page file's own top-level code runs. Widget callbacks and fragments run functions,
    # never a page's module code: they are left alone (a rerun would abort a callback's vote or rename),
    # and their widgets were drawn by a guarded run.
    frame = inspect.currentframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>" and Path(code.co_filename).resolve().parent == PAGES_DIR:
            return True
        frame = frame.f_back
    return False


def app_client() -> Bilan:
    """One Bilan client (database and OpenAI connections) for the whole running app; guards the page first."""
    ensure_routed()
    return _shared_client()


@st.cache_resource
def _shared_client() -> Bilan:
    return Bilan(app_settings())


def app_settings() -> BilanSettings:
    """Settings from Streamlit secrets (same names as the environment), then the environment and ``.env``."""
    return load_settings(**overrides_from_named(_secrets()))


def _secrets() -> dict[str, object]:
    if not st.secrets.load_if_toml_exists():
        return {}
    return st.secrets.to_dict()


def current_user() -> str:
    """The user id from the visitor's display name, or the configured default user."""
    return st.session_state.get(USER_KEY) or app_client().settings.user_id


def current_team_session() -> str | None:
    """The team-session label the visitor set, if any."""
    return st.session_state.get(TEAM_SESSION_KEY) or None


def visitor_client() -> Bilan:
    """The app client acting as this visitor (their user id and team session)."""
    return app_client().with_identity(user_id=current_user(), team_session=current_team_session())


def access_allowed() -> bool:
    """True when no password is set or this visitor already gave it; else show the password form."""
    settings = _shared_client().settings
    if not password_required(settings) or st.session_state.get(ACCESS_KEY):
        return True
    st.title("Bilan")
    with st.form("access_form"):
        st.text_input("Password", type="password", key=PASSWORD_INPUT_KEY)
        # A callback, not the button's return value: a submit is a one-run trigger a rerun would drop.
        st.form_submit_button("Enter", on_click=_password_submitted)
    wait = _throttle().wait_seconds()
    if wait > 0:
        st.error(f"Too many wrong passwords: wait {math.ceil(wait)} s before trying again.")
    elif st.session_state.pop(ACCESS_ERROR_KEY, False):
        st.error("Wrong password.")
    return False


def _throttle() -> PasswordThrottle:
    throttle: PasswordThrottle = st.session_state.setdefault(THROTTLE_KEY, PasswordThrottle())
    return throttle


def _password_submitted() -> None:
    attempt = st.session_state.get(PASSWORD_INPUT_KEY) or ""
    st.session_state[PASSWORD_INPUT_KEY] = ""  # the password is not kept in the session
    if _throttle().attempt(_shared_client().settings, attempt):
        st.session_state[ACCESS_KEY] = True
    else:
        st.session_state[ACCESS_ERROR_KEY] = True


def restore_identity() -> None:
    """On a new session, take the display name and team label from the URL (``?user=…&team=…``)."""
    if USER_KEY in st.session_state:
        return
    link = identity_from_link(
        st.query_params.get(USER_PARAM),
        st.query_params.get(TEAM_PARAM),
        default_user=app_client().settings.user_id,
    )
    st.session_state[USER_KEY] = link.user_id
    st.session_state[TEAM_SESSION_KEY] = link.team_session
    if link.errors:
        st.session_state[IDENTITY_ERROR_KEY] = list(link.errors)
    st.session_state[NAME_INPUT_KEY] = link.user_id or ""
    st.session_state[TEAM_INPUT_KEY] = link.team_session or ""


def _identity_changed(input_key: str, store: str, cleaner: object) -> None:
    try:
        st.session_state[store] = cleaner(st.session_state[input_key])  # type: ignore[operator]
    except ValueError as exc:
        st.session_state[IDENTITY_ERROR_KEY] = [str(exc)]


def keep_identity_in_url() -> None:
    """Keep ``?user=`` and ``?team=`` in the URL so a reload or shared link keeps the identity."""
    for param, store in ((USER_PARAM, USER_KEY), (TEAM_PARAM, TEAM_SESSION_KEY)):
        value = st.session_state.get(store)
        if value and st.query_params.get(param) != value:
            st.query_params[param] = value
        elif not value and param in st.query_params:
            del st.query_params[param]


def identity_sidebar() -> None:
    """The sidebar's identity inputs: display name (the user id of turns and votes) and team session."""
    with st.sidebar:
        st.text_input(
            "Your name",
            key=NAME_INPUT_KEY,
            placeholder=app_client().settings.user_id,
            help=NAME_HELP,
            on_change=_identity_changed,
            args=(NAME_INPUT_KEY, USER_KEY, user_id_from_display_name),
        )
        st.text_input(
            "Team session",
            key=TEAM_INPUT_KEY,
            placeholder="e.g. review-2024-06",
            help="A label stored with every answer and vote, to look at one feedback session later.",
            on_change=_identity_changed,
            args=(TEAM_INPUT_KEY, TEAM_SESSION_KEY, team_session_label),
        )
        for problem in st.session_state.pop(IDENTITY_ERROR_KEY, []):
            st.error(problem)  # our own wording: no user text
    keep_identity_in_url()


def offline_banner() -> None:
    """Say so whenever the offline demo model answers instead of a real one."""
    if app_client().settings.uses_demo_model:
        st.info(
            "Offline demo: answers come from the built-in `bilan-demo` model. "
            "Set OPENAI_API_KEY (and OPENAI_BASE_URL for another endpoint) to use a real model.",
            icon=":material/power_off:",
        )


def show_error(exc: BilanError | ValueError) -> None:
    """A clear error message, never a traceback; any user text in it shows as typed."""
    st.error(escape_markdown(str(exc)))
