"""Reading batch files: the three formats, and a clear error for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bilan_core.experiments.batch_files import BatchFileError, BatchPrompt, parse_batch_file, read_batch_path

LIMIT = 10_000_000


def test_csv_keeps_the_other_columns_as_metadata() -> None:
    data = b'id,prompt,topic\n1,"Hello, world",greeting\n2,"Line one\nline two",multi\n'
    assert parse_batch_file("prompts.csv", data, max_bytes=LIMIT) == [
        BatchPrompt("Hello, world", {"id": "1", "topic": "greeting"}),
        BatchPrompt("Line one\nline two", {"id": "2", "topic": "multi"}),
    ]


def test_csv_with_a_byte_order_mark_and_spaced_header() -> None:
    data = "\ufeff prompt ,lang\nBonjour,fr\n".encode()
    assert parse_batch_file("x.CSV", data, max_bytes=LIMIT) == [BatchPrompt("Bonjour", {"lang": "fr"})]


def test_txt_is_one_prompt_a_line_skipping_blank_lines() -> None:
    data = b"First question\n\n  Second question  \r\nThird\n"
    prompts = parse_batch_file("p.txt", data, max_bytes=LIMIT)
    assert [item.prompt for item in prompts] == ["First question", "Second question", "Third"]
    assert all(item.metadata == {} for item in prompts)


def test_jsonl_objects_with_a_prompt() -> None:
    data = b'{"prompt": "What is 2+2?", "expected": "4"}\n\n{"prompt": "Name a colour", "n": 2}\n'
    assert parse_batch_file("p.jsonl", data, max_bytes=LIMIT) == [
        BatchPrompt("What is 2+2?", {"expected": "4"}),
        BatchPrompt("Name a colour", {"n": 2}),
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("blank.txt", b"  \n\n", "blank.txt is empty"),
        ("header-only.csv", b"prompt,topic\n", "has no prompts"),
        ("nocol.csv", b"question,topic\nhi,x\n", "no 'prompt' column (columns found: 'question', 'topic')"),
        ("gap.csv", b"prompt,topic\nhi,x\n,y\n", "gap.csv, line 3: the prompt is empty"),
        ("wide.csv", b"prompt\nhi,extra\n", "line 2: more fields than the header"),
        ("latin.txt", "café".encode("latin-1"), "not UTF-8 text: byte 0xe9 at position 3"),
        ("bad.jsonl", b'{"prompt": "ok"}\n{"prompt": \n', "bad.jsonl, line 2: not valid JSON"),
        ("list.jsonl", b'["a"]\n', "line 1: expected a JSON object"),
        ("noprompt.jsonl", b'{"text": "a"}\n', "line 1: 'prompt' must be a non-empty string"),
        ("numbers.jsonl", b'{"prompt": 5}\n', "'prompt' must be a non-empty string"),
        ("prompts.xlsx", b"PK\x03\x04", "unknown file type; use .csv, .txt or .jsonl"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(BatchFileError) as caught:
        parse_batch_file(name, data, max_bytes=LIMIT)
    assert message in str(caught.value)


def test_files_over_the_limit_are_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(BatchFileError, match=r"big.txt is 101 bytes; the limit is 100"):
        parse_batch_file("big.txt", b"x" * 101, max_bytes=100)
    path = tmp_path / "big.txt"
    path.write_bytes(b"a\n" * 60)
    with pytest.raises(BatchFileError, match="BILAN_BATCH_MAX_FILE_BYTES"):
        read_batch_path(path, max_bytes=100)
    assert len(read_batch_path(path, max_bytes=120)) == 60


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(BatchFileError, match="no such file"):
        read_batch_path(tmp_path / "nope.csv", max_bytes=LIMIT)
