"""The Batch page in AppTest: real SDK against the loopback server, uploads, bad input, resume, ratings."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_files import upload_limit_mb
from bilan_core.experiments.batch_runs import BatchOptions, BatchProgress, run_batch, start_batch
from bilan_core.settings import load_settings
from bilan_core.store.models import BatchItem, BatchRun, Turn, Vote
from tests.app_support import clear_app_caches, new_app, rows
from tests.fixtures.openai_server import DEFAULT_ANSWER

PAGE = "pages/batch.py"


@pytest.fixture
def app_env(app_env, monkeypatch):
    """The shared loopback app (tests/app_support.py), with gpt-4o as the default model."""
    monkeypatch.setenv("BILAN_DEFAULT_MODEL", "gpt-4o")
    return app_env


def open_page():
    at = new_app(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at, name: str, data: bytes):
    at.file_uploader(key="batch_upload").set_value((name, data, "application/octet-stream"))
    return at


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_uploaded_csv_runs_with_the_chosen_settings(app_env, openai_server):
    at = open_page()
    upload(at, "questions.csv", b"id,prompt\n1,What is two plus two?\n2,Name a colour\n3,Say hi\n")
    at.selectbox(key="batch_model").select("gpt-4o-mini")
    at.number_input(key="batch_concurrency").set_value(2)
    at.slider(key="batch_temperature").set_value(0.2)
    at.text_area(key="batch_system_prompt").input("Answer in one word.")
    click(at, "batch_start")

    [run] = rows(app_env, BatchRun)
    assert (run.status, run.total, run.succeeded, run.failed, run.file_name) == (
        "completed", 3, 3, 0, "questions.csv",
    )  # fmt: skip
    assert run.settings["concurrency"] == 2 and run.settings["model"] == "gpt-4o-mini"
    for request in openai_server.chat_requests:
        assert request.body["temperature"] == 0.2
        assert request.body["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert [s.value.replace("\\", "") for s in at.success] == ["Run completed: 3 ok, 0 failed of 3."]
    table = at.data_editor[0].value
    assert table["prompt"].tolist() == ["What is two plus two?", "Name a colour", "Say hi"]
    assert table["response"].tolist() == [DEFAULT_ANSWER] * 3
    assert table["status"].tolist() == ["ok"] * 3
    assert table["row"].tolist() == [1, 2, 3]  # numbered as the rating messages name rows
    headings = json.loads(at.data_editor[0].proto.columns)
    assert (headings["response"]["label"], headings["vote"]["label"]) == ("Answer", "Rating")
    assert [button.label for button in at.get("download_button")] == [
        "Download CSV",
        "Fine-tuning JSONL (rows you rated 👍 good)",
    ]
    # The file is still attached: the page says Start run would ask its prompts again, as a new run.
    assert any("questions.csv already ran" in info.value.replace("\\", "") for info in at.info)
    assert at.data_editor[0].proto.placeholder == ""  # empty cells read blank, not "None"
    assert "batch_save" not in {button.key for button in at.button}  # edits save as they are made


def test_metadata_columns_are_shown_in_the_grid(app_env, openai_server):
    at = open_page()
    upload(at, "q.csv", b"prompt,topic,lang\nHi,greeting,en\nSalut,greeting,fr\n")
    click(at, "batch_start")
    table = at.data_editor[0].value
    assert table["meta.topic"].tolist() == ["greeting", "greeting"] and table["meta.lang"].tolist() == [
        "en",
        "fr",
    ]
    headings = json.loads(at.data_editor[0].proto.columns)
    assert headings["meta.lang"]["label"] == "lang" and "exported as meta" in headings["meta.lang"]["help"]
    # The comment is not cut at 1440 px: row, prompt, answer, rating and comment fit the page's ~980 px.
    widths = [headings[name]["width"] for name in ("row", "prompt", "response", "vote", "comment")]
    assert sum(w if isinstance(w, int) else 75 for w in widths) <= 980, widths


def test_a_file_can_be_picked_from_the_batch_folder(app_env, openai_server):
    folder = Path(os.environ["BILAN_DATA_DIR"]) / "batch"
    folder.mkdir(parents=True)
    (folder / "prompts.txt").write_text("First\nSecond\n", encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF")
    at = open_page()
    assert at.selectbox(key="batch_pick").options == ["—", "prompts.txt"]
    at.selectbox(key="batch_pick").select("prompts.txt")
    click(at, "batch_start")
    [run] = rows(app_env, BatchRun)
    assert (run.file_name, run.succeeded) == ("prompts.txt", 2)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("nocol.csv", b"question,answer\nhi,there\n", "nocol.csv has no 'prompt' column"),
        ("big.txt", b"a prompt\n" * 20, "big.txt is 180 bytes; the limit is 100"),
        ("latin.txt", "café\n".encode("latin-1"), "latin.txt is not UTF-8 text"),
        (None, b"", "choose a file of prompts first"),
    ],
    ids=["empty", "no-prompt-column", "too-big", "undecodable", "no-file"],
)
def test_bad_files_get_a_clear_message_and_store_nothing(
    app_env, openai_server, monkeypatch, name, data, message
):
    monkeypatch.setenv("BILAN_BATCH_MAX_FILE_BYTES", "100")
    at = open_page()
    if name:
        upload(at, name, data)
    click(at, "batch_start")
    errors = [error.value.replace("\\", "") for error in at.error]
    assert len(errors) == 1 and errors[0].startswith("Nothing was started") and message in errors[0], errors
    assert rows(app_env, BatchRun) == [] and rows(app_env, BatchItem) == []
    assert openai_server.chat_requests == []


def test_an_unknown_model_is_refused_and_nothing_is_stored(app_env, openai_server, monkeypatch):
    monkeypatch.setenv("BILAN_DEFAULT_MODEL", "gpt-9")  # offered first in the picker, unknown to the endpoint
    at = open_page()
    assert at.selectbox(key="batch_model").value == "gpt-9"
    upload(at, "p.txt", b"Hello\n")
    click(at, "batch_start")
    assert any("unknown model 'gpt-9'" in error.value.replace("\\", "") for error in at.error)
    assert rows(app_env, BatchRun) == [] and openai_server.chat_requests == []


def interrupted_run(url: str, openai_server, count: int) -> str:
    """A run stopped after half its items, as a closed browser or a crash leaves it."""
    client = Bilan(
        load_settings(database_url=url, openai_base_url=openai_server.base_url, openai_api_key="sk-test")
    )
    data = "".join(f"Prompt {n}\n" for n in range(count)).encode()
    options = BatchOptions(model="gpt-4o", concurrency=1)
    run = start_batch(client, file_name="half.txt", data=data, options=options)
    stop = threading.Event()

    def stop_halfway(progress: BatchProgress) -> None:
        if progress.done >= count // 2:
            stop.set()

    run_batch(client, run.id, on_progress=stop_halfway, stop=stop)
    client.close()
    return run.id


def test_an_interrupted_run_is_resumed_from_the_page_without_repeating_items(
    app_env, openai_server, sqlite_url
):
    run_id = interrupted_run(sqlite_url, openai_server, 8)
    at = open_page()
    picker = at.selectbox(key="batch_resume_run")
    assert picker.value == run_id and "half.txt · 4/8 done · stopped" in picker.format_func(run_id)
    # The results of the stopped run say so too, with their own Resume button.
    assert any("This run stopped at 4/8 done" in warning.value for warning in at.warning)
    assert at.button(key="batch_resume_selected").label == "Resume this run"
    click(at, "batch_resume")
    [run] = rows(app_env, BatchRun)
    assert (run.status, run.succeeded, run.failed) == ("completed", 8, 0)
    items = rows(app_env, BatchItem)
    assert sorted(item.position for item in items) == list(range(8))
    assert len({item.prompt_id for item in items}) == 8 and len(rows(app_env, Turn)) == 8
    asked = [request.body["messages"][-1]["content"] for request in openai_server.chat_requests]
    assert sorted(asked) == sorted(f"Prompt {n}" for n in range(8))  # each prompt asked exactly once
    assert "batch_resume_run" not in [selectbox.key for selectbox in at.selectbox]  # nothing left to resume
    assert at.data_editor[0].value["status"].tolist() == ["ok"] * 8


def edit_grid(at, edited_rows: dict) -> None:
    """Edit the rating grid as a visitor does (the edit saves on the next run)."""
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": edited_rows,
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def grid_column(at, name: str) -> list:
    """A column of the rating grid as shown, an empty cell as None."""
    column = at.data_editor[0].value[name]
    return [value if isinstance(value, str) else None for value in column]


def test_rows_are_rated_from_the_table_and_a_comment_without_a_vote_is_kept(app_env, openai_server):
    at = open_page()
    upload(at, "p.txt", b"One\nTwo\nThree\n")
    click(at, "batch_start")
    edit_grid(
        at, {0: {"vote": "👍 good", "comment": "spot on"}, 1: {"vote": "👎 bad"}, 2: {"comment": "no vote"}}
    )
    items = {item.position: item.prompt_id for item in rows(app_env, BatchItem)}
    votes = {vote.prompt_id: (vote.value, vote.comment) for vote in rows(app_env, Vote)}
    assert votes == {items[0]: (1, "spot on"), items[1]: (-1, None)}
    assert grid_column(at, "vote") == ["👍 good", "👎 bad", None]
    assert grid_column(at, "comment") == ["spot on", None, "no vote"]  # the draft stays in its cell
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert warnings == [
        "Comment kept as a draft on row 3: not saved until you choose 👍 good or 👎 bad in its Rating cell."
    ]
    assert [toast.value for toast in at.toast] == ["Saved 2 rating(s)."]

    edit_grid(at, {2: {"vote": "👎 bad"}})  # the vote chosen later saves the draft with it
    votes = {vote.prompt_id: (vote.value, vote.comment) for vote in rows(app_env, Vote)}
    assert votes[items[2]] == (-1, "no vote") and not at.warning
    edit_grid(at, {0: {"vote": "👎 bad"}})  # a flipped vote keeps its comment
    assert {vote.prompt_id: (vote.value, vote.comment) for vote in rows(app_env, Vote)}[items[0]] == (
        -1,
        "spot on",
    )
    assert grid_column(at, "comment") == ["spot on", None, "no vote"]


def test_a_refused_rating_is_said_under_the_grid(app_env, openai_server):
    at = open_page()
    upload(at, "p.txt", b"One\n")
    click(at, "batch_start")
    edit_grid(at, {0: {"vote": "meh"}})
    assert [w.value.replace("\\", "") for w in at.warning] == [
        "Not saved: row 1: a rating is 👍 good or 👎 bad, got 'meh'"
    ]
    assert rows(app_env, Vote) == []


def test_the_run_settings_are_kept_after_a_look_at_another_page(app_env):
    at = open_page()
    at.selectbox(key="batch_model").select("gpt-4o-mini")
    at.number_input(key="batch_concurrency").set_value(3)
    at.slider(key="batch_temperature").set_value(0.2)
    at.text_area(key="batch_system_prompt").input("Answer in one word.")
    at.run()
    at.switch_page("pages/settings.py").run()
    at.switch_page(PAGE).run()
    assert at.selectbox(key="batch_model").value == "gpt-4o-mini"
    assert at.number_input(key="batch_concurrency").value == 3
    assert at.slider(key="batch_temperature").value == 0.2
    assert at.text_area(key="batch_system_prompt").value == "Answer in one word."


def test_the_uploader_offers_the_batch_size_limit_not_streamlits_200_mb(app_env, monkeypatch):
    assert open_page().file_uploader(key="batch_upload").proto.max_upload_size_mb == 10  # 10,000,000 bytes
    monkeypatch.setenv("BILAN_BATCH_MAX_FILE_BYTES", "50000000")
    clear_app_caches()
    assert open_page().file_uploader(key="batch_upload").proto.max_upload_size_mb == 48
    assert (upload_limit_mb(100), upload_limit_mb(1024 * 1024), upload_limit_mb(1024 * 1024 + 1)) == (1, 1, 2)
