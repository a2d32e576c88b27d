"""Exports parse back: CSV columns, OpenAI fine-tuning and DPO JSONL (validated by JSON Schema), the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bilan_core.analytics.dashboard import AnalyticsFilter
from bilan_core.analytics.exports import CSV_COLUMNS, export_bytes, export_to_file
from bilan_core.cli import main as cli_main
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.server.api_keys import create_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings
from bilan_core.store.demo_data import seed_demo_data
from bilan_core.store.engine import get_engine, session_scope
from bilan_core.store.models import Comparison
from bilan_core.store.votes import cast_vote
from tests.helpers import add_turn

PROJECT = Path(__file__).resolve().parents[2]
DAY0 = 20_000 * MS_PER_DAY
EVERYTHING = AnalyticsFilter()
SYSTEM = {"role": "system", "content": "Be brief."}
TRICKY_COMMENT = 'Line one,\nline "two" <script>alert(1)</script> é 👍'

MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"type": "string"},
    },
}
ASSISTANT_ONLY = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1,
    "items": {**MESSAGE, "properties": {"role": {"const": "assistant"}, "content": {"type": "string"}}},
}
# OpenAI's chat fine-tuning line: a conversation that ends with the assistant's answer.
FINETUNE_LINE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 2,
            "items": MESSAGE,
            "contains": {"properties": {"role": {"const": "assistant"}}},
        }
    },
}
# OpenAI's preference (DPO) line: the request, one preferred and one non-preferred answer.
DPO_LINE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["input", "preferred_output", "non_preferred_output"],
    "properties": {
        "input": {
            "type": "object",
            "required": ["messages"],
            "properties": {"messages": {"type": "array", "minItems": 1, "items": MESSAGE}},
        },
        "preferred_output": ASSISTANT_ONLY,
        "non_preferred_output": ASSISTANT_ONLY,
    },
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return get_engine(url)


def turn(engine: Engine, prompt_id: str, *, prompt: str, answer: str | None, **fields: object) -> str:
    fields.setdefault("messages", [SYSTEM, {"role": "user", "content": prompt}])
    fields.setdefault("created_ms", DAY0)
    return add_turn(engine, prompt_id=prompt_id, prompt_text=prompt, response=answer, **fields)


def vote(
    engine: Engine, prompt_id: str, value: int, *, user: str = "alice", comment: str | None = None
) -> None:
    cast_vote(engine, prompt_id=prompt_id, user_id=user, value=value, comment=comment, at_ms=DAY0 + 1)


def seed(engine: Engine) -> None:
    """Paris: a 👍 and a 👎 answer to the same request; Rome: 👍 only, on another model, a day later;
    a 2+1 split vote (net 👍); an error; a turn without votes; an old-style turn without messages."""
    turn(engine, "paris-good", prompt="Capital of France?", answer="Paris.", prompt_tokens=5)
    turn(engine, "paris-bad", prompt="Capital of France?", answer="Lyon, I think.")
    vote(engine, "paris-good", 1, comment=TRICKY_COMMENT)
    vote(engine, "paris-good", 1, user="bob")
    vote(engine, "paris-bad", -1)
    turn(
        engine,
        "rome",
        prompt="Capital of Italy?",
        answer="Rome.",
        model="gpt-4o",
        created_ms=DAY0 + MS_PER_DAY,
    )
    vote(engine, "rome", 1)
    turn(engine, "split", prompt="Capital of Spain?", answer="Madrid.")
    vote(engine, "split", 1)
    vote(engine, "split", 1, user="bob")
    vote(engine, "split", -1, user="chloe")
    turn(engine, "failed", prompt="Capital of Peru?", answer=None, status="error")
    vote(engine, "failed", -1)
    turn(engine, "unvoted", prompt="Capital of Chile?", answer="Santiago.")
    turn(engine, "bare", prompt="Capital of Japan?", answer="Tokyo.", messages=None)
    vote(engine, "bare", 1)


def read_csv(engine: Engine, where: AnalyticsFilter = EVERYTHING) -> list[dict[str, str]]:
    text = export_bytes(engine, "csv", where).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


def read_jsonl(engine: Engine, kind: str, where: AnalyticsFilter = EVERYTHING) -> list[dict]:
    text = export_bytes(engine, kind, where).decode("utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        jsonschema.validate(line, FINETUNE_LINE if kind == "finetune" else DPO_LINE)
    return lines


def test_csv_has_one_row_per_vote_and_one_per_unvoted_turn(engine: Engine) -> None:
    seed(engine)
    rows = read_csv(engine)
    per_turn = {
        prompt_id: sum(r["prompt_id"] == prompt_id for r in rows)
        for prompt_id in {r["prompt_id"] for r in rows}
    }
    assert per_turn == {
        "paris-good": 2,
        "paris-bad": 1,
        "rome": 1,
        "split": 3,
        "failed": 1,
        "unvoted": 1,
        "bare": 1,
    }
    unvoted = next(r for r in rows if r["prompt_id"] == "unvoted")
    assert (unvoted["vote_value"], unvoted["vote_user_id"], unvoted["vote_comment"]) == ("", "", "")
    commented = next(r for r in rows if r["vote_comment"])
    assert commented["vote_comment"] == TRICKY_COMMENT
    assert (commented["prompt_id"], commented["vote_value"], commented["vote_user_id"]) == (
        "paris-good",
        "1",
        "alice",
    )
    assert commented["created"] == "2024-10-04T00:00:00+00:00"
    assert commented["prompt_tokens"] == "5"
    assert next(r for r in rows if r["prompt_id"] == "failed")["status"] == "error"


def test_csv_follows_the_filters(engine: Engine) -> None:
    seed(engine)
    only_4o = read_csv(engine, AnalyticsFilter(models=("gpt-4o",)))
    assert [r["prompt_id"] for r in only_4o] == ["rome"]
    day_one = read_csv(engine, AnalyticsFilter(start_ms=DAY0 + MS_PER_DAY, end_ms=DAY0 + 2 * MS_PER_DAY))
    assert [r["prompt_id"] for r in day_one] == ["rome"]
    assert read_csv(engine, AnalyticsFilter(users=("nobody",))) == []


def test_finetune_lines_are_the_net_positive_successful_answers(engine: Engine) -> None:
    seed(engine)
    lines = read_jsonl(engine, "finetune")
    assert [line["messages"] for line in lines] == [
        [
            SYSTEM,
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
        ],
        [
            SYSTEM,
            {"role": "user", "content": "Capital of Spain?"},
            {"role": "assistant", "content": "Madrid."},
        ],
        [{"role": "user", "content": "Capital of Japan?"}, {"role": "assistant", "content": "Tokyo."}],
        [SYSTEM, {"role": "user", "content": "Capital of Italy?"}, {"role": "assistant", "content": "Rome."}],
    ]
    assert len(read_jsonl(engine, "finetune", AnalyticsFilter(models=("gpt-4o",)))) == 1


def test_finetune_writes_each_example_once(engine: Engine) -> None:
    # The same question answered the same way three times (e.g. a batch run twice), each answer 👍;
    # a different answer to it, and the same answer to another question, stay.
    for prompt, answer in [("Q?", "A.")] * 3 + [("Q?", "Other."), ("Also Q?", "A.")]:
        prompt_id = add_turn(engine, prompt_text=prompt, response=answer, created_ms=DAY0)
        cast_vote(engine, prompt_id=prompt_id, user_id="ann", value=1)
    lines = read_jsonl(engine, "finetune")
    assert [[m["content"] for m in line["messages"]] for line in lines] == [
        ["Q?", "A."],
        ["Q?", "Other."],
        ["Also Q?", "A."],
    ]


def test_dpo_pairs_opposite_votes_on_the_same_request(engine: Engine) -> None:
    seed(engine)
    # Same prompt text, different system prompt: a different request, never paired with Paris.
    turn(
        engine,
        "paris-other-system",
        prompt="Capital of France?",
        answer="Marseille.",
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Capital of France?"},
        ],
    )
    vote(engine, "paris-other-system", -1)
    lines = read_jsonl(engine, "dpo")
    assert lines == [
        {
            "input": {"messages": [SYSTEM, {"role": "user", "content": "Capital of France?"}]},
            "preferred_output": [{"role": "assistant", "content": "Paris."}],
            "non_preferred_output": [{"role": "assistant", "content": "Lyon, I think."}],
        }
    ]
    assert read_jsonl(engine, "dpo", AnalyticsFilter(models=("gpt-4o",))) == []


def test_dpo_adds_decided_ab_comparisons_and_skips_ties(engine: Engine) -> None:
    turn(engine, "a1", prompt="Name a colour", answer="Blue.", model="gpt-4o")
    turn(engine, "b1", prompt="Name a colour", answer="Colours are subjective.", model="gpt-4o-mini")
    turn(engine, "a2", prompt="Say hi", answer="Hi!", model="gpt-4o")
    turn(engine, "b2", prompt="Say hi", answer="Hello.", model="gpt-4o-mini")
    with session_scope(engine) as session:
        for number, (a, b, winner) in enumerate((("a1", "b1", "a"), ("a2", "b2", "b"), ("a2", "b2", "tie"))):
            session.add(
                Comparison(
                    id=f"cmp-{number}",
                    user_id="alice",
                    prompt="p",
                    label_a="A",
                    label_b="B",
                    prompt_id_a=a,
                    prompt_id_b=b,
                    winner=winner,
                    created_ms=DAY0 + number,
                )
            )
    lines = read_jsonl(engine, "dpo")
    assert [
        (line["preferred_output"][0]["content"], line["non_preferred_output"][0]["content"]) for line in lines
    ] == [
        ("Blue.", "Colours are subjective."),
        ("Hello.", "Hi!"),
    ]
    assert lines[1]["input"]["messages"][-1] == {"role": "user", "content": "Say hi"}
    assert read_jsonl(engine, "dpo", AnalyticsFilter(models=("llama",))) == []
    assert len(read_jsonl(engine, "dpo", AnalyticsFilter(start_ms=DAY0 + 1, end_ms=DAY0 + 10))) == 1


def test_demo_data_exports_are_valid_openai_files(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    seed_demo_data(engine, turns=2_000, seed=3, at_ms=DAY0)
    finetune = read_jsonl(engine, "finetune")
    dpo = read_jsonl(engine, "dpo")
    # Demo answers repeat (a few canned answers per prompt): each fine-tuning example is written once.
    distinct = {json.dumps(line, sort_keys=True) for line in finetune}
    assert len(finetune) == len(distinct) > 50 and len(dpo) > 10
    for pair in dpo:
        assert pair["preferred_output"] != pair["non_preferred_output"]
    assert len(read_csv(engine)) == 2_000  # demo data has at most one vote per turn


def test_export_to_file_replaces_the_file_only_when_the_export_succeeds(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = get_engine(sqlite_url)
    seed(engine)
    out = tmp_path / "out.csv"
    out.write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="export kind must be one of csv, finetune, dpo"):
        export_to_file(engine, "xml", EVERYTHING, out)
    assert out.read_text(encoding="utf-8") == "keep me"
    assert export_to_file(engine, "csv", EVERYTHING, out) == 10
    assert out.read_bytes() == export_bytes(engine, "csv", EVERYTHING)
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(ValueError, match="is a folder"):
        export_to_file(engine, "csv", EVERYTHING, tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        export_to_file(engine, "csv", EVERYTHING, tmp_path / "missing" / "out.csv")


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BILAN_DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT)}
    return subprocess.run(
        [sys.executable, "-m", "bilan_core", "export", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_cli_writes_each_kind_with_filters(sqlite_url: str, tmp_path: Path) -> None:
    seed(get_engine(sqlite_url))
    result = run_cli(
        "--kind", "csv", "--out", str(tmp_path / "t.csv"), "--model", "gpt-4o", database_url=sqlite_url
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 1 rows" in result.stdout
    assert [r["prompt_id"] for r in csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8"))] == ["rome"]
    result = run_cli(
        "--kind", "finetune", "--out", str(tmp_path / "f.jsonl"), "--user", "alice", database_url=sqlite_url
    )
    assert result.returncode == 0, result.stderr
    for line in (tmp_path / "f.jsonl").read_text(encoding="utf-8").splitlines():
        jsonschema.validate(json.loads(line), FINETUNE_LINE)
    result = run_cli(
        "--kind",
        "dpo",
        "--out",
        str(tmp_path / "d.jsonl"),
        "--start-ms",
        str(DAY0),
        "--end-ms",
        str(DAY0 + MS_PER_DAY),
        database_url=sqlite_url,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 1 lines" in result.stdout
    # --days counts back from now: the 2024 data is outside the last 7 days.
    result = run_cli(
        "--kind", "finetune", "--out", str(tmp_path / "recent.jsonl"), "--days", "7", database_url=sqlite_url
    )
    assert (result.returncode, (tmp_path / "recent.jsonl").read_text(encoding="utf-8")) == (0, "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.csv"], "the following arguments are required: --kind"),
        (["--kind", "xml", "--out", "x.csv"], "invalid choice: 'xml'"),
        (["--kind", "csv"], "the following arguments are required: --out"),
        (["--kind", "csv", "--out", "x.csv", "--days", "0"], "must be at least 1, got 0"),
        (["--kind", "csv", "--out", "x.csv", "--days", "soon"], "must be a whole number, got 'soon'"),
        (["--kind", "csv", "--out", "x.csv", "--days", "3", "--start-ms", "5"], "not allowed with argument"),
        (["--kind", "csv", "--out", "x.csv", "--start-ms", "10", "--end-ms", "5"], "the time range is empty"),
        (["--kind", "csv", "--out", "no/such/folder/x.csv"], "does not exist"),
        (["--kind", "csv", "--out", "."], "is a folder"),
    ],
)
def test_cli_refuses_bad_arguments_with_a_clear_message(
    sqlite_url: str,
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In this process (the command's own parser and error handling; the subprocess tests above cover
    # the entry point): an exception the command does not turn into a message fails the test.
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    try:
        code = cli_main(["export", *args])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not Path("x.csv").exists()


FORMULAS = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


def test_csv_cells_a_spreadsheet_would_evaluate_are_written_as_text(engine: Engine) -> None:
    for number, formula in enumerate(FORMULAS):
        turn(engine, f"formula-{number}", prompt=formula, answer=formula)
        vote(engine, f"formula-{number}", 1, comment=formula)

    rows = read_csv(engine)

    assert [row["prompt_text"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert all(row["response"] == row["prompt_text"] for row in rows)
    assert [row["vote_comment"] for row in rows[:4]] == ["'" + formula for formula in FORMULAS[:4]]
    assert rows[0]["vote_value"] == "1"  # numbers stay numbers


def test_export_on_a_server_database_reads_the_named_project(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(load_settings(database_url=sqlite_url, rate_limit=0))
    with TestClient(app) as client:
        for project, turns in (("shop", 3), ("blog", 1)):
            key = create_key(app.state.engine, project=project).key
            events = [
                {
                    "eventId": f"{project}-{n}",
                    "eventType": "turn_started",
                    "userId": "ann",
                    "timestamp": now_ms(),
                    "properties": {"turnId": f"{project}-turn-{n}", "model": "gpt-4o"},
                }
                for n in range(turns)
            ]
            client.post("/api/events", json=events, headers={"Authorization": f"Bearer {key}"})
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    out = tmp_path / "shop.csv"
    assert cli_main(["export", "--kind", "csv", "--out", str(out), "--project", "shop"]) == 0
    assert [row["prompt_id"] for row in csv.DictReader(out.open())] == [f"shop-turn-{n}" for n in range(3)]
    assert cli_main(["export", "--kind", "csv", "--out", str(out)]) == 0  # local mode's data: none here
    assert list(csv.DictReader(out.open())) == []
    assert cli_main(["export", "--kind", "csv", "--out", str(out), "--project", "nope"]) == 2
    assert "no project is named 'nope'" in capsys.readouterr().err
