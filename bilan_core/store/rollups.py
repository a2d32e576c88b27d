"""Keeping the roll-ups equal to the rows they summarise, in the writing transaction.

Every write of turns and votes (``merge_turns``, ``upsert_votes``, ``clear_votes``,
``delete_conversation``) runs inside ``following(connection, project_id, prompt_ids)``: the turns and
votes of those prompts are read before and after, and the roll-ups get the difference. A server request
wraps its writes in ``batch(...)``, which does the same once for all of its prompts, so the roll-up
rows are written once, in key order (concurrent requests lock them in the same order). On PostgreSQL
the prompts are locked first (transaction advisory locks, in order), so two requests writing the same
turn cannot both read it before the other's change.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    Table,
    TextClause,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)

from bilan_core.clock import MS_PER_DAY
from bilan_core.store import histograms
from bilan_core.store.data_versions import mark_changed
from bilan_core.store.models import TURNS, VOTES
from bilan_core.store.rollup_tables import (
    LEVELS,
    NO_PROMPT_NUMBER,
    NONE_KEY,
    TURN_COUNTERS,
    VOTE_COUNTERS,
    RollupLevel,
)
from bilan_core.store.upsert import insert_from, rows_parameters

HALF_LIFE_DAYS = 7.0
HALF_LIFE_MS = HALF_LIFE_DAYS * MS_PER_DAY
TURN_FIELDS = (
    "prompt_id",
    "created_ms",
    "model",
    "user_id",
    "team_session",
    "prompt_version",
    "prompt_name",
    "prompt_number",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "ttft_ms",
)
VOTE_FIELDS = (
    "prompt_id",
    "user_id",
    "created_ms",
    "model",
    "prompt_version",
    "prompt_name",
    "prompt_number",
    "team_session",
    "value",
    "comment",
)
_LEVELS = {level.name: level for level in LEVELS}
_BATCH = "rollup_batch"  # connection.info key: the prompts of the batch in progress


def day_weight(created_ms: int) -> float:
    """A vote's weight factor within its day: ``2 ** ((created_ms - day start) / half-life)``."""
    return float(day_weights(created_ms))


def day_weights(created_ms: Any) -> Any:
    """``day_weight`` of an int or of every element of an int array (a float array)."""
    return 2.0 ** ((created_ms % MS_PER_DAY) / HALF_LIFE_MS)


def _label(value: str | None) -> str:
    return NONE_KEY if value is None else value


def _labels(row: Any) -> dict[str, Any]:
    """A turn's or vote's roll-up labels by name, missing ones spelled as keys spell them."""
    return {
        "model": _label(row.model),
        "user_id": row.user_id,
        "team_session": _label(row.team_session),
        "prompt_version": _label(row.prompt_version),
        "prompt_name": _label(row.prompt_name),
        "prompt_number": row.prompt_number or NO_PROMPT_NUMBER,
    }


@dataclass
class LevelChanges:
    """Differences to add to one level's roll-ups, by roll-up key."""

    turns: dict[tuple[Any, ...], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    latency: dict[tuple[Any, ...], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    ttft: dict[tuple[Any, ...], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    votes: dict[tuple[Any, ...], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 5))


@dataclass
class RollupChanges:
    """Differences to add to the roll-ups of every level (``rollup_tables.LEVELS``), by roll-up key."""

    levels: dict[str, LevelChanges] = field(
        default_factory=lambda: {level.name: LevelChanges() for level in LEVELS}
    )

    def add_turn(self, project_id: int, row: Any, sign: int) -> None:
        """Count a turn row (``TURN_FIELDS``) in (+1) or out (-1)."""
        labels = _labels(row)
        error, cancel = sign * (row.status == "error"), sign * (row.status == "cancelled")
        tokens_in, tokens_out = sign * (row.prompt_tokens or 0), sign * (row.completion_tokens or 0)
        latency = None if row.latency_ms is None else histograms.bucket_of(row.latency_ms)
        ttft = None if row.ttft_ms is None else histograms.bucket_of(row.ttft_ms)
        for level in LEVELS:
            changes = self.levels[level.name]
            key = (
                project_id,
                row.created_ms // level.bucket_ms,
                *(labels[name] for name in level.turn_labels),
            )
            sums = changes.turns[key]
            sums[0] += sign
            sums[1] += error
            sums[2] += cancel
            sums[3] += tokens_in
            sums[4] += tokens_out
            if latency is not None:
                changes.latency[key][latency] += sign
            if ttft is not None:
                changes.ttft[key][ttft] += sign

    def add_vote(self, project_id: int, row: Any, sign: int) -> None:
        """Count a vote row (``VOTE_FIELDS``) in (+1) or out (-1)."""
        labels = _labels(row)
        side = 0 if row.value > 0 else 1
        commented = sign * (row.comment is not None)
        weight = sign * day_weight(row.created_ms)
        for level in LEVELS:
            key = (
                project_id,
                row.created_ms // level.bucket_ms,
                *(labels[name] for name in level.vote_labels),
            )
            sums = self.levels[level.name].votes[key]
            sums[side] += sign
            sums[2] += commented
            sums[3 + side] += weight


def lock_prompts(connection: Connection, project_id: int, prompt_ids: Iterable[str]) -> None:
    """On PostgreSQL, lock these prompts' turns and votes until the transaction ends (in key order)."""
    if connection.dialect.name != "postgresql":
        return  # SQLite has one writer at a time
    keys = sorted({_lock_key(project_id, prompt_id) for prompt_id in prompt_ids})
    if keys:
        connection.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%(keys)s::bigint[]) AS t(k)", {"keys": keys}
        )


def _lock_key(project_id: int, prompt_id: str) -> int:
    digest = hashlib.blake2b(f"{project_id}:{prompt_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def batch(connection: Connection, project_id: int, prompt_ids: Iterable[str]) -> Iterator[None]:
    """Several writes to these prompts in one transaction (a server request): their turns and votes are
    locked and read once before and once after, and the roll-ups get the difference in one write."""
    covered = sorted(set(prompt_ids))
    lock_prompts(connection, project_id, covered)
    before = _read_rows(connection, project_id, covered, True)
    connection.info[_BATCH] = frozenset(covered)
    try:
        yield
    finally:
        connection.info.pop(_BATCH, None)
    _write_difference(connection, project_id, before, _read_rows(connection, project_id, covered, True))


@contextmanager
def following(
    connection: Connection, project_id: int, prompt_ids: Sequence[str], *, turns: bool = True
) -> Iterator[None]:
    """Bring the roll-ups along with a write to these prompts' turns (if ``turns``) and votes."""
    covered = connection.info.get(_BATCH)
    if covered is not None:
        if not covered.issuperset(prompt_ids):
            raise RuntimeError("a write inside rollups.batch() touched prompts the batch did not name")
        yield
        return
    if not prompt_ids:
        yield
        return
    lock_prompts(connection, project_id, prompt_ids)
    before = _read_rows(connection, project_id, prompt_ids, turns)
    yield
    _write_difference(connection, project_id, before, _read_rows(connection, project_id, prompt_ids, turns))


def deleted_columns(table: Table) -> list[Any]:
    """What a DELETE of turns or votes must return (``RETURNING``) for ``subtract_deleted``; else nothing."""
    names = {"turns": TURN_FIELDS, "votes": VOTE_FIELDS}.get(table.name, ())
    if not names:
        return []
    return [table.c[name].label(f"rolled_{name}") for name in ("project_id", *names)]


def subtract_deleted(connection: Connection, table: Table, rows: Sequence[Any]) -> None:
    """Take rows just deleted behind the write functions (their ``deleted_columns``) out of the roll-ups."""
    if table.name not in ("turns", "votes") or not rows:
        return
    changes = RollupChanges()
    for row in rows:
        found = SimpleNamespace(
            **{
                key.removeprefix("rolled_"): value
                for key, value in row._mapping.items()
                if key.startswith("rolled_")
            }
        )
        if table.name == "turns":
            changes.add_turn(found.project_id, found, -1)
        else:
            changes.add_vote(found.project_id, found, -1)
    write_changes(connection, changes)


def _write_difference(connection: Connection, project_id: int, before: list[Any], after: list[Any]) -> None:
    """Count out the rows that changed or went, count in their new state; unchanged rows cost nothing."""
    was, now = Counter(before), Counter(after)
    changes = RollupChanges()
    for rows, sign in ((was - now, -1), (now - was, +1)):
        for row in rows.elements():
            if row.kind == "turn":
                changes.add_turn(project_id, row, sign)
            else:
                changes.add_vote(project_id, row, sign)
    write_changes(connection, changes)
    mark_changed(connection, project_id)


def _read_rows(connection: Connection, project_id: int, prompt_ids: Sequence[str], turns: bool) -> list[Any]:
    """The roll-up fields of these prompts' turns (if ``turns``) and votes, each row saying its ``kind``."""
    parameters = {"project": project_id, "prompt_ids": sorted(set(prompt_ids))}
    dialect = connection.dialect.name
    if dialect == "postgresql" and turns:  # one round trip for both tables
        return list(connection.execute(_both_statement(), parameters))
    tables = ("turns", "votes") if turns else ("votes",)
    return [row for name in tables for row in connection.execute(_rows_statement(name, dialect), parameters)]


@cache
def _rows_statement(table_name: str, dialect: str) -> Any:
    table, names = (TURNS, TURN_FIELDS) if table_name == "turns" else (VOTES, VOTE_FIELDS)
    return select(_kind(table), *(table.c[name] for name in names)).where(*_of_prompts(table, dialect))


@cache
def _both_statement() -> Any:
    """Turns and votes in one result: each row has every field of both, NULL where its table has none."""
    names = list(dict.fromkeys((*TURN_FIELDS, *VOTE_FIELDS)))
    parts = []
    for table, fields in ((TURNS, TURN_FIELDS), (VOTES, VOTE_FIELDS)):
        columns = [
            (table.c[name] if name in fields else cast(null(), _type_of(name))).label(name) for name in names
        ]
        parts.append(select(_kind(table), *columns).where(*_of_prompts(table, "postgresql")))
    return union_all(*parts)


def _kind(table: Table) -> Any:
    return literal_column("'turn'" if table is TURNS else "'vote'", String).label("kind")


def _type_of(name: str) -> Any:
    return (TURNS if name in TURN_FIELDS else VOTES).c[name].type


def _of_prompts(table: Table, dialect: str) -> tuple[Any, Any]:
    if dialect == "postgresql":  # one array parameter: the same SQL (and prepared plan) for any batch
        of_prompts = table.c.prompt_id == func.any(bindparam("prompt_ids", type_=ARRAY(String)))
    else:
        of_prompts = table.c.prompt_id.in_(bindparam("prompt_ids", expanding=True))
    return table.c.project_id == bindparam("project"), of_prompts


def write_changes(connection: Connection, changes: RollupChanges) -> None:
    """Add the changes to the roll-up rows of every level (in key order), creating rows as needed."""
    for level in LEVELS:
        _write_level(connection, level, changes.levels[level.name])


def _write_level(connection: Connection, level: RollupLevel, changes: LevelChanges) -> None:
    dialect = connection.dialect.name
    turn_rows = [
        {**dict(zip(level.turn_key, key, strict=True)), **dict(zip(TURN_COUNTERS, sums, strict=True))}
        for key, sums in sorted(changes.turns.items())
        if any(sums) or changes.latency.get(key) or changes.ttft.get(key)
    ]
    if turn_rows:
        statement = _add_statement(dialect, level.name, "turns")
        stored = connection.execute(statement, rows_parameters(connection, turn_rows)).all()
        _write_histograms(connection, level, changes, stored)
    vote_rows = [
        {
            **dict(zip(level.vote_key, key, strict=True)),
            **dict(zip(VOTE_COUNTERS, [*map(int, sums[:3]), *sums[3:]], strict=True)),
        }
        for key, sums in sorted(changes.votes.items())
        if any(sums)
    ]
    if vote_rows:
        connection.execute(
            _add_statement(dialect, level.name, "votes"), rows_parameters(connection, vote_rows)
        )
    _drop_emptied(connection, level, changes)


def _drop_emptied(connection: Connection, level: RollupLevel, changes: LevelChanges) -> None:
    """Delete the roll-up rows a removal left counting nothing (a forgotten user's name goes with them)."""
    shrunk_turns = [key for key, sums in sorted(changes.turns.items()) if sums[0] < 0]
    shrunk_votes = [key for key, sums in sorted(changes.votes.items()) if sums[0] < 0 or sums[1] < 0]
    for table, names, keys in (
        (level.turns, level.turn_key, shrunk_turns),
        (level.votes, level.vote_key, shrunk_votes),
    ):
        if keys:
            empty = table.c.turns == 0 if table is level.turns else (table.c.up == 0) & (table.c.down == 0)
            matches = and_(*(table.c[name] == bindparam(f"k_{name}") for name in names))
            rows = [{f"k_{name}": value for name, value in zip(names, key, strict=True)} for key in keys]
            connection.execute(delete(table).where(matches, empty), rows)


def _write_histograms(
    connection: Connection, level: RollupLevel, changes: LevelChanges, stored: Sequence[Any]
) -> None:
    width = len(level.turn_key)
    updates = []
    for row in sorted(stored, key=lambda row: tuple(row[:width])):
        key = tuple(row[:width])
        latency, ttft = changes.latency.get(key), changes.ttft.get(key)
        if latency or ttft:
            updates.append(
                {
                    **{f"k_{name}": value for name, value in zip(level.turn_key, key, strict=True)},
                    "new_latency": histograms.merged(row.latency_hist, latency or {}),
                    "new_ttft": histograms.merged(row.ttft_hist, ttft or {}),
                }
            )
    if not updates:
        return
    if connection.dialect.name == "postgresql":  # one statement for the request, the bytes as hex in JSON
        for row in updates:
            row.update(new_latency=row["new_latency"].hex(), new_ttft=row["new_ttft"].hex())
        connection.execute(_pg_histogram_statement(level.name), {"rows": json.dumps(updates)})
    else:
        connection.execute(_histogram_statement(level.name), updates)


_INTEGER_KEYS = ("project_id", "day", "hour", "prompt_number")


@cache
def _pg_histogram_statement(name: str) -> TextClause:
    level = _LEVELS[name]
    columns = ", ".join(
        f"k_{name} {'bigint' if name in _INTEGER_KEYS else 'text'}" for name in level.turn_key
    )
    matches = " AND ".join(f"r.{name} = b.k_{name}" for name in level.turn_key)
    return text(
        f"""
        UPDATE {level.turns.name} AS r
        SET latency_hist = decode(b.new_latency, 'hex'), ttft_hist = decode(b.new_ttft, 'hex')
        FROM json_to_recordset(CAST(:rows AS json)) AS b({columns}, new_latency text, new_ttft text)
        WHERE {matches}
        """
    )


@cache
def _add_statement(dialect: str, name: str, kind: str) -> Any:
    level = _LEVELS[name]
    table, key, counters = (
        (level.turns, level.turn_key, TURN_COUNTERS)
        if kind == "turns"
        else (level.votes, level.vote_key, VOTE_COUNTERS)
    )
    statement = insert_from(dialect, table, key + counters)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + new[name] for name in counters}
    )
    if kind == "turns":
        statement = statement.returning(
            *(table.c[name] for name in key), table.c.latency_hist, table.c.ttft_hist
        )
    return statement


@cache
def _histogram_statement(name: str) -> Any:
    level = _LEVELS[name]
    table = level.turns
    return (
        update(table)
        .where(and_(*(table.c[name] == bindparam(f"k_{name}") for name in level.turn_key)))
        .values(latency_hist=bindparam("new_latency"), ttft_hist=bindparam("new_ttft"))
    )
