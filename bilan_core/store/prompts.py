"""Prompt versions and labels: the ``prompt_versions`` and ``prompt_labels`` tables, their reads and writes.

A version, once stored, never changes. A label names one version of a prompt at a time, so moving it
is one row's update; ``latest`` is not stored: it is always the highest version. New versions are
numbered inside the transaction that stores them (with their labels), so nothing is stored half-way.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Connection, Engine, Index, Table, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from bilan_core.clock import now_ms
from bilan_core.errors import PromptNotFoundError
from bilan_core.limits import MAX_LABEL_LENGTH
from bilan_core.store.models import LOCAL_PROJECT, _json_column, _ms_column
from bilan_core.store.upsert import insert_for

LATEST = "latest"
NUMBERING_ATTEMPTS = 5  # concurrent writers of one prompt: the loser of a version number takes the next
NAMES_SHOWN = 20


class PromptVersionRow(SQLModel, table=True):
    """One immutable version of a named prompt."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("project_id", "name", "version", name="uq_prompt_versions_number"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    name: str = Field(max_length=MAX_LABEL_LENGTH)
    version: int
    messages: list[dict[str, Any]] | None = _json_column()
    model: str | None = Field(default=None, max_length=MAX_LABEL_LENGTH)
    params: dict[str, Any] | None = _json_column()
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    author: str = Field(max_length=MAX_LABEL_LENGTH)
    created_ms: int = _ms_column()


class PromptLabel(SQLModel, table=True):
    """A label (``production``, ``staging``, any name) pointing at one version of a prompt."""

    __tablename__ = "prompt_labels"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "label", name="uq_prompt_labels_label"),
        Index("ix_prompt_labels_version", "project_id", "name", "version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=LOCAL_PROJECT)
    name: str = Field(max_length=MAX_LABEL_LENGTH)
    label: str = Field(max_length=MAX_LABEL_LENGTH)
    version: int
    updated_ms: int = _ms_column()


VERSIONS: Table = PromptVersionRow.__table__  # type: ignore[attr-defined]
LABELS: Table = PromptLabel.__table__  # type: ignore[attr-defined]


class NewPromptVersion(BaseModel):
    """A checked version to store (``bilan_core.prompts.checks`` checked every field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    messages: list[dict[str, str]]
    model: str | None = None
    params: dict[str, Any] = {}
    labels: list[str] = []
    note: str | None = None
    author: str


class StoredPromptVersion(BaseModel):
    """A stored version with the labels pointing at it (``latest`` included when it is the newest)."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    messages: list[dict[str, str]]
    model: str | None
    params: dict[str, Any]
    labels: list[str]
    note: str | None
    author: str
    created_ms: int


class PromptSummary(BaseModel):
    """One prompt in a list: its newest version, how many there are, and where each label points."""

    name: str
    latest_version: int
    versions: int
    labels: dict[str, int]
    updated_ms: int


def add_prompt_version(engine: Engine, *, project_id: int, new: NewPromptVersion) -> StoredPromptVersion:
    """Store ``new`` as the prompt's next version, with its labels moved onto it, in one transaction."""
    for attempt in range(NUMBERING_ATTEMPTS):
        try:
            with engine.begin() as connection:
                return _insert_version(connection, project_id, new)
        except IntegrityError:
            if attempt == NUMBERING_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _insert_version(connection: Connection, project_id: int, new: NewPromptVersion) -> StoredPromptVersion:
    version = (_newest(connection, project_id, new.name) or 0) + 1
    moment = now_ms()
    row = {
        "project_id": project_id,
        "name": new.name,
        "version": version,
        "messages": new.messages,
        "model": new.model,
        "params": new.params,
        "note": new.note,
        "author": new.author,
        "created_ms": moment,
    }
    connection.execute(VERSIONS.insert(), row)
    for label in new.labels:
        _point(connection, project_id, new.name, label, version, moment)
    return StoredPromptVersion(**{**row, "labels": [LATEST, *new.labels]})


def _newest(connection: Connection, project_id: int, name: str) -> int | None:
    query = select(func.max(VERSIONS.c.version)).where(
        VERSIONS.c.project_id == project_id, VERSIONS.c.name == name
    )
    return connection.execute(query).scalar()


def _point(connection: Connection, project_id: int, name: str, label: str, version: int, moment: int) -> None:
    values = {
        "project_id": project_id,
        "name": name,
        "label": label,
        "version": version,
        "updated_ms": moment,
    }
    statement = insert_for(connection.dialect.name, LABELS).values(values)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "name", "label"], set_={"version": version, "updated_ms": moment}
        )
    )


def set_prompt_label(
    engine: Engine, *, project_id: int, name: str, version: int, label: str
) -> StoredPromptVersion:
    """Point ``label`` at an existing version (moving it off any other); PromptNotFoundError otherwise."""
    with engine.begin() as connection:
        _version_row(connection, project_id, name, version)
        _point(connection, project_id, name, label, version, now_ms())
        return _stored(connection, project_id, name, version)


def find_prompt_version(
    engine: Engine, *, project_id: int, name: str, version: int | None = None, label: str | None = None
) -> StoredPromptVersion:
    """The version by number, else by label; PromptNotFoundError naming what exists when none matches."""
    with engine.connect() as connection:
        if version is None:
            version = _labelled(connection, project_id, name, label or LATEST)
        return _stored(connection, project_id, name, version)


def prompt_versions(engine: Engine, *, project_id: int, name: str) -> list[StoredPromptVersion]:
    """Every version of a prompt, newest first, each with its labels; PromptNotFoundError if none."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(VERSIONS).where(*_of(VERSIONS, project_id, name)).order_by(VERSIONS.c.version.desc())
        ).all()
        if not rows:
            raise PromptNotFoundError(_no_prompt(connection, project_id, name))
        labels = _labels(connection, project_id, name)
    newest = rows[0].version
    return [_from_row(row, labels, newest) for row in rows]


def list_prompt_summaries(engine: Engine, *, project_id: int) -> list[PromptSummary]:
    """Every prompt of the project by name, with its newest version and labels."""
    with engine.connect() as connection:
        counts = connection.execute(
            select(
                VERSIONS.c.name,
                func.max(VERSIONS.c.version),
                func.count(),
                func.max(VERSIONS.c.created_ms),
            )
            .where(VERSIONS.c.project_id == project_id)
            .group_by(VERSIONS.c.name)
            .order_by(VERSIONS.c.name)
        ).all()
        pointers = connection.execute(
            select(LABELS.c.name, LABELS.c.label, LABELS.c.version).where(LABELS.c.project_id == project_id)
        ).all()
    labels: dict[str, dict[str, int]] = {}
    for name, label, version in pointers:
        labels.setdefault(name, {})[label] = version
    return [
        PromptSummary(
            name=name,
            latest_version=newest,
            versions=count,
            labels={LATEST: newest, **dict(sorted(labels.get(name, {}).items()))},
            updated_ms=updated,
        )
        for name, newest, count, updated in counts
    ]


def _of(table: Table, project_id: int, name: str) -> tuple[Any, ...]:
    return (table.c.project_id == project_id, table.c.name == name)


def _labels(connection: Connection, project_id: int, name: str) -> dict[str, int]:
    found = connection.execute(select(LABELS.c.label, LABELS.c.version).where(*_of(LABELS, project_id, name)))
    return dict(sorted((label, version) for label, version in found))


def _labelled(connection: Connection, project_id: int, name: str, label: str) -> int:
    newest = _newest(connection, project_id, name)
    if newest is None:
        raise PromptNotFoundError(_no_prompt(connection, project_id, name))
    if label == LATEST:
        return newest
    labels = _labels(connection, project_id, name)
    if label not in labels:
        shown = ", ".join(f"{known} (v{version})" for known, version in {LATEST: newest, **labels}.items())
        raise PromptNotFoundError(f"prompt {name!r} has no version labelled {label!r}; its labels: {shown}")
    return labels[label]


def _version_row(connection: Connection, project_id: int, name: str, version: int) -> Any:
    row = connection.execute(
        select(VERSIONS).where(*_of(VERSIONS, project_id, name), VERSIONS.c.version == version)
    ).first()
    if row is None:
        newest = _newest(connection, project_id, name)
        if newest is None:
            raise PromptNotFoundError(_no_prompt(connection, project_id, name))
        raise PromptNotFoundError(f"prompt {name!r} has no version {version}; its versions are 1 to {newest}")
    return row


def _stored(connection: Connection, project_id: int, name: str, version: int) -> StoredPromptVersion:
    row = _version_row(connection, project_id, name, version)
    return _from_row(
        row, _labels(connection, project_id, name), _newest(connection, project_id, name) or version
    )


def _from_row(row: Any, labels: dict[str, int], newest: int) -> StoredPromptVersion:
    names = [label for label, version in labels.items() if version == row.version]
    return StoredPromptVersion(
        name=row.name,
        version=row.version,
        messages=row.messages or [],
        model=row.model,
        params=row.params or {},
        labels=[LATEST, *names] if row.version == newest else names,
        note=row.note,
        author=row.author,
        created_ms=row.created_ms,
    )


def _no_prompt(connection: Connection, project_id: int, name: str) -> str:
    names = (
        connection.execute(
            select(VERSIONS.c.name)
            .where(VERSIONS.c.project_id == project_id)
            .distinct()
            .order_by(VERSIONS.c.name)
            .limit(NAMES_SHOWN + 1)
        )
        .scalars()
        .all()
    )
    if not names:
        return f"no prompt named {name!r}: no prompt has been created yet"
    shown = ", ".join(repr(known) for known in names[:NAMES_SHOWN]) + (
        ", …" if len(names) > NAMES_SHOWN else ""
    )
    return f"no prompt named {name!r}; the prompts are: {shown}"
