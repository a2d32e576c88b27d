"""Reading a batch file of prompts: CSV (a ``prompt`` column), TXT (one a line) or JSONL.

``read_rows`` reads any of the three as rows of fields; datasets are imported from them too.

Every problem is a ``BatchFileError`` naming what is wrong and where, raised before anything is
stored, so a bad file never leaves a partial run behind.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bilan_core.errors import BilanError
from bilan_core.settings import BilanSettings

FORMATS = {".csv": "csv", ".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class BatchFileError(BilanError, ValueError):
    """A batch file cannot be used as it is."""


@dataclass(frozen=True)
class BatchPrompt:
    """One prompt of a batch file and the other fields that came with it."""

    prompt: str
    metadata: dict[str, Any] = field(default_factory=dict)


def upload_limit_mb(max_bytes: int) -> int:
    """The file uploader's limit in its whole megabytes (MiB), rounded up so the exact byte check decides."""
    return max(1, -(-max_bytes // (1024 * 1024)))


def batch_folder(settings: BilanSettings) -> Path:
    """Where the Batch page finds files to pick: ``batch/`` in the data folder (``BILAN_DATA_DIR``)."""
    return settings.data_dir / "batch"


def files_to_pick(folder: Path) -> list[Path]:
    """The batch files (by extension) directly in ``folder``, by name; none if it does not exist."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in FORMATS)


def read_batch_path(path: str | Path, *, max_bytes: int) -> list[BatchPrompt]:
    """The prompts of a file on disk, checking its size before reading it."""
    path = Path(path)
    if not path.is_file():
        raise BatchFileError(f"no such file: {path}")
    size = path.stat().st_size
    _check_size(path.name, size, max_bytes)
    return parse_batch_file(path.name, path.read_bytes(), max_bytes=max_bytes)


def parse_batch_file(name: str, data: bytes, *, max_bytes: int) -> list[BatchPrompt]:
    """The prompts of an uploaded file's bytes; the format comes from the file name's extension."""
    table = read_rows(name, data, max_bytes=max_bytes)
    if table.file_format == "csv" and "prompt" not in table.columns:
        found = ", ".join(repr(column) for column in table.columns) or "none"
        raise BatchFileError(f"{name} has no 'prompt' column (columns found: {found})")
    prompts = [_prompt_of(name, table.file_format, row) for row in table.rows]
    if not prompts:
        raise BatchFileError(f"{name} has no prompts")
    return prompts


@dataclass(frozen=True)
class FileRow:
    """One row of a file: its line number and its fields (a TXT line is ``{"prompt": line}``)."""

    line: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class FileRows:
    """The rows of a CSV, TXT or JSONL file, with its format and (for CSV) its columns."""

    file_format: str
    columns: list[str]
    rows: list[FileRow]


def read_rows(name: str, data: bytes, *, max_bytes: int) -> FileRows:
    """The rows of a file's bytes, checked for size, encoding and syntax; the format from the extension."""
    file_format = FORMATS.get(Path(name).suffix.lower())
    if file_format is None:
        raise BatchFileError(f"{name}: unknown file type; use .csv, .txt or .jsonl")
    _check_size(name, len(data), max_bytes)
    text = _decode(name, data)
    if not text.strip():
        raise BatchFileError(f"{name} is empty: it has no prompts")
    if file_format == "csv":
        columns, rows = _csv_rows(name, text)
        return FileRows(file_format, columns, rows)
    return FileRows(file_format, [], _txt_rows(text) if file_format == "txt" else _jsonl_rows(name, text))


def _prompt_of(name: str, file_format: str, row: FileRow) -> BatchPrompt:
    fields = dict(row.fields)
    prompt = fields.pop("prompt", None)
    if not isinstance(prompt, str) or not prompt.strip():
        problem = "the prompt is empty" if file_format == "csv" else "'prompt' must be a non-empty string"
        raise BatchFileError(f"{name}, line {row.line}: {problem}")
    return BatchPrompt(prompt.strip(), fields)


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise BatchFileError(
            f"{name} is {size:,} bytes; the limit is {max_bytes:,} (BILAN_BATCH_MAX_FILE_BYTES)"
        )


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchFileError(
            f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} at position {exc.start} "
            "cannot be decoded; save the file as UTF-8"
        ) from exc


def _txt_rows(text: str) -> list[FileRow]:
    return [
        FileRow(number, {"prompt": line.strip()})
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _csv_rows(name: str, text: str) -> tuple[list[str], list[FileRow]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [column.strip() for column in reader.fieldnames or []]
    reader.fieldnames = columns
    rows = []
    try:
        for row in reader:
            if None in row:
                problem = "more fields than the header has columns"
                raise BatchFileError(f"{name}, line {reader.line_num}: {problem}")
            fields = {str(key): value for key, value in row.items() if value is not None}
            rows.append(FileRow(reader.line_num, fields))
    except csv.Error as exc:
        raise BatchFileError(f"{name}, line {reader.line_num}: not valid CSV: {exc}") from exc
    return columns, rows


def _jsonl_rows(name: str, text: str) -> list[FileRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchFileError(f"{name}, line {number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(item, dict):
            raise BatchFileError(f"{name}, line {number}: expected a JSON object with a 'prompt'")
        rows.append(FileRow(number, item))
    return rows
