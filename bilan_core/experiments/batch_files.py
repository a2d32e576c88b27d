"""Reading a batch file of prompts: CSV (a ``prompt`` column), TXT (one a line) or JSONL.

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
    file_format = FORMATS.get(Path(name).suffix.lower())
    if file_format is None:
        raise BatchFileError(f"{name}: unknown file type; use .csv, .txt or .jsonl")
    _check_size(name, len(data), max_bytes)
    text = _decode(name, data)
    if not text.strip():
        raise BatchFileError(f"{name} is empty: it has no prompts")
    parse = {"csv": _parse_csv, "txt": _parse_txt, "jsonl": _parse_jsonl}[file_format]
    prompts = parse(name, text)
    if not prompts:
        raise BatchFileError(f"{name} has no prompts")
    return prompts


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


def _parse_txt(_name: str, text: str) -> list[BatchPrompt]:
    return [BatchPrompt(line.strip()) for line in text.splitlines() if line.strip()]


def _parse_csv(name: str, text: str) -> list[BatchPrompt]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [column.strip() for column in reader.fieldnames or []]
    if "prompt" not in columns:
        found = ", ".join(repr(column) for column in columns) or "none"
        raise BatchFileError(f"{name} has no 'prompt' column (columns found: {found})")
    reader.fieldnames = columns
    prompts = []
    try:
        for row in reader:
            prompts.append(_csv_prompt(name, reader.line_num, row))
    except csv.Error as exc:
        raise BatchFileError(f"{name}, line {reader.line_num}: not valid CSV: {exc}") from exc
    return prompts


def _csv_prompt(name: str, line: int, row: dict[str | None, Any]) -> BatchPrompt:
    if None in row:
        raise BatchFileError(f"{name}, line {line}: more fields than the header has columns")
    prompt = (row.pop("prompt") or "").strip()
    if not prompt:
        raise BatchFileError(f"{name}, line {line}: the prompt is empty")
    return BatchPrompt(prompt, {str(key): value for key, value in row.items() if value is not None})


def _parse_jsonl(name: str, text: str) -> list[BatchPrompt]:
    prompts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchFileError(f"{name}, line {number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(item, dict):
            raise BatchFileError(f"{name}, line {number}: expected a JSON object with a 'prompt'")
        prompt = item.pop("prompt", None)
        if not isinstance(prompt, str) or not prompt.strip():
            raise BatchFileError(f"{name}, line {number}: 'prompt' must be a non-empty string")
        prompts.append(BatchPrompt(prompt.strip(), item))
    return prompts
