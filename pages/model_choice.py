"""The model picker every page shares: the endpoint's models (or the demo model), the default first."""

from __future__ import annotations

import streamlit as st

from bilan_core import BilanError
from bilan_core.chat.routing import AUTO_MODEL, resolve_model
from pages.shared import app_client

TYPE_ANY_MODEL = "The endpoint's chat models; type any other model id to use it."


@st.cache_data(ttl=300, show_spinner=False)
def model_options() -> list[str]:
    """The endpoint's chat models (or the configured list), with the default model first."""
    client = app_client()
    default = resolve_model(None, client.settings).model
    try:
        names = list(client.list_models())
    except (BilanError, ValueError):
        names = []
    return [default, *sorted(name for name in names if name != default)]


def playground_choices() -> list[str]:
    """What the Playground's model picker offers: the endpoint's chat models, then ``auto`` (routing)."""
    return [*model_options(), AUTO_MODEL]
