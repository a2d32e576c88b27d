"""The one way the product writes CSV: every cell a spreadsheet could run as a formula is neutralised.

OWASP's advice for CSV injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so Excel, LibreOffice and Google Sheets show it as text instead of
evaluating it (``=HYPERLINK(...)``, ``+1+cmd|...``, ``@SUM(...)``). Numbers are written as numbers.
Analytics downloads, ``python -m bilan_core export``, batch results and the server's exports all go
through ``CsvWriter``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as a CSV cell: text a spreadsheet would evaluate gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvWriter:
    """``csv.writer`` over ``out`` whose every cell goes through ``safe_cell``."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write every row."""
        for row in rows:
            self.writerow(row)


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A DataFrame as UTF-8 CSV bytes (header, then rows, no index), each cell neutralised."""
    buffer = io.StringIO(newline="")
    writer = CsvWriter(buffer)
    writer.writerow(str(name) for name in frame.columns)
    # Missing values of any kind (NaN, NA, NaT) are empty cells, as pandas writes them.
    cells = frame.astype(object).where(frame.notna(), None)
    writer.writerows(cells.itertuples(index=False, name=None))
    return buffer.getvalue().encode("utf-8")
