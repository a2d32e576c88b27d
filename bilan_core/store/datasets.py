"""Datasets' reads and writes (``datasets`` and ``dataset_items``), each scoped to a project.

A dataset is found by its name, unique in its project. Items are stored in one transaction with the
dataset's new size, after every one of them is checked, so a bad item leaves nothing behind. Items are
numbered from 0 in the order they were added and never change: an experiment run copies what it asks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bilan_core.clock import now_ms
from bilan_core.errors import NotFoundError
from bilan_core.limits import MAX_PROMPT_LENGTH, check_label, check_storable
from bilan_core.store.checks import parse_check
from bilan_core.store.dataset_models import Dataset, DatasetItem
from bilan_core.store.engine import session_scope
from bilan_core.store.models import Turn

MAX_DESCRIPTION_LENGTH = 2_000
MAX_ITEMS = 100_000
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class NewDatasetItem(BaseModel):
    """An item: ``input`` (a prompt text or a dict of variables), optional ``expected`` and metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: str | dict[str, str | int | float | bool]
    expected: Any = None
    metadata: dict[str, Any] = {}

    @field_validator("input")
    @classmethod
    def _usable_input(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, str):
            if not value.strip() or len(value) > MAX_PROMPT_LENGTH:
                raise ValueError(f"a text input must be non-empty, at most {MAX_PROMPT_LENGTH:,} characters")
            return value
        if not value:
            raise ValueError("an input of variables needs at least one variable")
        for name, variable in value.items():
            if not VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits and _)")
            if isinstance(variable, str) and len(variable) > MAX_PROMPT_LENGTH:
                raise ValueError(f"variable {name!r} is over {MAX_PROMPT_LENGTH:,} characters")
        return value

    @field_validator("expected")
    @classmethod
    def _usable_expected(cls, value: Any) -> Any:
        parse_check(value)
        return value


class DatasetContents(BaseModel):
    """A dataset with its items, in order."""

    dataset: Dataset
    items: list[DatasetItem]


def dataset_name(name: object) -> str:
    """A dataset's name, checked: non-empty text of at most 200 characters, no NUL, no outer spaces."""
    checked = check_label("name", name)
    if checked != checked.strip():
        raise ValueError(f"a dataset name must not start or end with spaces, got {checked!r}")
    return checked


def _checked(items: Sequence[NewDatasetItem], *, allow_empty: bool) -> list[NewDatasetItem]:
    items = list(items)
    if not items and not allow_empty:
        raise ValueError("give at least one item to add")
    if len(items) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS:,} items can be added at once, got {len(items):,}")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, NewDatasetItem):
            raise ValueError(f"item {number} must be a NewDatasetItem, got {type(item).__name__}")
        check_storable(f"item {number}", item.model_dump())
    return items


def create_dataset(
    engine: Engine,
    *,
    project_id: int,
    user_id: str,
    name: str,
    description: str | None,
    items: Sequence[NewDatasetItem],
) -> Dataset:
    """Store a new dataset with its items in one transaction; ValueError if the name is taken."""
    name = dataset_name(name)
    checked = _checked(items, allow_empty=True)
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(f"a description is text of at most {MAX_DESCRIPTION_LENGTH:,} characters")
    check_storable("the description", description)
    moment = now_ms()
    dataset = Dataset(
        id=uuid.uuid4().hex,
        project_id=project_id,
        name=name,
        description=description or None,
        user_id=check_label("user_id", user_id),
        size=len(checked),
        created_ms=moment,
        updated_ms=moment,
    )
    try:
        with session_scope(engine) as session:
            if _find(session, project_id, name) is not None:
                raise ValueError(
                    f"a dataset named {name!r} already exists; add items to it or pick another name"
                )
            session.add(dataset)
            session.flush()
            session.add_all(_rows(dataset.id, checked, start=0, moment=moment))
    except IntegrityError as exc:
        raise ValueError(
            f"a dataset named {name!r} already exists; add items to it or pick another name"
        ) from exc
    return dataset


def _rows(
    dataset_id: str, items: Sequence[NewDatasetItem], *, start: int, moment: int, sources: Sequence[str] = ()
) -> list[DatasetItem]:
    return [
        DatasetItem(
            dataset_id=dataset_id,
            position=start + offset,
            input=item.input,
            expected=item.expected,
            item_metadata=item.metadata or None,
            source_prompt_id=sources[offset] if sources else None,
            created_ms=moment,
        )
        for offset, item in enumerate(items)
    ]


def _find(session: Session, project_id: int, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)).first()


def _named(session: Session, project_id: int, name: str) -> Dataset:
    found = _find(session, project_id, dataset_name(name))
    if found is None:
        names = session.exec(
            select(Dataset.name).where(Dataset.project_id == project_id).order_by(col(Dataset.name)).limit(20)
        ).all()
        known = ", ".join(repr(known) for known in names) or "none yet"
        raise NotFoundError(f"no dataset is named {name!r} (datasets: {known})")
    return found


def add_items(
    engine: Engine,
    *,
    project_id: int,
    name: str,
    items: Sequence[NewDatasetItem],
    sources: Sequence[str] = (),
) -> Dataset:
    """Append items to a dataset (all or none); ``sources`` are the turns they came from, if any."""
    checked = _checked(items, allow_empty=False)
    moment = now_ms()
    try:
        with session_scope(engine) as session:
            dataset = _named(session, project_id, name)
            start = dataset.size
            session.add_all(_rows(dataset.id, checked, start=start, moment=moment, sources=sources))
            session.exec(
                update(Dataset)
                .where(col(Dataset.id) == dataset.id, col(Dataset.size) == start)
                .values(size=start + len(checked), updated_ms=moment)
            )
    except IntegrityError as exc:
        raise ValueError(
            f"dataset {name!r} changed while adding to it; nothing was added, try again"
        ) from exc
    return get_dataset(engine, project_id=project_id, name=name).dataset


def get_dataset(engine: Engine, *, project_id: int, name: str) -> DatasetContents:
    """A dataset and its items, in order; NotFoundError naming the datasets there are."""
    with Session(engine) as session:
        dataset = _named(session, project_id, name)
        items = session.exec(
            select(DatasetItem)
            .where(DatasetItem.dataset_id == dataset.id)
            .order_by(col(DatasetItem.position))
        ).all()
        return DatasetContents(dataset=dataset, items=list(items))


def list_datasets(engine: Engine, *, project_id: int) -> list[Dataset]:
    """The project's datasets, by name."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(Dataset).where(Dataset.project_id == project_id).order_by(col(Dataset.name))
            ).all()
        )


def add_turns(engine: Engine, *, project_id: int, name: str, prompt_ids: Sequence[str]) -> Dataset:
    """Append the prompts of recorded turns as items (the answer given kept in the metadata)."""
    wanted = list(dict.fromkeys(check_label("prompt_id", prompt_id) for prompt_id in prompt_ids))
    if not wanted:
        raise ValueError("give at least one turn's prompt_id")
    with Session(engine) as session:
        turns = {
            turn.prompt_id: turn
            for turn in session.exec(
                select(Turn).where(Turn.project_id == project_id, col(Turn.prompt_id).in_(wanted))
            ).all()
        }
    missing = [prompt_id for prompt_id in wanted if prompt_id not in turns]
    if missing:
        raise NotFoundError(
            f"no turn has prompt_id {', '.join(repr(prompt_id) for prompt_id in missing[:5])}"
        )
    items = [_item_of(turns[prompt_id]) for prompt_id in wanted]
    return add_items(engine, project_id=project_id, name=name, items=items, sources=wanted)


def _item_of(turn: Turn) -> NewDatasetItem:
    text = turn.prompt_text or _last_user_text(turn.messages or [])
    if not text or not text.strip():
        raise ValueError(f"turn {turn.prompt_id!r} has no user prompt to keep")
    metadata = {"prompt_id": turn.prompt_id, "model": turn.model, "response": turn.response}
    system = [m.get("content") for m in turn.messages or [] if m.get("role") == "system"]
    if system and isinstance(system[0], str):
        metadata["system"] = system[0]
    return NewDatasetItem(input=text, metadata={key: value for key, value in metadata.items() if value})


def _last_user_text(messages: list[dict[str, Any]]) -> str | None:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else None
