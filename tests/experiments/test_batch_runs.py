"""Batch runs against the loopback OpenAI server: results, bounded concurrency, failures, resume."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, func, select

import bilan_core
from bilan_core.app.rating_grid import apply_ratings, batch_rating_table
from bilan_core.client.bilan import Bilan
from bilan_core.errors import ConfigurationError, NotFoundError
from bilan_core.experiments.batch_files import BatchFileError, batch_folder, files_to_pick
from bilan_core.experiments.batch_runs import (
    STALE_AFTER_MS,
    BatchProgress,
    batch_results,
    describe_run,
    run_batch,
    run_state,
)
from bilan_core.settings import load_settings
from bilan_core.store.batch_runs import BatchOptions
from bilan_core.store.models import BatchItem, BatchRun, Turn
from tests.chat_helpers import client_for
from tests.experiments.batch_helpers import start_file, start_numbered


def stored_counts(client: Bilan) -> tuple[int, int]:
    with Session(client.engine) as session:
        runs = session.exec(select(func.count()).select_from(BatchRun)).one()
        items = session.exec(select(func.count()).select_from(BatchItem)).one()
    return runs, items


def test_a_csv_run_answers_every_prompt_and_keeps_metadata(client: Bilan, openai_server) -> None:
    openai_server.configure(answer="Forty-two.")
    data = b"id,prompt,topic\n1,What is six times seven?,maths\n2,Say hi,greeting\n3,Name a fruit,food\n"
    run = start_file(client, data, file_name="questions.csv")
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
    run = start_file(client, b"One\nTwo\n", options=options)
    run_batch(client, run.id)
    for request in openai_server.chat_requests:
        assert request.body["temperature"] == 0.3 and request.body["max_tokens"] == 50
        assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_concurrency_is_bounded(client: Bilan, openai_server) -> None:
    openai_server.configure(answer_delay=0.2)
    run = start_numbered(client, 12, concurrency=4)
    run_batch(client, run.id)
    starts = sorted(request.received_at for request in openai_server.chat_requests)
    assert len(starts) == 12
    # Each answer takes 0.2 s, so a fifth call can only start once one of four has finished.
    busiest = max(sum(1 for other in starts if start <= other < start + 0.15) for start in starts)
    assert busiest == 4


def test_a_failed_item_is_recorded_and_the_run_goes_on(client: Bilan, openai_server) -> None:
    run = start_numbered(client, 4, concurrency=1)
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
    client = client_for(openai_server, sqlite_url, max_retries=2)
    run = start_numbered(client, 1)
    openai_server.rate_limit(retry_after=0.3)
    final = run_batch(client, run.id)
    first, retry = openai_server.chat_requests
    assert final.succeeded == 1
    assert retry.received_at - first.received_at >= 0.3
    client.close()


def test_a_stopped_run_resumes_without_repeating_finished_items(client: Bilan, openai_server) -> None:
    run = start_numbered(client, 10, concurrency=1)
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
    client = client_for(openai_server, sqlite_url, batch_max_file_bytes=1000)
    with pytest.raises(BatchFileError) as caught:
        start_file(client, data, file_name=name)
    assert message in str(caught.value)
    assert stored_counts(client) == (0, 0)
    assert openai_server.chat_requests == []


def test_an_unknown_model_is_refused_before_anything_is_stored(client: Bilan) -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown model 'gpt-9'; the endpoint offers: .*gpt-4o-mini"
    ):
        start_file(client, b"hi\n", options=BatchOptions(model="gpt-9"))
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


def test_unknown_runs_and_server_mode_are_refused(client: Bilan) -> None:
    with pytest.raises(NotFoundError, match="no batch run has id 'nope'"):
        run_batch(client, "nope")
    with pytest.raises(NotFoundError):
        client.get_batch_run("nope")


def test_progress_describes_counts_and_time_left() -> None:
    progress = BatchProgress(total=200, succeeded=35, failed=2, elapsed_s=3.7, done_this_session=37)
    assert progress.describe() == "37/200 done (35 ok, 2 failed) · about 16 s left"
    assert BatchProgress(10, 0, 0, 0.0, 0).seconds_left is None


def test_a_run_reads_as_stopped_when_it_stopped_or_went_quiet(client: Bilan) -> None:
    run = client.get_batch_run(start_numbered(client, 3).id)
    assert run_state(run) == "not started"
    client.set_batch_status(run.id, "running")
    running = client.get_batch_run(run.id)
    assert run_state(running) == "running"
    # Marked running but with nothing finished for over two minutes: a closed tab or a crash cut it off.
    assert run_state(running, now=running.updated_ms + STALE_AFTER_MS + 1) == "stopped"
    assert "0/3 done · stopped" in describe_run(running, now=running.updated_ms + STALE_AFTER_MS + 1)
    client.set_batch_status(run.id, "interrupted")
    assert run_state(client.get_batch_run(run.id)) == "stopped"
    client.set_batch_status(run.id, "completed")
    assert run_state(client.get_batch_run(run.id)) == "completed"


def test_runs_are_described_and_batch_folder_files_listed(client: Bilan, tmp_path, monkeypatch) -> None:
    run = start_numbered(client, 3)
    line = describe_run(client.get_batch_run(run.id))
    assert line.startswith("p.txt · 0/3 done · not started · ") and line.endswith(run.id[:8])
    monkeypatch.setenv("BILAN_DATA_DIR", str(tmp_path / "data"))
    folder = batch_folder(load_settings())
    assert folder == tmp_path / "data" / "batch"
    assert files_to_pick(folder) == []
    folder.mkdir(parents=True)
    for name in ("b.jsonl", "a.csv", "c.TXT", "notes.pdf"):
        (folder / name).write_text("x")
    assert [path.name for path in files_to_pick(folder)] == ["a.csv", "b.jsonl", "c.TXT"]


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
    client = client_for(openai_server, postgres_url)
    run = start_numbered(client, 6, concurrency=1)
    stop = threading.Event()
    halfway = run_batch(client, run.id, on_progress=lambda p: stop.set() if p.done >= 3 else None, stop=stop)
    assert (halfway.status, halfway.succeeded) == ("interrupted", 3)
    final = run_batch(client, run.id)
    assert (final.status, final.succeeded, final.failed) == ("completed", 6, 0)
    results = batch_results(client, run.id, user_id="alice")
    assert results["prompt_id"].nunique() == 6 and len(openai_server.chat_requests) == 6
    assert apply_ratings(client, results, {0: {"vote": "👍 good", "comment": "good"}}).problems == []
    assert batch_rating_table(batch_results(client, run.id, user_id="alice"))["vote"][0] == "👍 good"
    client.close()
