"""The Playground's stored-prompt panel: load a version into the boxes (asking for its variables), save the
boxes as a new version, and the options that make a message record the loaded version exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from bilan_core import Bilan, BilanError, PromptVersion
from bilan_core.app.prompts_view import load_into_playground, playground_version

PICK_NAME_KEY = "playground_stored_prompt"
PICK_VERSION_KEY = "playground_stored_version"
SAVE_NAME_KEY = "playground_save_name"
SAVE_NOTE_KEY = "playground_save_note"
LOADED_KEY = "playground_loaded_prompt"
PANEL_NOTICE_KEY = "playground_prompt_notice"
VARIABLE_PREFIX = "playground_var_"


@dataclass(frozen=True)
class Boxes:
    """The Playground's session keys of the boxes a prompt version fills and is saved from."""

    system: str
    model: str
    temperature: str
    max_tokens: str
    tools: str
    version: str


@dataclass(frozen=True)
class Loaded:
    """The version loaded into the boxes, its variables, and the system text it put there."""

    version: PromptVersion
    variables: dict[str, str]
    system_prompt: str


def stored_prompt_panel(client: Bilan, boxes: Boxes) -> None:
    """The sidebar expander: pick a version, give its variables, load it; save the boxes as a version."""
    with st.expander("Stored prompts"):
        notice = st.session_state.pop(PANEL_NOTICE_KEY, None)
        if notice:
            (st.success if notice[0] == "ok" else st.error)(notice[1])
        try:
            names = _names(client, _scope(client))
        except BilanError as exc:
            st.error(f"The prompts cannot be read: {exc}")
            return
        if names:
            _load_controls(client, names, boxes)
        st.text_input(
            "Save the boxes as prompt", max_chars=200, key=SAVE_NAME_KEY, placeholder="e.g. support"
        )
        st.text_input("Note", max_chars=500, key=SAVE_NOTE_KEY, placeholder="what changed")
        st.button("Save as new version", on_click=_save, args=(client, boxes), key="playground_save_prompt")


def _scope(client: Bilan) -> tuple[str, str | None, str | None]:
    settings = client.settings
    return settings.mode, settings.database_url, settings.endpoint


# Read at most every few seconds, not on every rerun of the Playground (a keystroke is a rerun).
@st.cache_data(ttl=10, show_spinner=False)
def _names(_client: Bilan, scope: tuple[str, str | None, str | None]) -> list[str]:
    return [summary.name for summary in _client.list_prompts()]


@st.cache_data(ttl=10, show_spinner=False)
def _versions(_client: Bilan, scope: tuple[str, str | None, str | None], name: str) -> list[PromptVersion]:
    return _client.prompt_versions(name)


def _load_controls(client: Bilan, names: list[str], boxes: Boxes) -> None:
    name = st.selectbox("Prompt", names, key=PICK_NAME_KEY)
    versions = {version.version: version for version in _versions(client, _scope(client), name)}
    number = st.selectbox(
        "Version",
        list(versions),
        format_func=lambda n: f"v{n} ({', '.join(versions[n].labels)})" if versions[n].labels else f"v{n}",
        key=PICK_VERSION_KEY,
    )
    chosen = versions[number]
    for variable in chosen.variables:
        st.text_input(variable, key=VARIABLE_PREFIX + variable)
    st.button("Load into the boxes", on_click=_load, args=(chosen, boxes), key="playground_load_prompt")


def _load(version: PromptVersion, boxes: Boxes) -> None:
    variables = {name: st.session_state.get(VARIABLE_PREFIX + name) or "" for name in version.variables}
    try:
        loaded = load_into_playground(version, variables)
    except ValueError as exc:
        st.session_state[PANEL_NOTICE_KEY] = ("error", f"Not loaded: {exc}")
        return
    values = {
        boxes.system: loaded.system_prompt,
        boxes.model: loaded.model,
        boxes.temperature: loaded.temperature,
        boxes.max_tokens: loaded.max_tokens,
        boxes.tools: loaded.tools,
        boxes.version: loaded.label,
    }
    st.session_state.update({key: value for key, value in values.items() if value is not None})
    st.session_state[LOADED_KEY] = Loaded(version, variables, loaded.system_prompt)
    st.session_state[SAVE_NAME_KEY] = version.name
    st.session_state[PANEL_NOTICE_KEY] = ("ok", f"Loaded {version.ref}.")


def _save(client: Bilan, boxes: Boxes) -> None:
    state = st.session_state
    try:
        fields = playground_version(
            system_prompt=state.get(boxes.system),
            model=state.get(boxes.model),
            temperature=state.get(boxes.temperature),
            max_tokens=state.get(boxes.max_tokens),
            tools=state.get(boxes.tools),
        )
        saved = client.create_prompt(
            state.get(SAVE_NAME_KEY) or "", note=state.get(SAVE_NOTE_KEY) or None, **fields
        )
    except (BilanError, ValueError) as exc:
        state[PANEL_NOTICE_KEY] = ("error", f"Not saved: {exc}")
        return
    _names.clear()
    _versions.clear()
    state[PANEL_NOTICE_KEY] = ("ok", f"Saved {saved.ref}.")


def loaded_prompt_options(boxes: Boxes) -> dict[str, Any]:
    """``prompt=`` and ``variables=`` while the loaded version's text is still in the system box, else {}."""
    loaded: Loaded | None = st.session_state.get(LOADED_KEY)
    if loaded is None or (st.session_state.get(boxes.system) or "") != loaded.system_prompt:
        return {}
    return {"prompt": loaded.version, "variables": loaded.variables}
