"""Experiments in local mode: a dataset × variants through the batch runner, results, summary, compare."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.experiments.batch_runs import BatchProgress
from bilan_core.experiments.comparisons import record_preference
from bilan_core.experiments.experiment_runs import (
    ExperimentRun,
    compare_runs,
    pairwise_comparison,
    resume_experiment,
    run_experiment,
    start_experiment,
)
from bilan_core.store.models import Turn
from tests.app_support import rows
from tests.fixtures.openai_server import FakeOpenAIServer

ITEMS = [
    {"input": {"country": "France"}, "expected": {"contains": "Paris"}},
    {"input": {"country": "Peru"}, "expected": {"contains": "Lima"}},
    {"input": {"country": "Japan"}},
]
TERSE = {
    "name": "terse",
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of {{ country }}?"},
    ],
    "temperature": 0,
}
CHATTY = {
    "name": "chatty",
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Tell me about the capital of {{country}}."}],
}


@pytest.fixture
def capitals(client: Bilan) -> str:
    client.create_dataset("capitals", ITEMS)
    return "capitals"


def test_every_item_is_asked_of_every_variant_and_recorded(
    client: Bilan, capitals: str, openai_server: FakeOpenAIServer
) -> None:
    openai_server.configure(answer="The capital is Paris.")
    run = run_experiment(client, capitals, [TERSE, CHATTY], name="capitals v1", concurrency=4)
    assert (run.name, run.run.status, run.run.succeeded, run.run.total) == ("capitals v1", "completed", 6, 6)
    sent = sorted(
        (request.body["model"], tuple(m["content"] for m in request.body["messages"]))
        for request in openai_server.chat_requests
    )
    assert ("gpt-4o", ("Tell me about the capital of Peru.",)) in sent
    assert ("gpt-4o-mini", ("Answer in one word.", "Capital of France?")) in sent
    results = run.results()
    assert list(results["item"]) == [1, 2, 3]
    assert list(results["terse: check"]) == [True, False, None]
    assert set(results["chatty: answer"]) == {"The capital is Paris."}
    assert results.filter(like="chatty: ").columns.tolist() == [
        f"chatty: {field}" for field in ("answer", "status", "tokens", "latency_ms", "cost", "vote", "check")
    ]
    cells = run.cells()
    client.vote(cells.loc[0, "prompt_id"], 1)  # terse, France: 👍 and the check passed
    client.vote(cells.loc[2, "prompt_id"], 1)  # terse, Peru: 👍 but the check failed
    summary = run.summary().set_index("variant")
    assert summary.loc["terse", ["items", "errors", "up", "down"]].tolist() == [3, 0, 2, 0]
    assert summary.loc["terse", "positive_rate"] == 1.0 and summary.loc["terse", "ci_low"] < 1.0
    assert summary.loc["terse", "check_pass_rate"] == 0.5
    assert summary.loc["terse", "check_vote_agreement"] == 0.5
    assert summary.loc["chatty", "model"] == "gpt-4o" and summary.loc["chatty", "total_cost"] > 0


def test_a_variant_missing_a_user_message_for_dict_items_is_refused_before_anything_is_stored(
    client: Bilan, capitals: str, openai_server: FakeOpenAIServer
) -> None:
    with pytest.raises(ValueError, match="item 1: variant 'terse' has no user message"):
        start_experiment(client, capitals, [{**TERSE, "messages": "Answer briefly."}])
    with pytest.raises(ValueError, match=r"item 1: no value for \{\{city\}\}"):
        start_experiment(client, capitals, [{"messages": [{"role": "user", "content": "{{city}}?"}]}])
    assert client.recent_experiment_runs() == [] and openai_server.chat_requests == []


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([], "at least one variant"),
        ([CHATTY, CHATTY], "two variants are named 'chatty'"),
        ([{**CHATTY, "colour": "red"}], "unknown field colour"),
        ([{**CHATTY, "temperature": 5}], "temperature must be between 0 and 2"),
        ([{**CHATTY, "messages": [{"role": "user", "content": "{{country"}]}], "unclosed placeholder"),
        ([{**CHATTY, "model": "gpt-9"}], "unknown model 'gpt-9'"),
    ],
)
def test_bad_experiments_are_refused_and_nothing_is_stored(
    client: Bilan, capitals: str, variants: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        start_experiment(client, capitals, variants)
    assert client.recent_experiment_runs() == []


def test_an_empty_or_unknown_dataset_is_refused(client: Bilan) -> None:
    client.create_dataset("empty")
    with pytest.raises(ValueError, match="dataset 'empty' is empty"):
        start_experiment(client, "empty", [CHATTY])
    with pytest.raises(LookupError, match="no dataset is named 'nope'"):
        start_experiment(client, "nope", [CHATTY])
    assert client.recent_experiment_runs() == []


def test_a_stopped_experiment_resumes_where_it_stopped(
    client: Bilan, capitals: str, openai_server: FakeOpenAIServer
) -> None:
    started = start_experiment(client, capitals, [TERSE, CHATTY], concurrency=1)
    stop = threading.Event()

    def stop_after_two(progress: BatchProgress) -> None:
        if progress.done >= 2:
            stop.set()

    stopped = resume_experiment(client, started.id, on_progress=stop_after_two, stop=stop)
    assert (stopped.run.status, stopped.run.succeeded) == ("interrupted", 2)
    finished = resume_experiment(client, started.id)
    assert (finished.run.status, finished.run.succeeded) == ("completed", 6)
    assert len(openai_server.chat_requests) == 6
    assert client.recent_batch_runs() == []  # experiments are not listed among batch runs


def test_compare_runs_shows_flipped_verdicts_and_deltas(
    client: Bilan, capitals: str, openai_server: FakeOpenAIServer
) -> None:
    openai_server.configure(answer="Paris")
    before = run_experiment(client, capitals, [TERSE])
    openai_server.configure(answer="Lima")
    after = run_experiment(client, capitals, [TERSE])
    client.vote(before.cells().loc[2, "prompt_id"], 1)
    client.vote(after.cells().loc[2, "prompt_id"], -1)
    comparison = compare_runs(before, after)
    flipped = comparison.flips.set_index("item")
    assert sorted(flipped.index) == [1, 2, 3]
    assert flipped.loc[1, ["check_a", "check_b"]].tolist() == [True, False]
    assert flipped.loc[3, ["vote_a", "vote_b"]].tolist() == [1, -1]
    assert comparison.deltas["variant"].tolist() == ["terse"]


def test_blind_pairwise_verdicts_feed_the_experiments_own_leaderboard(client: Bilan, capitals: str) -> None:
    run = run_experiment(client, capitals, [TERSE, CHATTY])
    for item in (1, 2):
        comparison = pairwise_comparison(run, item, "terse", "chatty")
        winner = "a" if comparison.label_a == "chatty" else "b"
        record_preference(client, comparison.id, winner)
    assert run.pairwise_wins() == {"chatty": 2}
    assert run.summary().set_index("variant")["pairwise_wins"].to_dict() == {"terse": 0, "chatty": 2}
    assert run.leaderboard(min_votes=1).total_votes == 2
    other = ExperimentRun(client, run_experiment(client, capitals, [TERSE]).run)
    assert other.pairwise_wins() == {}


def test_a_prompt_version_is_a_variant_and_its_turns_record_the_version(client: Bilan, capitals: str) -> None:
    version = client.create_prompt(
        "capital-finder",
        [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "Capital of {{country}}?"}],
        model="gpt-4o",
        params={"temperature": 0.1},
    )
    run = run_experiment(client, capitals, [version, CHATTY])
    assert [variant.name for variant in run.settings.variants] == ["capital-finder v1", "chatty"]
    assert run.settings.variants[0].params == {"temperature": 0.1}
    assert run.run.succeeded == 6
    assert client.engine is not None
    recorded = {
        (turn.prompt_name, turn.prompt_number, turn.prompt_version) for turn in rows(client.engine, Turn)
    }
    assert recorded == {("capital-finder", 1, "capital-finder v1"), (None, None, "chatty")}


def test_the_module_functions_run_resume_and_compare_by_id(
    sqlite_url: str, openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    import bilan_core as bilan

    bilan.init(
        user_id="alice", database_url=sqlite_url, openai_base_url=openai_server.base_url, openai_api_key="sk"
    )
    try:
        lines = '{"prompt": "2+2?", "expected": {"regex": "4"}}\n{"prompt": "Hi"}\n'
        (tmp_path / "qa.jsonl").write_text(lines)
        bilan.import_dataset("qa", str(tmp_path / "qa.jsonl"))
        bilan.add_dataset_items("qa", ["Bye"])
        assert bilan.get_dataset("qa").dataset.size == 3
        first = bilan.run_experiment("qa", [{"name": "plain"}], name="first")
        again = bilan.resume_experiment(first.id)
        assert (again.run.status, again.run.succeeded) == ("completed", 3)
        second = bilan.run_experiment("qa", [{"name": "plain", "messages": "Be brief."}])
        comparison = bilan.compare_runs(first.id, second.id)
        assert comparison.flips.empty and comparison.deltas["variant"].tolist() == ["plain"]
    finally:
        bilan.close()
