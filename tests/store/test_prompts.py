"""Stored prompt versions and labels (SQLite and PostgreSQL): numbering, labels, errors naming what exists."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from bilan_core.errors import PromptNotFoundError
from bilan_core.prompts.building import new_prompt_version
from bilan_core.store.engine import get_engine
from bilan_core.store.prompts import (
    LABELS,
    VERSIONS,
    add_prompt_version,
    find_prompt_version,
    list_prompt_summaries,
    prompt_versions,
    set_prompt_label,
)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))


def add(engine, name: str, text: str, project_id: int = 0, **fields):
    return add_prompt_version(
        engine, project_id=project_id, new=new_prompt_version(name, text, author="ana", **fields)
    )


def test_versions_are_numbered_per_prompt_and_labels_move(database_url: str) -> None:
    engine = get_engine(database_url)
    first = add(engine, "support", "v1 {{q}}", labels=["production"])
    second = add(engine, "support", "v2 {{q}}", labels=["staging"])
    other = add(engine, "sales", "other")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert find_prompt_version(engine, project_id=0, name="support", label="production").version == 1
    assert find_prompt_version(engine, project_id=0, name="support").labels == ["latest", "staging"]
    moved = set_prompt_label(engine, project_id=0, name="support", version=2, label="production")
    assert moved.labels == ["latest", "production", "staging"]
    assert find_prompt_version(engine, project_id=0, name="support", version=1).labels == []
    assert [v.version for v in prompt_versions(engine, project_id=0, name="support")] == [2, 1]
    summaries = list_prompt_summaries(engine, project_id=0)
    assert [(s.name, s.latest_version, s.versions) for s in summaries] == [("sales", 1, 1), ("support", 2, 2)]
    assert summaries[1].labels == {"latest": 2, "production": 2, "staging": 2}
    with engine.connect() as connection:  # the label is on one version only: one row moved, not added
        assert connection.execute(select(func.count()).select_from(LABELS)).scalar_one() == 2


def test_unknown_prompt_version_and_label_name_what_exists(database_url: str) -> None:
    engine = get_engine(database_url)
    with pytest.raises(PromptNotFoundError, match="no prompt has been created yet"):
        find_prompt_version(engine, project_id=0, name="support")
    add(engine, "support", "v1", labels=["staging"])
    add(engine, "sales", "s1")
    with pytest.raises(
        PromptNotFoundError, match=r"no prompt named 'suport'; the prompts are: 'sales', 'support'"
    ):
        find_prompt_version(engine, project_id=0, name="suport")
    with pytest.raises(
        PromptNotFoundError,
        match=r"no version labelled 'production'; its labels: latest \(v1\), staging \(v1\)",
    ):
        find_prompt_version(engine, project_id=0, name="support", label="production")
    with pytest.raises(PromptNotFoundError, match="has no version 4; its versions are 1 to 1"):
        set_prompt_label(engine, project_id=0, name="support", version=4, label="production")
    with pytest.raises(PromptNotFoundError):
        prompt_versions(engine, project_id=0, name="nothing")


def test_prompts_are_scoped_to_their_project(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    add(engine, "support", "project one", project_id=1)
    with pytest.raises(PromptNotFoundError, match="no prompt has been created yet"):
        find_prompt_version(engine, project_id=2, name="support")
    assert add(engine, "support", "project two", project_id=2).version == 1
    assert list_prompt_summaries(engine, project_id=3) == []


def test_a_version_whose_label_cannot_be_stored_leaves_nothing(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    new = new_prompt_version("support", "v1", author="ana").model_copy(update={"labels": ["ok", "x" * 300]})
    with pytest.raises(DataError):  # PostgreSQL refuses the over-long label after the version is inserted
        add_prompt_version(engine, project_id=0, new=new)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one() == 0
