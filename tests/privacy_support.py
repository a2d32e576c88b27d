"""Seeds and checks shared by the retention and forget tests.

``seed_user`` stores one user's activity in every table at a given time, each text carrying a tag, so a
test can search the database for the tag afterwards; ``analytics_figures`` reads every figure the
Analytics page and ``get_stats`` show, to compare a pruned or forgotten database with one seeded only
with the data kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text, update
from sqlmodel import SQLModel

from bilan_core.analytics.dashboard import load_dashboard
from bilan_core.analytics.filters import AnalyticsFilter
from bilan_core.analytics.stats import VoteFilter, compute_stats
from bilan_core.clock import MS_PER_DAY
from bilan_core.pricing import price_table
from bilan_core.store.batch_runs import BatchOptions, NewBatchItem, create_batch_run
from bilan_core.store.comparisons import NewComparison, create_comparison
from bilan_core.store.conversations import upsert_conversations
from bilan_core.store.events import insert_events
from bilan_core.store.models import BATCH_ITEMS, BATCH_RUNS, COMPARISONS, LOCAL_PROJECT, Turn
from bilan_core.store.turns import record_turn
from bilan_core.store.votes import cast_vote
from bilan_core.store.write_behind import JOURNALS_SUFFIX
from tests.helpers import figures

NOW = 1_800_000_000_000  # 2027-01-15, a fixed "now" for every figure
MINUTE = 60_000
MODELS = ("gpt-4o", "gpt-4o-mini")


@dataclass(frozen=True)
class Seeded:
    """What ``seed_user`` stored: the turns' prompt ids, oldest first."""

    prompt_ids: list[str]


def seed_user(
    engine: Engine, *, user_id: str, tag: str, at_ms: int, project_id: int = LOCAL_PROJECT, turns: int = 4
) -> Seeded:
    """A conversation of ``turns`` turns (one failed) with the user's votes and comments on them, an
    event, a decided comparison and a batch run, all at ``at_ms``; every text holds ``tag``."""
    conversation = f"{tag}-conversation"
    row = {"conversation_id": conversation, "user_id": user_id, "title": f"{tag} title", "team_session": None}
    row |= {"status": "active", "created_ms": at_ms, "updated_ms": at_ms + turns * MINUTE, "ended_ms": None}
    with engine.begin() as connection:
        upsert_conversations(connection, project_id, [row])
    prompt_ids = [f"{tag}-turn-{i}" for i in range(turns)]
    for i, prompt_id in enumerate(prompt_ids):
        _turn(engine, prompt_id, user_id, tag, at_ms + i * MINUTE, i, project_id, conversation)
        comment = f"{tag} comment {i}" if i % 2 == 0 else None
        cast_vote(
            engine,
            prompt_id=prompt_id,
            user_id=user_id,
            value=1 if i % 3 else -1,
            comment=comment,
            project_id=project_id,
            at_ms=at_ms + i * MINUTE + 1_000,
        )
    _event(engine, user_id, tag, at_ms, project_id)
    _comparison(engine, user_id, tag, at_ms, project_id)
    _batch_run(engine, user_id, tag, at_ms, project_id)
    return Seeded(prompt_ids)


def _turn(
    engine: Engine,
    prompt_id: str,
    user_id: str,
    tag: str,
    at_ms: int,
    i: int,
    project_id: int,
    conversation: str,
) -> None:
    prompt = f"{tag} prompt {i}"
    record_turn(
        engine,
        Turn(
            project_id=project_id,
            prompt_id=prompt_id,
            user_id=user_id,
            conversation_id=conversation,
            model=MODELS[i % 2],
            prompt_version="v1",
            messages=[{"role": "user", "content": prompt}],
            prompt_text=prompt,
            response=None if i == 3 else f"{tag} answer {i}",
            status="error" if i == 3 else "ok",
            error_message=f"{tag} failure" if i == 3 else None,
            created_ms=at_ms,
            **figures(tokens=(10 + i, 20 * (i + 1)), latency_ms=100.0 * (i + 1), ttft_ms=10.0 * (i + 1)),
        ),
    )


def _event(engine: Engine, user_id: str, tag: str, at_ms: int, project_id: int) -> None:
    row = {"project_id": project_id, "event_id": f"{tag}-event", "event_type": "clicked", "user_id": user_id}
    row |= {"conversation_id": None, "timestamp_ms": at_ms, "properties": {"note": f"{tag} note"}}
    with engine.begin() as connection:
        insert_events(connection, [row | {"prompt_text": f"{tag} event prompt", "ai_response": None}])


def _comparison(engine: Engine, user_id: str, tag: str, at_ms: int, project_id: int) -> None:
    new = NewComparison(
        user_id=user_id,
        prompt=f"{tag} compared prompt",
        variant_a={"model": "gpt-4o", "label": "A"},
        variant_b={"model": "gpt-4o-mini", "label": "B"},
        blind=True,
        a_shown_first=True,
    )
    made = create_comparison(engine, project_id=project_id, new=new)
    with engine.begin() as connection:
        connection.execute(
            update(COMPARISONS).where(COMPARISONS.c.id == made.id).values(created_ms=at_ms, winner="a")
        )


def _batch_run(engine: Engine, user_id: str, tag: str, at_ms: int, project_id: int) -> None:
    items = [NewBatchItem(prompt=f"{tag} batch prompt {i}") for i in range(2)]
    run = create_batch_run(
        engine,
        project_id=project_id,
        user_id=user_id,
        file_name=f"{tag}.csv",
        items=items,
        options=BatchOptions(model="gpt-4o"),
    )
    with engine.begin() as connection:
        connection.execute(update(BATCH_RUNS).where(BATCH_RUNS.c.id == run.id).values(updated_ms=at_ms))
        connection.execute(update(BATCH_ITEMS).where(BATCH_ITEMS.c.run_id == run.id).values(updated_ms=at_ms))


def analytics_figures(engine: Engine, *, project_id: int = LOCAL_PROJECT) -> dict[str, Any]:
    """Every figure of the Analytics page over the last 90 days, and ``get_stats``, at ``NOW``."""
    where = AnalyticsFilter(start_ms=NOW - 90 * MS_PER_DAY, end_ms=NOW + 1, project_id=project_id)
    board = load_dashboard(engine, where, prices=price_table(), at_ms=NOW)
    found: dict[str, Any] = {"headline": board.headline, "previous": board.previous}
    for name, value in vars(board).items():
        if isinstance(value, pd.DataFrame):
            found[name] = value.reset_index(drop=True).to_json(
                orient="split", double_precision=10, date_format="iso"
            )
    found["stats"] = compute_stats(engine, VoteFilter(project_id=project_id), at_ms=NOW)
    return found


def stored_text(engine: Engine) -> bytes:
    """Everything the database holds: a SQLite database's files, byte for byte (free space, the
    write-ahead log and the write-behind journals included), or every row of a PostgreSQL database as text."""
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        journals = database.with_name(database.name + JOURNALS_SUFFIX)  # turns written behind
        files = [database, database.with_name(database.name + "-wal"), *journals.rglob("*")]
        return b"".join(path.read_bytes() for path in files if path.is_file())
    with engine.connect() as connection:
        rows = [
            str(row[0])
            for table in SQLModel.metadata.tables
            for row in connection.execute(text(f'SELECT t::text FROM "{table}" t'))
        ]
    return "\n".join(rows).encode()
