"""Query results as DataFrames: the one place the analytics turn rows into pandas."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from bilan_core.clock import MS_PER_DAY


def day_dates(days: pd.Series) -> pd.Series:
    """Day numbers as dates (midnight UTC)."""
    return pd.to_datetime(days.astype("int64") * MS_PER_DAY, unit="ms")


def result_frame(connection: Connection, statement: Any, columns: list[str]) -> pd.DataFrame:
    """A statement's rows as a DataFrame with these column names."""
    # Plain tuples fetched at once: pandas probes each SQLAlchemy Row for attributes, and fetching row by
    # row costs more than the query.
    return pd.DataFrame.from_records(
        [tuple(row) for row in connection.execute(statement).all()], columns=columns
    )
