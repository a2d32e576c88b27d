"""Settings: the effective configuration with secrets masked, and the store's schema version."""

import pandas as pd
import streamlit as st

from bilan_core import BilanError
from bilan_core.app.config_view import setting_rows, summary_rows
from pages.shared import app_client, current_team_session, current_user

client = app_client()
settings = client.settings

st.title("Settings")
st.caption("Read-only: from the environment, `.env` and `.streamlit/secrets.toml`. Secrets are never shown.")


def rows_table(rows: list) -> pd.DataFrame:
    return pd.DataFrame({"Setting": [row.label for row in rows], "Value": [row.value for row in rows]})


st.subheader("Effective configuration")
st.dataframe(rows_table(summary_rows(settings)), hide_index=True, width="stretch")

st.subheader("Database")
try:
    schema = client.schema_status()
except BilanError as exc:
    schema = f"unknown: {exc}"
st.dataframe(pd.DataFrame({"": ["Schema version"], "Value": [schema]}), hide_index=True)

st.subheader("You")
st.dataframe(
    pd.DataFrame(
        {"": ["User id", "Team session"], "Value": [current_user(), current_team_session() or "none"]}
    ),
    hide_index=True,
)

with st.expander("Every setting"):
    st.dataframe(rows_table(setting_rows(settings)), hide_index=True, width="stretch")
