"""The Playground's stored prompts in AppTest: load a version with its variables, answer with it recorded
exactly, save the edited boxes as a new version."""

from __future__ import annotations

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.models import Turn
from tests.app_support import new_app, rows


def test_load_a_version_answer_with_it_and_save_the_boxes(app_env) -> None:
    client = Bilan(load_settings(user_id="ana", telemetry=False))
    client.create_prompt(
        "support",
        "You answer for {{company}}.",
        params={"temperature": 0.2, "max_tokens": 99},
        labels=["production"],
    )
    at = new_app().run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="playground_load_prompt").click().run()
    assert [e.value for e in at.error] == ["Not loaded: support v1 needs a value for: company"]
    at.text_input(key="playground_var_company").input("ACME")
    at.button(key="playground_load_prompt").click().run()
    assert not at.exception
    assert at.text_area(key="playground_system_prompt").value == "You answer for ACME."
    assert at.slider(key="playground_temperature").value == 0.2
    assert at.number_input(key="playground_max_tokens").value == 99
    assert at.text_input(key="playground_prompt_version").value == "support v1"
    at.chat_input[0].set_value("Hello").run()
    assert not at.exception
    [turn] = rows(app_env, Turn)
    assert (turn.prompt_name, turn.prompt_number, turn.prompt_version) == ("support", 1, "support v1")
    assert turn.messages[0] == {"role": "system", "content": "You answer for ACME."}

    at.text_area(key="playground_system_prompt").input("You answer for {{company}}, briefly.")
    at.text_input(key="playground_save_note").input("shorter")
    at.button(key="playground_save_prompt").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Saved support v2."]
    saved = client.get_prompt("support", label="latest")
    assert (saved.messages[0].content, saved.note, saved.params["temperature"]) == (
        "You answer for {{company}}, briefly.",
        "shorter",
        0.2,
    )
    at.chat_input[0].set_value("Again").run()  # the box was edited: sent as free text, not as v1
    newest = max(rows(app_env, Turn), key=lambda t: t.created_ms)
    assert (
        newest.prompt_name is None and newest.messages[0]["content"] == "You answer for {{company}}, briefly."
    )
