"""The dataset tables: a named collection of inputs (``datasets``) and its items (``dataset_items``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.store.models import LOCAL_PROJECT, _json_column, _ms_column, _text_column


class Dataset(SQLModel, table=True):
    """A named set of inputs to run experiments on; its name is unique in its project."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_datasets_name"),)

    id: str = Field(primary_key=True, max_length=64)
    project_id: int = Field(default=LOCAL_PROJECT)
    name: str = Field(max_length=MAX_LABEL_LENGTH)
    description: str | None = _text_column()
    user_id: str = Field(max_length=MAX_LABEL_LENGTH)
    size: int = 0
    created_ms: int = _ms_column()
    updated_ms: int = _ms_column()


class DatasetItem(SQLModel, table=True):
    """One input of a dataset (a prompt text or a dict of variables), with what is expected of it."""

    __tablename__ = "dataset_items"
    __table_args__ = (UniqueConstraint("dataset_id", "position", name="uq_dataset_items_position"),)

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: str = Field(max_length=64, index=True)
    position: int
    input: Any = Field(sa_column=Column(JSON, nullable=False))
    expected: Any = _json_column()
    item_metadata: dict[str, Any] | None = _json_column()
    source_prompt_id: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    created_ms: int = _ms_column()


DATASETS: Table = Dataset.__table__  # type: ignore[attr-defined]
DATASET_ITEMS: Table = DatasetItem.__table__  # type: ignore[attr-defined]
