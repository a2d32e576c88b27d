"""Retention (``store.retention.prune``) on SQLite and PostgreSQL: what is older than the cutoff goes,
nothing of it stays on disk, the analytics equal those of the data kept, and it runs in short batches."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, func, select, text

from bilan_core.clock import MS_PER_DAY
from bilan_core.server.api_keys import ensure_project
from bilan_core.store.engine import get_engine
from bilan_core.store.models import TURNS, Turn
from bilan_core.store.removal import PURGE_BATCH_ROWS, RemovalReport
from bilan_core.store.retention import PRUNE_LOCK_KEY, prune, prune_exclusively
from bilan_core.store.turns import merge_turns
from bilan_core.store.votes import cast_vote
from tests.privacy_support import NOW, analytics_figures, seed_user, stored_text

OLD = NOW - 40 * MS_PER_DAY
RECENT = NOW - 3 * MS_PER_DAY


def seed_kept(engine: Engine) -> None:
    seed_user(engine, user_id="ann", tag="KEPT", at_ms=RECENT)
    seed_user(engine, user_id="bob", tag="KEPTTOO", at_ms=RECENT + MS_PER_DAY, turns=3)


def test_prune_removes_old_data_and_leaves_the_figures_of_the_data_kept(engines) -> None:
    engine, kept = engines
    old = seed_user(engine, user_id="ann", tag="OLDTEXT", at_ms=OLD)
    seed_kept(engine)
    # A recent vote on an old turn goes with its turn; an old vote on a recent turn goes by its age.
    cast_vote(
        engine, prompt_id=old.prompt_ids[0], user_id="cy", value=1, comment="OLDTEXT late", at_ms=RECENT
    )
    cast_vote(engine, prompt_id="KEPT-turn-1", user_id="cy", value=-1, comment="OLDTEXT early", at_ms=OLD)
    before = analytics_figures(engine)

    would = prune(engine, days=30, at_ms=NOW, dry_run=True)
    assert analytics_figures(engine) == before, "a dry run deleted something"
    done = prune(engine, days=30, at_ms=NOW)

    expected = RemovalReport(turns=4, votes=6, comments=4, events=1, conversations=1, comparisons=1)
    assert would == done == expected.model_copy(update={"batch_runs": 1, "batch_items": 2})
    assert prune(engine, days=30, at_ms=NOW) == RemovalReport(), "a second prune found more"
    assert b"OLDTEXT" not in stored_text(engine)
    assert b"KEPT" in stored_text(engine)
    seed_kept(kept)
    assert analytics_figures(engine) == analytics_figures(kept)


def test_prune_keeps_a_conversation_that_goes_on_and_the_other_projects(sqlite_url) -> None:
    engine = get_engine(sqlite_url)
    alpha = ensure_project(engine, name="alpha").id
    beta = ensure_project(engine, name="beta").id
    assert alpha is not None and beta is not None
    seed_user(engine, user_id="ann", tag="ALPHA", at_ms=OLD, project_id=alpha)
    seed_user(engine, user_id="ann", tag="BETA", at_ms=OLD, project_id=beta)
    seed_user(engine, user_id="ann", tag="LOCAL", at_ms=OLD)
    # A recent turn in the old local conversation keeps the conversation (and its title).
    merge_in(engine, Turn(prompt_id="late", user_id="ann", model="m", conversation_id="LOCAL-conversation"))

    assert prune(engine, days=30, project_id=alpha, at_ms=NOW).turns == 4
    assert turn_count(engine, alpha) == 0 and turn_count(engine, beta) == 4
    everywhere = prune(engine, days=30, at_ms=NOW)
    assert (everywhere.turns, everywhere.conversations) == (8, 1)
    assert turn_count(engine, beta) == 0 and turn_count(engine, 0) == 1
    assert b"LOCAL title" in stored_text(engine)


def merge_in(engine: Engine, turn: Turn) -> None:
    with engine.begin() as connection:
        fields = turn.model_dump(exclude={"id", "project_id", "prompt_id"}) | {"created_ms": NOW}
        merge_turns(connection, 0, {turn.prompt_id: fields})


def turn_count(engine: Engine, project_id: int) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).where(TURNS.c.project_id == project_id)).scalar_one()


def test_prune_deletes_in_short_transactions(sqlite_url) -> None:
    engine = get_engine(sqlite_url)
    count = 2 * PURGE_BATCH_ROWS + 100
    with engine.begin() as connection:
        fields = {"user_id": "ann", "model": "m", "created_ms": OLD}
        merge_turns(connection, 0, {f"p{i}": fields for i in range(count)})
    steps: list[str] = []

    def on_execute(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        steps.append("delete" if statement.startswith("DELETE FROM turns") else "")

    event.listen(engine, "after_cursor_execute", on_execute)
    event.listen(engine, "commit", lambda _conn: steps.append("commit"))
    assert prune(engine, days=30, at_ms=NOW).turns == count
    event.remove(engine, "after_cursor_execute", on_execute)
    # Three batches of at most PURGE_BATCH_ROWS rows, then one that finds nothing: each committed alone.
    assert [step for step in steps if step == "delete"] == ["delete"] * 4
    assert "delete,commit," * 4 in ",".join(step for step in steps if step) + ","


@pytest.mark.parametrize("days", [0, -1, True, 2.5, "30", 36_501])
def test_prune_refuses_a_nonsense_number_of_days(sqlite_url, days) -> None:
    engine = get_engine(sqlite_url)
    seed_user(engine, user_id="ann", tag="OLDTEXT", at_ms=OLD, turns=1)
    with pytest.raises(ValueError, match="whole number of days from 1 to 36,500"):
        prune(engine, days=days, at_ms=NOW)
    assert turn_count(engine, 0) == 1


def test_one_postgresql_process_prunes_at_a_time(postgres_url) -> None:
    engine = get_engine(postgres_url)
    seed_user(engine, user_id="ann", tag="OLDTEXT", at_ms=OLD, turns=2)
    with engine.connect() as other_process:
        other_process.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PRUNE_LOCK_KEY})
        assert prune_exclusively(engine, days=30, at_ms=NOW) is None
        assert turn_count(engine, 0) == 2
        other_process.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PRUNE_LOCK_KEY})
    pruned = prune_exclusively(engine, days=30, at_ms=NOW)
    assert pruned is not None and pruned.turns == 2
