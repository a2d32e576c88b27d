"""The Prompts page in AppTest: versions with labels and figures, the diff of two versions, moving a label."""

from __future__ import annotations

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.app_support import new_app


def seed_prompts() -> Bilan:
    """Two versions of ``support`` (v1 production) with answers from the loopback server and votes."""
    client = Bilan(load_settings(user_id="ana", telemetry=False))
    v1 = client.create_prompt("support", "You answer for {{company}}.", labels=["production"], note="first")
    v2 = client.create_prompt(
        "support",
        "You answer for {{company}} <b>briefly</b>.",
        params={"temperature": 0},
        note="<i>shorter</i>",
    )
    for version, value in ((v1, 1), (v2, -1), (v2, 1)):
        answer = client.create_chat_completion(
            [{"role": "user", "content": "Hi"}],
            prompt=version,
            variables={"company": "ACME"},
            model="gpt-4o-mini",
        )
        client.vote(answer.prompt_id, value)
    return client


def test_the_page_lists_versions_with_figures_diffs_and_moves_a_label(app_env) -> None:
    client = seed_prompts()
    at = new_app("pages/prompts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["Version"]) == [2, 1]
    assert list(table["Labels"]) == ["latest", "production"]
    assert list(table["Answers"]) == [2, 1]
    assert list(table["👍 up"]) == [1, 1] and list(table["👎 down"]) == [1, 0]
    assert table["Note"][0] == "<i>shorter</i>"  # user text shown as text
    assert table["Trust score"][1] == 1.0 and table["95% interval"][1].startswith("0.")
    assert table["Cost (USD)"][0] > 0 and table["Median latency (ms)"][0] >= 0
    codes = [code.value for code in at.code]
    assert "You answer for {{company}}." in codes[0] and "<b>briefly</b>" in codes[1]
    assert (
        "-You answer for {{company}}." in codes[2]
        and "+You answer for {{company}} <b>briefly</b>." in codes[2]
    )
    at.selectbox(key="prompts_label_version").select(2)
    at.button[0].click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["production now points at support v2."]
    assert client.get_prompt("support").version == 2
    at.text_input(key="prompts_label").input("latest")
    at.button[0].click().run()
    assert "The label was not moved: the label 'latest' always points at the newest" in at.error[0].value
