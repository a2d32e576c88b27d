"""Datasets from files: a CSV, JSONL or TXT file (the Batch file formats) as dataset items.

A row's input is its ``input`` or ``prompt`` field (a text; in JSONL ``input`` may be a dict of
variables), else every other field is a variable. ``expected`` is a text or, written as a JSON object
(``{"contains": "Paris"}``), a check; ``metadata`` (JSONL) or ``meta.<field>`` columns (CSV) are kept as
the item's metadata. A file with nothing usable as an input is refused before anything is stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bilan_core.client.dataset_calls import dataset_items
from bilan_core.experiments.batch_files import BatchFileError, FileRow, read_rows
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.datasets import NewDatasetItem

if TYPE_CHECKING:
    from bilan_core.client.bilan import Bilan

TEXT_FIELDS = ("input", "prompt")
RESERVED = ("expected", "metadata")


def items_from_file(name: str, data: bytes, *, max_bytes: int) -> list[NewDatasetItem]:
    """The items of a file's bytes; BatchFileError naming the file, line and problem."""
    table = read_rows(name, data, max_bytes=max_bytes)
    if table.file_format == "csv" and not _usable(table.columns):
        found = ", ".join(repr(column) for column in table.columns) or "none"
        raise BatchFileError(
            f"{name} has no usable column: give 'input' or 'prompt', or a column per variable "
            f"(found: {found})"
        )
    items = []
    for row in table.rows:
        try:
            items.extend(dataset_items([_item_fields(row)]))
        except ValueError as exc:
            raise BatchFileError(f"{name}, line {row.line}: {str(exc).removeprefix('item 1: ')}") from None
    if not items:
        raise BatchFileError(f"{name} has no items")
    return items


def _usable(columns: list[str]) -> bool:
    return any(column not in RESERVED and not column.startswith("meta.") for column in columns)


def _item_fields(row: FileRow) -> dict[str, Any]:
    fields = dict(row.fields)
    expected = _expected(fields.pop("expected", None))
    metadata = fields.pop("metadata", None) or {}
    if not isinstance(metadata, dict):
        raise ValueError("'metadata' must be a JSON object")
    for key in [key for key in fields if key.startswith("meta.")]:
        metadata[key.removeprefix("meta.")] = fields.pop(key)
    text = next((fields.pop(key) for key in TEXT_FIELDS if key in fields), None)
    if text is None and not fields:
        raise ValueError("nothing to use as the input: give 'input' or 'prompt', or variables")
    item: dict[str, Any] = {"input": text if text is not None else fields, "metadata": metadata}
    if text is not None and fields:
        item["metadata"] = {**fields, **metadata}
    if expected not in (None, ""):
        item["expected"] = expected
    return item


def _expected(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"'expected' starts like a JSON check but is not JSON: {exc.msg}") from None
    return value


def import_dataset(client: Bilan, name: str, path: str | Path, *, description: str | None = None) -> Dataset:
    """Create the dataset ``name`` from a CSV, JSONL or TXT file (nothing stored when the file is refused)."""
    path = Path(path)
    if not path.is_file():
        raise BatchFileError(f"no such file: {path}")
    max_bytes = client.settings.batch_max_file_bytes
    if path.stat().st_size > max_bytes:
        raise BatchFileError(f"{path.name} is {path.stat().st_size:,} bytes; the limit is {max_bytes:,}")
    items = items_from_file(path.name, path.read_bytes(), max_bytes=max_bytes)
    return client.create_dataset(name, items, description=description)
