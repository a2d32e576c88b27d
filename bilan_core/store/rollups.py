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
    NONE_KEY,
    TURN_COUNTERS,
    TURN_KEY,
    TURN_ROLLUPS,
    VOTE_COUNTERS,
    VOTE_KEY,
    VOTE_ROLLUPS,
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
    "team_session",
    "value",
    "comment",
)
_BATCH = "rollup_batch"  # connection.info key: the prompts of the batch in progress


def day_weight(created_ms: int) -> float:
    """A vote's weight factor within its day: ``2 ** ((created_ms - day start) / half-life)``."""
    return float(2.0 ** ((created_ms % MS_PER_DAY) / HALF_LIFE_MS))


def _label(value: str | None) -> str:
    return NONE_KEY if value is None else value


@dataclass
class RollupChanges:
    """Differences to add to the roll-ups, by roll-up key."""

    turns: dict[tuple[Any, ...], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 5))
    latency: dict[tuple[Any, ...], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    ttft: dict[tuple[Any, ...], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    votes: dict[tuple[Any, ...], list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 5))

    def add_turn(self, project_id: int, row: Any, sign: int) -> None:
        """Count a turn row (``TURN_FIELDS``) in (+1) or out (-1)."""
        key = (
            project_id,
            row.created_ms // MS_PER_DAY,
            row.model,
            row.user_id,
            _label(row.team_session),
            _label(row.prompt_version),
        )
        sums = self.turns[key]
        sums[0] += sign
        sums[1] += sign * (row.status == "error")
        sums[2] += sign * (row.status == "cancelled")
        sums[3] += sign * (row.prompt_tokens or 0)
        sums[4] += sign * (row.completion_tokens or 0)
        if row.latency_ms is not None:
            self.latency[key][histograms.bucket_of(row.latency_ms)] += sign
        if row.ttft_ms is not None:
            self.ttft[key][histograms.bucket_of(row.ttft_ms)] += sign

    def add_vote(self, project_id: int, row: Any, sign: int) -> None:
        """Count a vote row (``VOTE_FIELDS``) in (+1) or out (-1)."""
        key = (
            project_id,
            row.created_ms // MS_PER_DAY,
            _label(row.model),
            _label(row.prompt_version),
            row.user_id,
            _label(row.team_session),
        )
        sums = self.votes[key]
        side = 0 if row.value > 0 else 1
        sums[side] += sign
        sums[2] += sign * (row.comment is not None)
        sums[3 + side] += sign * day_weight(row.created_ms)


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
    """Add the changes to the roll-up rows (in key order), creating rows as needed."""
    turn_rows = [
        {**dict(zip(TURN_KEY, key, strict=True)), **dict(zip(TURN_COUNTERS, sums, strict=True))}
        for key, sums in sorted(changes.turns.items())
        if any(sums) or changes.latency.get(key) or changes.ttft.get(key)
    ]
    if turn_rows:
        stored = connection.execute(
            _add_statement(connection.dialect.name, "turns"), rows_parameters(connection, turn_rows)
        ).all()
        _write_histograms(connection, changes, stored)
    vote_rows = [
        {
            **dict(zip(VOTE_KEY, key, strict=True)),
            **dict(zip(VOTE_COUNTERS, [*map(int, sums[:3]), *sums[3:]], strict=True)),
        }
        for key, sums in sorted(changes.votes.items())
        if any(sums)
    ]
    if vote_rows:
        connection.execute(
            _add_statement(connection.dialect.name, "votes"), rows_parameters(connection, vote_rows)
        )
    _drop_emptied(connection, changes)


def _drop_emptied(connection: Connection, changes: RollupChanges) -> None:
    """Delete the roll-up rows a removal left counting nothing (a forgotten user's name goes with them)."""
    shrunk_turns = [key for key, sums in sorted(changes.turns.items()) if sums[0] < 0]
    shrunk_votes = [key for key, sums in sorted(changes.votes.items()) if sums[0] < 0 or sums[1] < 0]
    for table, names, keys in (
        (TURN_ROLLUPS, TURN_KEY, shrunk_turns),
        (VOTE_ROLLUPS, VOTE_KEY, shrunk_votes),
    ):
        if keys:
            empty = table.c.turns == 0 if table is TURN_ROLLUPS else (table.c.up == 0) & (table.c.down == 0)
            matches = and_(*(table.c[name] == bindparam(f"k_{name}") for name in names))
            rows = [{f"k_{name}": value for name, value in zip(names, key, strict=True)} for key in keys]
            connection.execute(delete(table).where(matches, empty), rows)


def _write_histograms(connection: Connection, changes: RollupChanges, stored: Sequence[Any]) -> None:
    updates = []
    for row in sorted(stored, key=lambda row: tuple(row[: len(TURN_KEY)])):
        key = tuple(row[: len(TURN_KEY)])
        latency, ttft = changes.latency.get(key), changes.ttft.get(key)
        if latency or ttft:
            updates.append(
                {
                    **{f"k_{name}": value for name, value in zip(TURN_KEY, key, strict=True)},
                    "new_latency": histograms.merged(row.latency_hist, latency or {}),
                    "new_ttft": histograms.merged(row.ttft_hist, ttft or {}),
                }
            )
    if not updates:
        return
    if connection.dialect.name == "postgresql":  # one statement for the request, the bytes as hex in JSON
        for row in updates:
            row.update(new_latency=row["new_latency"].hex(), new_ttft=row["new_ttft"].hex())
        connection.execute(_PG_HISTOGRAMS, {"rows": json.dumps(updates)})
    else:
        connection.execute(_histogram_statement(), updates)


_PG_HISTOGRAMS = text(
    """
    UPDATE turn_rollups AS r
    SET latency_hist = decode(b.new_latency, 'hex'), ttft_hist = decode(b.new_ttft, 'hex')
    FROM json_to_recordset(CAST(:rows AS json)) AS b(
        k_project_id bigint, k_day bigint, k_model text, k_user_id text, k_team_session text,
        k_prompt_version text, new_latency text, new_ttft text)
    WHERE r.project_id = b.k_project_id AND r.day = b.k_day AND r.model = b.k_model
      AND r.user_id = b.k_user_id AND r.team_session = b.k_team_session
      AND r.prompt_version = b.k_prompt_version
    """
)


@cache
def _add_statement(dialect: str, kind: str) -> Any:
    table, key, counters = (
        (TURN_ROLLUPS, TURN_KEY, TURN_COUNTERS)
        if kind == "turns"
        else (VOTE_ROLLUPS, VOTE_KEY, VOTE_COUNTERS)
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
def _histogram_statement() -> Any:
    table = TURN_ROLLUPS
    return (
        update(table)
        .where(and_(*(table.c[name] == bindparam(f"k_{name}") for name in TURN_KEY)))
        .values(latency_hist=bindparam("new_latency"), ttft_hist=bindparam("new_ttft"))
    )
