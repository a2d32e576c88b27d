"""Settings: the effective configuration with secrets masked, and the store's schema version."""

import pandas as pd
import streamlit as st

from bilan_core import BilanError
from bilan_core.app.config_view import ConfigRow, schema_state, setting_rows, summary_rows
from bilan_core.app.identity import OWNERSHIP_NOTE
from bilan_core.chat.routing import model_choice_label
from pages.model_choice import playground_choices
from pages.shared import app_client, current_team_session, current_user

client = app_client()
settings = client.settings

st.title("Settings")
st.caption("Read-only: from the environment, `.env` and `.streamlit/secrets.toml`. Secrets are never shown.")


def rows_table(rows: list[ConfigRow], first: str = "Setting") -> pd.DataFrame:
    return pd.DataFrame({first: [row.label for row in rows], "Value": [row.value for row in rows]})


def facts_table(facts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"Fact": list(facts), "Value": list(facts.values())})


st.subheader("Effective configuration")
st.dataframe(
    rows_table(summary_rows(settings, [model_choice_label(name) for name in playground_choices()])),
    hide_index=True,
    width="stretch",
)
st.caption(
    "Models offered: the Playground's model picker (the endpoint's chat models, the default first; "
    "BILAN_MODELS only when the endpoint does not list them; Auto routes by trust score)."
)

st.subheader("Database")
try:
    schema = schema_state(client.schema_status())
except BilanError as exc:
    schema = f"unknown: {exc}"
st.dataframe(facts_table({"Schema version": schema}), hide_index=True, width="stretch")

st.subheader("You")
st.dataframe(
    facts_table({"User id": current_user(), "Team session": current_team_session() or "none"}),
    hide_index=True,
    width="stretch",
)
st.caption(OWNERSHIP_NOTE)

with st.expander("Every setting"):
    st.dataframe(rows_table(setting_rows(settings), "Environment variable"), hide_index=True, width="stretch")
