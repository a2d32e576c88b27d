"""Prompts: every stored prompt, its versions with their labels and figures, a diff of two, moving a label."""

import streamlit as st

from bilan_core import BilanError
from bilan_core.app.prompts_view import version_text, versions_diff, versions_table
from pages.shared import app_client

NAME_KEY = "prompts_name"
LABEL_KEY = "prompts_label"
LABEL_VERSION_KEY = "prompts_label_version"
NOTICE_KEY = "prompts_notice"

client = app_client()
st.title("Prompts")
st.caption(
    "Named prompts with immutable, numbered versions. Labels (production, staging, …) point at one "
    "version each; moving a label promotes or rolls back. Save a version from the Playground or with "
    "`python -m bilan_core prompts push FILE`."
)


def move_label(name: str) -> None:
    label = (st.session_state.get(LABEL_KEY) or "").strip()
    version = st.session_state.get(LABEL_VERSION_KEY)
    try:
        moved = client.set_prompt_label(name, version, label)
        st.session_state[NOTICE_KEY] = ("success", f"{label} now points at {moved.ref}.")
    except (BilanError, ValueError) as exc:
        st.session_state[NOTICE_KEY] = ("error", f"The label was not moved: {exc}")


def show_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])


try:
    summaries = client.list_prompts()
except BilanError as exc:
    st.error(f"The prompts cannot be read: {exc}")
    st.stop()
if not summaries:
    st.info("No prompt yet. Save the Playground's system prompt as a version, or push a file from the CLI.")
    st.stop()

name = st.selectbox("Prompt", [summary.name for summary in summaries], key=NAME_KEY)
versions = client.prompt_versions(name)
figures = client.prompt_figures(name)
show_notice()

st.subheader("Versions")
st.dataframe(versions_table(versions, figures, client.prices()), hide_index=True, width="stretch")
st.caption("Trust score, votes, cost and latency count the answers made with each version (`prompt=`).")

st.subheader("Compare two versions")
numbers = [version.version for version in versions]
left, right = st.columns(2)
older = left.selectbox("Version", numbers, index=min(1, len(numbers) - 1), key="prompts_diff_a")
newer = right.selectbox("Against", numbers, index=0, key="prompts_diff_b")
by_number = {version.version: version for version in versions}
left.code(version_text(by_number[older]), language=None, wrap_lines=True)
right.code(version_text(by_number[newer]), language=None, wrap_lines=True)
changes = versions_diff(by_number[older], by_number[newer])
st.code(changes or "The two versions are the same.", language="diff" if changes else None, wrap_lines=True)

st.subheader("Move a label")
with st.form("prompts_move_label"):
    st.text_input("Label", value="production", max_chars=200, key=LABEL_KEY)
    st.selectbox("Onto version", numbers, key=LABEL_VERSION_KEY)
    st.form_submit_button("Move label", on_click=move_label, args=(name,))
