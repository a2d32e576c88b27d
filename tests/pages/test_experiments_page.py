"""The Experiments page in AppTest: a dataset from a file, variants, a run, ratings, pairwise, compare."""

from __future__ import annotations

import json
import time

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.experiment_runs import run_experiment
from bilan_core.settings import load_settings
from bilan_core.store.conversations import start_conversation
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.models import BatchRun, Comparison, Turn, Vote
from bilan_core.store.votes import cast_vote
from tests.app_support import new_app, rows
from tests.helpers import add_turn

PAGE = "pages/experiments.py"


def ran(at):
    at.run(timeout=30)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_dataset_from_a_file_run_through_two_variants(app_env, openai_server):
    at = ran(new_app(PAGE))
    at.text_input(key="exp_new_dataset").input("capitals")
    at.file_uploader(key="exp_upload").set_value(
        ("c.csv", b"country,expected\nFrance,Paris\nPeru,Lima\n", "text/csv")
    )
    at.button(key="exp_create_dataset").click()
    ran(at)
    [dataset] = rows(app_env, Dataset)
    assert (dataset.name, dataset.size) == ("capitals", 2)
    at.text_area(key="exp_v0_user").input("Capital of {{country}}?")
    at.text_area(key="exp_v1_system").input("Be brief.")
    at.text_area(key="exp_v1_user").input("{{country}}: capital?")
    at.selectbox(key="exp_v1_model").select("gpt-4o")
    at.button(key="exp_start").click()
    ran(at)
    [run] = rows(app_env, BatchRun)
    assert (run.kind, run.status, run.succeeded) == ("experiment", "completed", 4)
    assert {turn.model for turn in rows(app_env, Turn)} >= {"gpt-4o"}
    assert any("4 ok, 0 failed" in element.value for element in at.success)
    assert len(at.dataframe) >= 2  # the summary and the answers side by side


def test_bad_variants_start_nothing_and_say_why(app_env):
    Bilan(load_settings()).create_dataset("smoke", [{"input": {"country": "France"}}])
    at = ran(new_app(PAGE))
    at.text_input(key="exp_v1_name").input("variant 1")
    at.text_area(key="exp_v0_user").input("{{country}}?")
    at.text_area(key="exp_v1_user").input("{{country}}?")
    at.button(key="exp_start").click()
    ran(at)
    assert "two variants are named 'variant 1'" in at.error[0].value
    assert rows(app_env, BatchRun) == []


def test_blind_pairs_and_the_comparison_of_two_runs(app_env, openai_server):
    client = Bilan(load_settings())
    client.create_dataset("smoke", ["Say hi", "Say bye"])
    variants = [{"name": "one", "messages": "Be brief."}, {"name": "two", "messages": "Be kind."}]
    run_experiment(client, "smoke", variants)
    time.sleep(0.01)
    run_experiment(client, "smoke", variants)
    at = ran(new_app(PAGE))
    at.button(key="exp_next_pair").click()
    ran(at)
    at.button(key="exp_verdict_a").click()
    ran(at)
    [comparison] = rows(app_env, Comparison)
    assert comparison.winner == "a" and comparison.team_session.startswith("experiment:")
    assert any("A was" in element.value for element in at.caption)
    assert any("cell(s) flipped" in element.value for element in at.caption)
    summary = json.loads(at.dataframe[0].proto.columns)
    assert (summary["up"]["label"], summary["down"]["label"]) == ("👍 good", "👎 bad")  # words with the emoji
    assert summary["positive_rate"]["type_config"]["format"] == "percent"


def test_cells_are_rated_safely_a_draft_kept_and_a_flipped_vote_keeping_its_comment(app_env, openai_server):
    client = Bilan(load_settings())
    client.create_dataset("smoke", ["Say hi", "Say bye"])
    run_experiment(client, "smoke", [{"name": "one", "messages": "Be brief."}])
    at = ran(new_app(PAGE))
    grid = at.data_editor[0]
    assert grid.proto.placeholder == "" and "exp_save_ratings" not in {button.key for button in at.button}
    assert json.loads(grid.proto.columns)["vote"]["type_config"]["options"] == ["👍 good", "👎 bad"]
    at.session_state[grid.key] = {
        "edited_rows": {0: {"vote": "👍 good", "comment": "warm"}, 1: {"comment": "too curt"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    ran(at)
    votes = {vote.comment: vote.value for vote in rows(app_env, Vote)}
    assert votes == {"warm": 1}  # the comment without a vote is not stored, and not lost either
    assert any("Comment kept as a draft on row 2" in warning.value for warning in at.warning)
    comments = at.data_editor[0].value["comment"].tolist()
    assert comments == ["warm", "too curt"]

    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {0: {"vote": "👎 bad"}, 1: {"vote": "👎 bad"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    ran(at)
    assert sorted((vote.comment, vote.value) for vote in rows(app_env, Vote)) == [
        ("too curt", -1),
        ("warm", -1),
    ]
    assert not at.warning
    assert at.dataframe[1].value["one: vote"].tolist() == ["👎 bad", "👎 bad"]  # words beside the emoji


def test_the_playground_and_the_comments_explorer_add_prompts_to_a_dataset(app_env):
    conversation_id = start_conversation(app_env, user_id="anonymous", title="Chat").conversation_id
    first = add_turn(
        app_env, user_id="anonymous", conversation_id=conversation_id, prompt_text="a?", response="A"
    )
    second = add_turn(
        app_env, user_id="anonymous", conversation_id=conversation_id, prompt_text="b?", response="B"
    )
    cast_vote(app_env, prompt_id=second, user_id="anonymous", value=-1, comment="wrong")

    chat = new_app()
    chat.query_params["c"] = conversation_id
    ran(chat)
    chat.text_input(key="playground_dataset_name").input("from-chat")
    chat.button(key="playground_dataset_add").click()
    ran(chat)
    assert any("Added 2 prompt" in element.value for element in chat.success), [e.value for e in chat.success]
    items = Bilan(load_settings()).get_dataset("from-chat").items
    assert [(item.input, item.source_prompt_id) for item in items] == [("a?", first), ("b?", second)]

    analytics = ran(new_app("pages/analytics.py"))
    analytics.text_input(key="analytics_dataset_name").input("regressions")
    analytics.button(key="analytics_dataset_add").click()
    ran(analytics)
    [item] = Bilan(load_settings()).get_dataset("regressions").items
    assert (item.input, item.item_metadata["response"]) == ("b?", "B")
