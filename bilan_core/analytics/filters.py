"""Which turns and votes the analytics cover (``AnalyticsFilter``), and the values the pickers offer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Engine, and_, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from bilan_core.analytics.sql_parts import day_bucket
from bilan_core.clock import MS_PER_DAY, to_ms
from bilan_core.store.models import LOCAL_PROJECT, Comparison, Turn, Vote

COMMENTS_PAGE_SIZE = 20
ANSWERS_PAGE_SIZE = 20


class CommentsQuery(TypedDict, total=False):
    """Which page of comments to read: a search text, a sign (1, -1) and the page (size 1 to 500)."""

    search: str | None
    sign: int | None
    page: int
    page_size: int


class AnswersQuery(TypedDict, total=False):
    """What narrows answers beyond the filter: a voter, a vote sign, a status, no prompt version; a page."""

    voter: str | None
    sign: int | None
    status: str | None
    unversioned: bool
    page: int
    page_size: int


@dataclass(frozen=True, kw_only=True)
class AnalyticsFilter:
    """Which turns and votes the analytics cover; empty tuples and None mean no restriction."""

    start_ms: int | None = None
    end_ms: int | None = None
    models: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    team_session: str | None = None
    prompt_versions: tuple[str, ...] = ()
    # Stored prompt versions as ``name vN`` (``PromptVersion.ref``): exact, on turns.prompt_name/number.
    prompts: tuple[str, ...] = ()
    project_id: int = LOCAL_PROJECT

    def __post_init__(self) -> None:
        for name in ("start_ms", "end_ms"):
            value = getattr(self, name)
            if isinstance(value, datetime | float) or type(value) is int:
                object.__setattr__(self, name, to_ms(value))
            elif value is not None:
                raise ValueError(f"{name} must be epoch milliseconds or a datetime, got {value!r}")
        for name in ("models", "users", "prompt_versions", "prompts"):
            object.__setattr__(self, name, _as_names(name, getattr(self, name)))
        for ref in self.prompts:
            parse_prompt_ref(ref)
        if self.start_ms is not None and self.end_ms is not None and self.start_ms >= self.end_ms:
            raise ValueError(
                f"the time range is empty: start {self.start_ms} is not before end {self.end_ms}"
            )

    def previous(self) -> AnalyticsFilter | None:
        """The same filter over the period of the same length just before, or None if open-ended."""
        if self.start_ms is None or self.end_ms is None:
            return None
        length = self.end_ms - self.start_ms
        return replace(self, start_ms=self.start_ms - length, end_ms=self.start_ms)

    def scope_conditions(
        self, table: type[Turn] | type[Vote] | type[Comparison]
    ) -> list[ColumnElement[bool]]:
        """WHERE conditions on the project, time range, users and team session, which every table has."""
        found: list[ColumnElement[bool]] = [col(table.project_id) == self.project_id]
        if self.start_ms is not None:
            found.append(col(table.created_ms) >= self.start_ms)
        if self.end_ms is not None:
            found.append(col(table.created_ms) < self.end_ms)
        if self.users:
            found.append(col(table.user_id).in_(self.users))
        if self.team_session is not None:
            found.append(col(table.team_session) == self.team_session)
        return found

    def conditions(self, table: type[Turn] | type[Vote]) -> list[ColumnElement[bool]]:
        """WHERE conditions on the turns or votes table (both carry the filtered columns)."""
        found = self.scope_conditions(table)
        if self.models:
            found.append(col(table.model).in_(self.models))
        if self.prompt_versions:
            found.append(col(table.prompt_version).in_(self.prompt_versions))
        if self.prompts:
            found.append(self._prompt_condition(table))
        return found

    def _prompt_condition(self, table: type[Turn] | type[Vote]) -> ColumnElement[bool]:
        exact = or_(
            *(
                and_(col(Turn.prompt_name) == name, col(Turn.prompt_number) == number)
                for name, number in map(parse_prompt_ref, self.prompts)
            )
        )
        if table is Turn:
            return exact
        made_with = select(col(Turn.prompt_id)).where(col(Turn.project_id) == self.project_id, exact)
        return col(Vote.prompt_id).in_(made_with)

    def day_conditions(self, table: type[Turn] | type[Vote]) -> list[ColumnElement[bool]]:
        """The time range restated on the day bucket, so the daily indexes can seek to it."""
        day = day_bucket(table)
        found: list[ColumnElement[bool]] = []
        if self.start_ms is not None:
            found.append(day >= self.start_ms // MS_PER_DAY)
        if self.end_ms is not None:
            found.append(day <= (self.end_ms - 1) // MS_PER_DAY)
        return found


def parse_prompt_ref(ref: str) -> tuple[str, int]:
    """``("support", 3)`` from ``"support v3"``; ValueError naming the expected form otherwise."""
    name, _, number = ref.rpartition(" v")
    if not name or not number.isdigit() or not 1 <= int(number) < 2**31:
        raise ValueError(f"a stored prompt version is written 'name vN' (e.g. 'support v3'), got {ref!r}")
    return name, int(number)


def _as_names(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of names, got {value!r}")
    return tuple(value)


def filter_options(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> dict[str, list[str]]:
    """The models, users, team sessions and prompt versions that occur, for the filter pickers."""
    with engine.connect() as connection:
        return {
            "models": _distinct(connection, "turns", "model", project_id),
            "users": sorted(
                set(_distinct(connection, "votes", "user_id", project_id))
                | set(_distinct(connection, "conversations", "user_id", project_id))
            ),
            "team_sessions": _distinct(connection, "turns", "team_session", project_id),
            "prompt_versions": _distinct(connection, "turns", "prompt_version", project_id),
            "prompts": _stored_prompt_refs(connection, project_id),
        }


def _stored_prompt_refs(connection: Connection, project_id: int) -> list[str]:
    pairs = connection.execute(
        select(col(Turn.prompt_name), col(Turn.prompt_number))
        .where(col(Turn.project_id) == project_id, col(Turn.prompt_name).is_not(None))
        .distinct()
    ).all()
    return [f"{name} v{number}" for name, number in sorted(pairs)]


def _distinct(connection: Connection, table: str, column: str, project_id: int) -> list[str]:
    # A loose index scan: each step seeks the next value in an index led by (project_id, column),
    # so listing a handful of values costs a handful of seeks even over millions of rows.
    statement = text(
        f"""
        WITH RECURSIVE found(value) AS (
            SELECT MIN({column}) FROM {table} WHERE project_id = :project
            UNION ALL
            SELECT (SELECT MIN({column}) FROM {table} WHERE project_id = :project AND {column} > found.value)
            FROM found WHERE found.value IS NOT NULL
        )
        SELECT value FROM found WHERE value IS NOT NULL
        """
    )
    return [str(value) for value in connection.execute(statement, {"project": project_id}).scalars()]
