"""What every page shares: the app's cached Bilan client and the visitor's identity."""

from __future__ import annotations

import streamlit as st

from bilan_core import Bilan, BilanSettings, load_settings

USER_KEY = "identity_user_id"
TEAM_SESSION_KEY = "identity_team_session"


@st.cache_resource
def app_client() -> Bilan:
    """One Bilan client (engine, OpenAI connections) for the whole running app."""
    return Bilan(app_settings())


def app_settings() -> BilanSettings:
    """Settings from the environment, ``.env`` and Streamlit secrets."""
    return load_settings()


def current_user() -> str:
    """The display name the visitor chose, or the configured default user."""
    return st.session_state.get(USER_KEY) or app_client().settings.user_id


def current_team_session() -> str | None:
    """The team-session label the visitor set, if any."""
    return st.session_state.get(TEAM_SESSION_KEY) or None


def visitor_client() -> Bilan:
    """The app client acting as this visitor (their user id and team session)."""
    return app_client().with_identity(user_id=current_user(), team_session=current_team_session())
