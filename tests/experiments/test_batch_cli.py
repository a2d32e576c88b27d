"""``python -m bilan_core batch``: runs, bad input, and a run killed halfway then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from bilan_core.cli import main
from bilan_core.store.engine import get_engine
from bilan_core.store.models import BatchItem, BatchRun
from tests.fixtures.openai_server import FakeOpenAIServer, Fault

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def environment(
    sqlite_url: str, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    values = {
        "BILAN_DATABASE_URL": sqlite_url,
        "OPENAI_BASE_URL": openai_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "BILAN_TELEMETRY": "false",
        "BILAN_MAX_RETRIES": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def write_prompts(folder: Path, count: int) -> Path:
    path = folder / "prompts.txt"
    path.write_text("".join(f"Prompt {n}\n" for n in range(count)), encoding="utf-8")
    return path


def runs_and_items(url: str) -> tuple[list[BatchRun], list[BatchItem]]:
    with Session(get_engine(url)) as session:
        return list(session.exec(select(BatchRun)).all()), list(session.exec(select(BatchItem)).all())


def test_a_batch_command_runs_a_file(
    environment: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_prompts(tmp_path, 5)
    assert main(["batch", str(path), "--model", "gpt-4o", "--concurrency", "3"]) == 0
    captured = capsys.readouterr()
    runs, items = runs_and_items(environment["BILAN_DATABASE_URL"])
    assert f"run {runs[0].id} completed: 5 ok, 0 failed of 5" in captured.out
    assert "5/5 done (5 ok, 0 failed)" in captured.err
    assert runs[0].settings["concurrency"] == 3 and {item.status for item in items} == {"ok"}


def test_failed_items_make_the_exit_code_1(
    environment: dict[str, str], tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    path = write_prompts(tmp_path, 3)
    openai_server.queue(Fault())  # the model list answers normally
    openai_server.fail(503, "overloaded")  # the first chat call fails
    assert main(["batch", str(path), "--model", "gpt-4o", "--concurrency", "1"]) == 1
    runs, _items = runs_and_items(environment["BILAN_DATABASE_URL"])
    assert (runs[0].succeeded, runs[0].failed) == (2, 1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["batch"], "give a FILE of prompts, or --resume RUN_ID"),
        (["batch", "missing.csv", "--model", "gpt-4o"], "no such file"),
        (["batch", "--resume", "nope"], "no batch run has id 'nope'"),
        (["batch", "x.txt", "--resume", "nope"], "either a FILE or --resume"),
        (["batch", "{path}", "--model", "gpt-9"], "unknown model 'gpt-9'"),
        (["batch", "{path}", "--model", "gpt-4o", "--concurrency", "0"], "concurrency must be"),
    ],
)
def test_bad_commands_fail_clearly_and_store_nothing(
    environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    path = write_prompts(tmp_path, 2)
    assert main([argument.replace("{path}", str(path)) for argument in arguments]) == 2
    assert message in capsys.readouterr().err
    assert runs_and_items(environment["BILAN_DATABASE_URL"]) == ([], [])


def test_a_killed_run_resumes_and_stores_every_item_exactly_once(
    environment: dict[str, str], tmp_path: Path, openai_server: FakeOpenAIServer
) -> None:
    count = 30
    path = write_prompts(tmp_path, count)
    openai_server.configure(answer_delay=0.1)
    command = [
        sys.executable,
        "-m",
        "bilan_core",
        "batch",
        str(path),
        "--model",
        "gpt-4o",
        "--concurrency",
        "2",
    ]
    child_env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = get_engine(environment["BILAN_DATABASE_URL"])
    try:
        finished_before_kill = _wait_for_finished_items(engine, at_least=8, process=process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    runs, items = runs_and_items(environment["BILAN_DATABASE_URL"])
    assert runs[0].succeeded < count, "the run finished before it could be killed"
    done_before = {item.prompt for item in items if item.status == "ok"}
    assert len(done_before) >= finished_before_kill

    assert main(["batch", "--resume", runs[0].id]) == 0
    runs, items = runs_and_items(environment["BILAN_DATABASE_URL"])
    assert (runs[0].status, runs[0].succeeded, runs[0].failed) == ("completed", count, 0)
    assert sorted(item.position for item in items) == list(range(count))
    assert {item.status for item in items} == {"ok"} and len({item.prompt_id for item in items}) == count
    # A request the kill cut before its body was sent has no body: it never reached the model.
    sent = [request.body for request in openai_server.chat_requests if isinstance(request.body, dict)]
    asked = [body["messages"][-1]["content"] for body in sent]
    for prompt in done_before:
        assert asked.count(prompt) == 1, f"{prompt!r} was asked again after it had finished"
    assert set(asked) == {f"Prompt {n}" for n in range(count)}


def _wait_for_finished_items(engine, *, at_least: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch process ended on its own"
        with Session(engine) as session:
            done = session.exec(select(func.count()).where(BatchItem.status == "ok")).one()
        if done >= at_least:
            return done
        time.sleep(0.02)
    raise AssertionError("the batch process made no progress")
