"""``python -m bilan_core experiment``: import a dataset, run, show, resume; bad specs store nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilan_core.cli import main
from bilan_core.client.bilan import Bilan
from bilan_core.experiments.experiment_runs import start_experiment
from bilan_core.settings import load_settings
from tests.fixtures.openai_server import FakeOpenAIServer


@pytest.fixture
def local(sqlite_url: str, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Bilan:
    for name, value in {
        "BILAN_DATABASE_URL": sqlite_url,
        "OPENAI_BASE_URL": openai_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "BILAN_TELEMETRY": "false",
        "BILAN_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return Bilan(load_settings())


def test_import_run_show_and_resume_from_the_command_line(
    local: Bilan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "capitals.csv"
    data.write_text("country,expected\nFrance,Paris\nPeru,Lima\n")
    assert main(["experiment", "import-dataset", "capitals", str(data)]) == 0
    assert "dataset capitals: 2 items" in capsys.readouterr().out
    ask = {"role": "user", "content": "Capital of {{country}}?"}
    finder = [{"role": "system", "content": "Be exact."}, ask]
    local.create_prompt("finder", finder, model="gpt-4o")
    local.set_prompt_label("finder", 1, "production")
    code = main(
        [
            "experiment", "run", "--dataset", "capitals", "--concurrency", "2",
            "--variant", "name=terse,model=gpt-4o-mini,system=Answer in one word, no more.,user={{country}}?",
            "--variant", "prompt=finder@production,temperature=0.2",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "completed: 4 ok, 0 failed" in printed
    assert "terse" in printed and "finder v1" in printed
    [run] = local.recent_experiment_runs()
    assert run.settings is not None and run.settings["variants"][0]["messages"][0] == {
        "role": "system",
        "content": "Answer in one word, no more.",
    }
    assert main(["experiment", "show", run.id]) == 0
    assert "positive_rate" in capsys.readouterr().out
    pending = start_experiment(local, "capitals", [{"messages": [ask]}])
    assert main(["experiment", "resume", pending.id]) == 0
    assert local.get_batch_run(pending.id).status == "completed"


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("colour=red", "expected key=value pairs"),
        ("model=gpt-4o,temperature=hot", "temperature='hot' is not a number"),
        ('{"model": ', "is not valid JSON"),
        ("prompt=nope", "nope"),
    ],
)
def test_bad_variant_specs_are_refused_and_nothing_is_stored(
    local: Bilan, capsys: pytest.CaptureFixture[str], variant: str, message: str
) -> None:
    local.create_dataset("smoke", ["hi"])
    assert main(["experiment", "run", "--dataset", "smoke", "--variant", variant]) == 2
    assert message in capsys.readouterr().err
    assert local.recent_experiment_runs() == []
