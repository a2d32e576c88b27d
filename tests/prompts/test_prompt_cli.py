"""``python -m bilan_core prompts``: list, show, push (JSON, YAML; all or nothing) and label, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bilan_core import Bilan, load_settings
from bilan_core.cli import main

YAML = """
- name: support
  messages:
    - role: system
      content: You answer for {{company}}.
    - role: user
      content: "{{question}}"
  params: {temperature: 0.2}
  labels: [production]
  note: first
- name: sales
  messages: Sell {{product}}.
"""


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("USER_ID", "ana")
    return sqlite_url


def test_push_list_show_and_label(database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "prompts.yaml").write_text(YAML, encoding="utf-8")
    assert main(["prompts", "push", str(tmp_path / "prompts.yaml")]) == 0
    assert "saved support v1 (latest, production)" in capsys.readouterr().out
    second = {"name": "support", "messages": "Short for {{company}}.", "labels": ["staging"]}
    (tmp_path / "v2.json").write_text(json.dumps(second), encoding="utf-8")
    assert main(["prompts", "push", str(tmp_path / "v2.json")]) == 0
    assert main(["prompts", "label", "support", "2", "production"]) == 0
    assert "production now points at support v2" in capsys.readouterr().out
    assert main(["prompts", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == [
        "sales\tv1\t1 version(s)\tlatest=v1",
        "support\tv2\t2 version(s)\tlatest=v2, production=v2, staging=v2",
    ]
    assert main(["prompts", "show", "support", "--version", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["version"], shown["note"], shown["author"], shown["params"]) == (
        1,
        "first",
        "ana",
        {"temperature": 0.2},
    )
    assert main(["prompts", "show", "support"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2


@pytest.mark.parametrize(
    ("file_name", "content", "problem"),
    [
        ("bad.txt", "x", "a prompt file is .json or .yaml"),
        ("bad.json", "{", "Expecting property name"),
        ("bad.yaml", "name: [", "not valid YAML"),
        ("bad.json", "[]", "holds no prompt"),
        ("bad.json", '[{"name": "a"}]', "prompt 1 must be a mapping with 'name' and 'messages'"),
        ("bad.json", '{"name": "a", "messages": "x", "colour": 1}', "unknown field(s): colour"),
        ("bad.json", '[{"name": "a", "messages": "x"}, {"name": "a", "messages": "y"}]', "given twice: a"),
        ("bad.json", '[{"name": "a", "messages": "ok"}, {"name": "b", "messages": "{{oops"}]', "unclosed"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_stored(
    database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_name: str,
    content: str,
    problem: str,
) -> None:
    (tmp_path / file_name).write_text(content, encoding="utf-8")
    assert main(["prompts", "push", str(tmp_path / file_name)]) == 2
    assert problem in capsys.readouterr().err
    assert Bilan(load_settings(database_url=database)).list_prompts() == []


def test_unknown_names_are_clear_errors(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", "show", "nothing"]) == 2
    assert "no prompt named 'nothing': no prompt has been created yet" in capsys.readouterr().err
    assert main(["prompts", "label", "nothing", "1", "production"]) == 2
    assert main(["prompts", "show", "nothing", "--version", "0"]) == 2
    assert "whole number from 1" in capsys.readouterr().err
