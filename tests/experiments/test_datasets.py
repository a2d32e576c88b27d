"""Datasets in local mode: create, add, read, import files, turns into items; bad input stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.errors import NotFoundError
from bilan_core.experiments.batch_files import BatchFileError
from bilan_core.experiments.datasets import import_dataset
from bilan_core.store.checks import check_answer, parse_check

CAPITALS = [
    {"input": {"country": "France"}, "expected": {"contains": "Paris"}},
    {"input": "What is 2+2?", "expected": "4", "metadata": {"topic": "maths"}},
]


def test_a_dataset_is_created_read_and_grown_in_order(client: Bilan) -> None:
    created = client.create_dataset("capitals", CAPITALS, description="smoke set")
    assert (created.name, created.size, created.description) == ("capitals", 2, "smoke set")
    grown = client.add_dataset_items("capitals", ["Name a colour"])
    assert grown.size == 3
    contents = client.get_dataset("capitals")
    assert [item.position for item in contents.items] == [0, 1, 2]
    assert [item.input for item in contents.items] == [{"country": "France"}, "What is 2+2?", "Name a colour"]
    assert contents.items[0].expected == {"contains": "Paris"}
    assert contents.items[1].item_metadata == {"topic": "maths"}
    assert [dataset.name for dataset in client.list_datasets()] == ["capitals"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"input": ""}], "item 1: input"),
        ([{"input": "ok"}, {"input": {"bad name": "x"}}], "item 2: input"),
        ([{"input": "ok", "expected": {"regex": "("}}], "not valid"),
        ([{"input": "ok", "expected": {"smells": "nice"}}], "unknown check 'smells'"),
        ([{"input": "ok", "expected": {"json_schema": {"type": 5}}}], "schema is not valid"),
        ([{"input": "ok", "colour": "red"}], "Extra inputs are not permitted"),
        ("one text", "a list of items"),
    ],
)
def test_bad_items_are_refused_by_name_and_nothing_is_stored(
    client: Bilan, items: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.create_dataset("broken", items)  # type: ignore[arg-type]
    assert client.list_datasets() == []


def test_duplicate_names_and_unknown_datasets_are_clear_errors(client: Bilan) -> None:
    client.create_dataset("smoke", ["hi"])
    with pytest.raises(ValueError, match="a dataset named 'smoke' already exists"):
        client.create_dataset("smoke", ["other"])
    with pytest.raises(NotFoundError, match=r"no dataset is named 'smok' \(datasets: 'smoke'\)"):
        client.add_dataset_items("smok", ["x"])
    assert client.get_dataset("smoke").dataset.size == 1


def test_disliked_answers_become_a_regression_set(client: Bilan) -> None:
    answer = client.create_chat_completion(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain tides"}],
        model="gpt-4o",
    )
    client.vote(answer.prompt_id, -1, "too long")
    client.create_dataset("regressions")
    with pytest.raises(NotFoundError, match="no turn has prompt_id 'nope'"):
        client.add_turns_to_dataset("regressions", [answer.prompt_id, "nope"])
    assert client.get_dataset("regressions").items == []
    client.add_turns_to_dataset("regressions", [answer.prompt_id])
    [item] = client.get_dataset("regressions").items
    assert (item.input, item.source_prompt_id) == ("Explain tides", answer.prompt_id)
    assert item.item_metadata is not None and item.item_metadata["system"] == "Be brief."


def test_datasets_import_from_csv_and_jsonl(client: Bilan, tmp_path: Path) -> None:
    csv_file = tmp_path / "capitals.csv"
    csv_file.write_text(
        'country,expected,meta.source\nFrance,"{""contains"": ""Paris""}",atlas\nPeru,Lima,\n'
    )
    jsonl_file = tmp_path / "qa.jsonl"
    jsonl_file.write_text('{"prompt": "2+2?", "expected": {"regex": "^4"}}\n{"input": {"topic": "tea"}}\n')
    import_dataset(client, "capitals", csv_file)
    import_dataset(client, "qa", jsonl_file)
    capitals = client.get_dataset("capitals").items
    assert [(item.input, item.expected) for item in capitals] == [
        ({"country": "France"}, {"contains": "Paris"}),
        ({"country": "Peru"}, "Lima"),
    ]
    assert capitals[0].item_metadata == {"source": "atlas"}
    assert [item.input for item in client.get_dataset("qa").items] == ["2+2?", {"topic": "tea"}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("only.csv", "expected,meta.x\n4,y\n", "no usable column"),
        ("bad.jsonl", '{"prompt": "a"}\n{"expected": "4"}\n', "line 2: nothing to use as the input"),
        ("check.csv", 'prompt,expected\nhi,"{oops"\n', "line 2: 'expected' starts like a JSON check"),
        ("rule.csv", 'prompt,expected\nhi,"{""regex"": ""[""}"\n', "line 2: expected: the regex check"),
    ],
)
def test_unusable_dataset_files_are_refused_and_nothing_is_stored(
    client: Bilan, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BatchFileError, match=message):
        import_dataset(client, "imported", path)
    assert client.list_datasets() == []


@pytest.mark.parametrize(
    ("expected", "answer", "passed"),
    [
        ("Paris", "  Paris\n", True),
        ({"equals": "Paris"}, "Paris, France", False),
        ({"contains": "Paris"}, "It is Paris.", True),
        ({"regex": r"^\d+$"}, "42", True),
        ({"json": True}, '```json\n{"a": 1}\n```', True),
        ({"json": True}, "{a: 1}", False),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', True),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '{"b": 1}', False),
        (None, "anything", None),
    ],
)
def test_checks_on_expected(expected: object, answer: str, passed: bool | None) -> None:
    assert check_answer(expected, answer) is passed
    assert check_answer(expected, None) is None
    assert (parse_check(expected) is None) is (expected is None)
