"""A popover adding recorded turns' prompts to a dataset (new or existing): Playground and Analytics."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from bilan_core import BilanError
from bilan_core.app.markdown_text import escape_markdown
from pages.shared import visitor_client


def add_to_dataset_popover(prompt_ids: Sequence[str], *, key: str, label: str) -> None:
    """``label`` opens a form: a dataset name (created when new), then the prompts are appended to it."""
    notice = st.session_state.pop(f"{key}_dataset_notice", None)
    with st.popover(label):
        names = [dataset.name for dataset in visitor_client().list_datasets()]
        known = ", ".join(names) if names else "none yet"
        st.text_input(f"Dataset (existing: {known}; a new name creates one)", key=f"{key}_dataset_name")
        st.button("Add", key=f"{key}_dataset_add", on_click=_add, args=(list(prompt_ids), key, names))
    if notice:
        kind, message = notice
        getattr(st, kind)(escape_markdown(message))


def _add(prompt_ids: list[str], key: str, names: list[str]) -> None:
    name = (st.session_state.get(f"{key}_dataset_name") or "").strip()
    client = visitor_client()
    try:
        if not name:
            raise ValueError("give the dataset a name")
        if name not in names:
            client.create_dataset(name)
        dataset = client.add_turns_to_dataset(name, prompt_ids)
    except (BilanError, ValueError) as exc:
        st.session_state[f"{key}_dataset_notice"] = ("error", f"Nothing was added: {exc}")
        return
    message = f"Added {len(prompt_ids)} prompt(s) to {dataset.name} ({dataset.size} items)."
    st.session_state[f"{key}_dataset_notice"] = ("success", message)
