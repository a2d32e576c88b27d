"""Batch runs against the loopback OpenAI server: results, bounded concurrency, failures, resume."""

from __future__ import annotations

import io
import json
import threading

import pandas as pd
import pytest
from sqlmodel import Session, func, select

import bilan_core
from bilan_core.client.bilan import Bilan
from bilan_core.errors import ConfigurationError, NotFoundError
from bilan_core.experiments.batch_files import BatchFileError, batch_folder, files_to_pick
from bilan_core.experiments.batch_runs import (
    BatchOptions,
    BatchProgress,
    apply_ratings,
    batch_results,
    describe_run,
    rating_table,
    results_csv,
    results_finetune_jsonl,
    run_batch,
    start_batch,
)
from bilan_core.settings import load_settings
from bilan_core.store.models import BatchItem, BatchRun, Turn, Vote
from tests.fixtures.openai_server import FakeOpenAIServer


@pytest.fixture
def client(sqlite_url: str, openai_server: FakeOpenAIServer) -> Bilan:
    settings = load_settings(
        database_url=sqlite_url,
        user_id="alice",
        openai_base_url=openai_server.base_url,
        openai_api_key="sk-test",
        max_retries=0,
    )
    bilan = Bilan(settings)
    yield bilan
    bilan.close()


def prompts_txt(count: int) -> bytes:
    return "".join(f"Question number {n}\n" for n in range(count)).encode()


def stored_counts(client: Bilan) -> tuple[int, int]:
    with Session(client.engine) as session:
        runs = session.exec(select(func.count()).select_from(BatchRun)).one()
        items = session.exec(select(func.count()).select_from(BatchItem)).one()
    return runs, items


def test_a_csv_run_answers_every_prompt_and_keeps_metadata(client: Bilan, openai_server) -> None:
    openai_server.configure(answer="Forty-two.")
    data = b"id,prompt,topic\n1,What is six times seven?,maths\n2,Say hi,greeting\n3,Name a fruit,food\n"
    run = start_batch(client, file_name="questions.csv", data=data, options=BatchOptions(model="gpt-4o"))
    assert (run.total, run.status, run.file_name) == (3, "pending", "questions.csv")
    seen: list[BatchProgress] = []
    final = run_batch(client, run.id, on_progress=seen.append)
    assert (final.status, final.succeeded, final.failed) == ("completed", 3, 0)
    assert seen[-1].done == 3 and seen[-1].fraction == 1.0
    results = batch_results(client, run.id, user_id="alice")
    assert results["prompt"].tolist() == ["What is six times seven?", "Say hi", "Name a fruit"]
    assert results["response"].tolist() == ["Forty-two."] * 3
    assert results["model"].tolist() == ["gpt-4o"] * 3
    assert results["metadata"].tolist()[0] == {"id": "1", "topic": "maths"}
    assert results["prompt_id"].nunique() == 3
    sent = sorted(request.body["messages"][-1]["content"] for request in openai_server.chat_requests)
    assert sent == sorted(results["prompt"])


def test_options_are_sent_with_every_prompt(client: Bilan, openai_server) -> None:
    options = BatchOptions(model="gpt-4o-mini", temperature=0.3, max_tokens=50, system_prompt="Be brief.")
    run = start_batch(client, file_name="p.txt", data=b"One\nTwo\n", options=options)
    run_batch(client, run.id)
    for request in openai_server.chat_requests:
        assert request.body["temperature"] == 0.3 and request.body["max_tokens"] == 50
        assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_concurrency_is_bounded(client: Bilan, openai_server) -> None:
    openai_server.configure(answer_delay=0.2)
    run = start_batch(
        client, file_name="p.txt", data=prompts_txt(12), options=BatchOptions(model="gpt-4o", concurrency=4)
    )
    run_batch(client, run.id)
    starts = sorted(request.received_at for request in openai_server.chat_requests)
    assert len(starts) == 12
    # Each answer takes 0.2 s, so a fifth call can only start once one of four has finished.
    busiest = max(sum(1 for other in starts if start <= other < start + 0.15) for start in starts)
    assert busiest == 4


def test_a_failed_item_is_recorded_and_the_run_goes_on(client: Bilan, openai_server) -> None:
    run = start_batch(
        client, file_name="p.txt", data=prompts_txt(4), options=BatchOptions(model="gpt-4o", concurrency=1)
    )
    openai_server.fail(500, "The server had an error while processing your request.")
    final = run_batch(client, run.id)
    assert (final.status, final.succeeded, final.failed) == ("completed", 3, 1)
    results = batch_results(client, run.id, user_id="alice")
    failed = results[results["status"] == "failed"].iloc[0]
    assert failed["position"] == 0
    assert failed["error"] == "service_unavailable: The server had an error while processing your request."
    with Session(client.engine) as session:
        turn = session.exec(select(Turn).where(Turn.prompt_id == failed["prompt_id"])).one()
    assert turn.status == "error"


def test_a_rate_limited_item_waits_and_succeeds(sqlite_url: str, openai_server) -> None:
    settings = load_settings(
        database_url=sqlite_url,
        openai_base_url=openai_server.base_url,
        openai_api_key="sk-test",
        max_retries=2,
    )
    client = Bilan(settings)
    run = start_batch(client, file_name="p.txt", data=prompts_txt(1), options=BatchOptions(model="gpt-4o"))
    openai_server.rate_limit(retry_after=0.3)
    final = run_batch(client, run.id)
    first, retry = openai_server.chat_requests
    assert final.succeeded == 1
    assert retry.received_at - first.received_at >= 0.3
    client.close()


def test_a_stopped_run_resumes_without_repeating_finished_items(client: Bilan, openai_server) -> None:
    run = start_batch(
        client, file_name="p.txt", data=prompts_txt(10), options=BatchOptions(model="gpt-4o", concurrency=1)
    )
    stop = threading.Event()

    def stop_halfway(progress: BatchProgress) -> None:
        if progress.done >= 5:
            stop.set()

    halfway = run_batch(client, run.id, on_progress=stop_halfway, stop=stop)
    assert (halfway.status, halfway.succeeded) == ("interrupted", 5)
    assert [item.position for item in client.pending_batch_items(run.id)] == [5, 6, 7, 8, 9]
    assert [found.id for found in client.unfinished_batch_runs()] == [run.id]
    final = run_batch(client, run.id)
    assert (final.status, final.succeeded, final.failed) == ("completed", 10, 0)
    asked = [request.body["messages"][-1]["content"] for request in openai_server.chat_requests]
    assert sorted(asked) == sorted(f"Question number {n}" for n in range(10))
    results = batch_results(client, run.id, user_id="alice")
    assert results["position"].tolist() == list(range(10)) and results["prompt_id"].nunique() == 10
    with Session(client.engine) as session:
        assert session.exec(select(func.count()).select_from(BatchItem)).one() == 10
        assert session.exec(select(func.count()).select_from(Turn)).one() == 10  # one answer per item
    assert client.unfinished_batch_runs() == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("nocol.csv", b"question\nhi\n", "no 'prompt' column"),
        ("latin.txt", "é".encode("latin-1"), "not UTF-8"),
        ("big.txt", b"x" * 2000, "big.txt is 2,000 bytes; the limit is 1,000"),
    ],
)
def test_bad_files_store_nothing(
    sqlite_url: str, openai_server, name: str, data: bytes, message: str
) -> None:
    settings = load_settings(
        database_url=sqlite_url,
        openai_base_url=openai_server.base_url,
        openai_api_key="k",
        batch_max_file_bytes=1000,
    )
    client = Bilan(settings)
    with pytest.raises(BatchFileError) as caught:
        start_batch(client, file_name=name, data=data, options=BatchOptions(model="gpt-4o"))
    assert message in str(caught.value)
    assert stored_counts(client) == (0, 0)
    assert openai_server.chat_requests == []


def test_an_unknown_model_is_refused_before_anything_is_stored(client: Bilan) -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown model 'gpt-9'; the endpoint offers: .*gpt-4o-mini"
    ):
        start_batch(client, file_name="p.txt", data=b"hi\n", options=BatchOptions(model="gpt-9"))
    assert stored_counts(client) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": ""}, "needs a model"),
        ({"concurrency": 0}, "concurrency must be a whole number from 1 to 256"),
        ({"concurrency": 1000}, "from 1 to 256"),
        ({"temperature": 3.0}, "between 0 and 2"),
        ({"max_tokens": 0}, "at least 1"),
    ],
)
def test_bad_options_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchOptions(**({"model": "gpt-4o"} | fields))


def test_results_can_be_rated_and_exported(client: Bilan) -> None:
    data = b'{"prompt": "Hi", "expected": "hello"}\n{"prompt": "Bye"}\n'
    run = start_batch(client, file_name="p.jsonl", data=data, options=BatchOptions(model="gpt-4o"))
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    client.vote(results["prompt_id"][0], -1, "wrong tone")
    rated = batch_results(client, run.id, user_id="alice")
    assert rated["vote"].tolist()[0] == -1 and rated["comment"].tolist()[0] == "wrong tone"
    assert pd.isna(rated["vote"].tolist()[1])
    exported = pd.read_csv(io.BytesIO(results_csv(rated)))
    assert exported["prompt"].tolist() == ["Hi", "Bye"]
    assert exported["meta.expected"].tolist()[0] == "hello"
    assert exported["comment"].tolist()[0] == "wrong tone"


def test_liked_rows_export_as_fine_tuning_jsonl_with_the_messages_sent(client: Bilan, openai_server) -> None:
    options = BatchOptions(model="gpt-4o", system_prompt="Be brief.", concurrency=1)  # asked in file order
    run = start_batch(client, file_name="p.txt", data=b"Fails\nLiked\nDisliked\nUnrated\n", options=options)
    openai_server.fail(500, "boom", times=1)
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    assert results["status"].tolist() == ["failed", "ok", "ok", "ok"]
    for position, value in ((0, 1), (1, 1), (2, -1)):  # a 👍 on a failed row has no answer to learn from
        client.vote(results["prompt_id"][position], value)
    rated = batch_results(client, run.id, user_id="alice")

    lines = [json.loads(line) for line in results_finetune_jsonl(rated, options).decode().splitlines()]
    assert lines == [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Liked"},
                {"role": "assistant", "content": rated["response"][1]},
            ]
        }
    ]
    assert rated["response"][1]
    assert results_finetune_jsonl(results, options) == b""  # nothing rated yet


def test_unknown_runs_and_server_mode_are_refused(client: Bilan) -> None:
    with pytest.raises(NotFoundError, match="no batch run has id 'nope'"):
        run_batch(client, "nope")
    with pytest.raises(NotFoundError):
        client.get_batch_run("nope")


def test_progress_describes_counts_and_time_left() -> None:
    progress = BatchProgress(total=200, succeeded=35, failed=2, elapsed_s=3.7, done_this_session=37)
    assert progress.describe() == "37/200 done (35 ok, 2 failed) · about 16 s left"
    assert BatchProgress(10, 0, 0, 0.0, 0).seconds_left is None


def test_ratings_from_the_table_become_votes(client: Bilan) -> None:
    run = start_batch(client, file_name="p.txt", data=prompts_txt(5), options=BatchOptions(model="gpt-4o"))
    run_batch(client, run.id)
    results = batch_results(client, run.id, user_id="alice")
    ids = results["prompt_id"].tolist()
    client.vote(ids[3], 1, "kept")
    problems = apply_ratings(
        client,
        results,
        {
            "0": {"vote": "👍", "comment": " clear "},
            1: {"vote": "👎"},
            2: {"comment": "no vote given"},
            3: {"vote": None},
            4: {"vote": "meh"},
        },
    )
    assert problems == [
        "row 3: choose 👍 or 👎 to go with the comment",
        "row 5: a rating is 👍 or 👎, got 'meh'",
    ]
    rated = rating_table(batch_results(client, run.id, user_id="alice"))
    assert rated["vote"].tolist() == ["👍", "👎", None, None, None]
    assert rated["comment"].tolist()[0] == "clear" and "metadata" not in rated
    assert rated.columns.tolist()[:5] == ["row", "prompt", "response", "vote", "comment"]
    assert rated["row"].tolist() == [1, 2, 3, 4, 5]  # as the messages above name them
    # A comment edited alone keeps the stored vote.
    again = batch_results(client, run.id, user_id="alice")
    assert apply_ratings(client, again, {1: {"comment": "too long"}}) == []
    with Session(client.engine) as session:
        vote = session.exec(select(Vote).where(Vote.prompt_id == ids[1])).one()
    assert (vote.value, vote.comment) == (-1, "too long")


def test_ratings_on_unanswered_rows_and_other_columns_are_refused(client: Bilan) -> None:
    run = start_batch(client, file_name="p.txt", data=prompts_txt(2), options=BatchOptions(model="gpt-4o"))
    results = batch_results(client, run.id, user_id="alice")
    problems = apply_ratings(client, results, {0: {"vote": "👍"}, 1: {"prompt": "changed"}})
    assert problems == [
        "row 1: this prompt has no answer yet; resume the run first",
        "row 2: only the vote and the comment can be changed, not prompt",
    ]


def test_runs_are_described_and_batch_folder_files_listed(client: Bilan, tmp_path, monkeypatch) -> None:
    run = start_batch(client, file_name="p.txt", data=prompts_txt(3), options=BatchOptions(model="gpt-4o"))
    line = describe_run(client.get_batch_run(run.id))
    assert line.startswith("p.txt · 0/3 done · pending · ") and line.endswith(run.id[:8])
    monkeypatch.setenv("BILAN_DATA_DIR", str(tmp_path / "data"))
    assert files_to_pick(batch_folder()) == []
    batch_folder().mkdir(parents=True)
    for name in ("b.jsonl", "a.csv", "c.TXT", "notes.pdf"):
        (batch_folder() / name).write_text("x")
    assert [path.name for path in files_to_pick(batch_folder())] == ["a.csv", "b.jsonl", "c.TXT"]


def test_the_module_level_batch_functions(sqlite_url: str, openai_server, tmp_path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("One\nTwo\nThree\n", encoding="utf-8")
    bilan_core.init(
        database_url=sqlite_url, openai_base_url=openai_server.base_url, openai_api_key="k", telemetry=False
    )
    run = bilan_core.run_batch_file(str(path), model="gpt-4o-mini", concurrency=2)
    assert (run.status, run.succeeded, run.settings["model"]) == ("completed", 3, "gpt-4o-mini")
    assert bilan_core.resume_batch(run.id).succeeded == 3
    assert len(openai_server.chat_requests) == 3
    with pytest.raises(ValueError, match="concurrency must be"):
        bilan_core.run_batch_file(str(path), concurrency=0)
    bilan_core.get_client().close()


def test_a_run_stopped_and_resumed_on_postgresql(postgres_url: str, openai_server) -> None:
    settings = load_settings(
        database_url=postgres_url,
        user_id="alice",
        openai_base_url=openai_server.base_url,
        openai_api_key="k",
        max_retries=0,
    )
    client = Bilan(settings)
    run = start_batch(
        client, file_name="p.txt", data=prompts_txt(6), options=BatchOptions(model="gpt-4o", concurrency=1)
    )
    stop = threading.Event()
    halfway = run_batch(client, run.id, on_progress=lambda p: stop.set() if p.done >= 3 else None, stop=stop)
    assert (halfway.status, halfway.succeeded) == ("interrupted", 3)
    final = run_batch(client, run.id)
    assert (final.status, final.succeeded, final.failed) == ("completed", 6, 0)
    results = batch_results(client, run.id, user_id="alice")
    assert results["prompt_id"].nunique() == 6 and len(openai_server.chat_requests) == 6
    assert apply_ratings(client, results, {0: {"vote": "👍", "comment": "good"}}) == []
    assert rating_table(batch_results(client, run.id, user_id="alice"))["vote"][0] == "👍"
    client.close()
