"""Forgetting a user (``store.forget.forget_user``) on SQLite and PostgreSQL: nothing of theirs stays on
disk, others' votes on their answers go too, the analytics equal those of the data kept, idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bilan_core.client.bilan import Bilan
from bilan_core.clock import MS_PER_DAY
from bilan_core.settings import load_settings
from bilan_core.store.datasets import NewDatasetItem, add_items, add_turns, create_dataset, get_dataset
from bilan_core.store.engine import get_engine
from bilan_core.store.forget import forget_user
from bilan_core.store.removal import RemovalReport, clear_deleted_text
from bilan_core.store.votes import cast_vote
from tests.privacy_support import NOW, Seeded, analytics_figures, seed_user, stored_text

AT = NOW - 3 * MS_PER_DAY


def test_forget_user_leaves_nothing_of_them_and_the_figures_of_the_others(engines) -> None:
    engine, kept = engines
    xavier = seed_user(engine, user_id="xavier-8841", tag="XAVIERTEXT", at_ms=AT)
    yolanda = seed_kept(engine)
    vote = {"value": -1, "at_ms": AT + 2 * MS_PER_DAY}
    cast_vote(engine, prompt_id=xavier.prompt_ids[1], user_id="yolanda", comment="quotes XAVIERTEXT", **vote)
    cast_vote(
        engine, prompt_id=yolanda.prompt_ids[1], user_id="xavier-8841", comment="XAVIERTEXT says", **vote
    )

    create_dataset(engine, project_id=0, user_id="lead", name="golden", description=None, items=[])
    add_turns(engine, project_id=0, name="golden", prompt_ids=[xavier.prompt_ids[0], yolanda.prompt_ids[0]])

    forgotten = forget_user(engine, user_id="xavier-8841")

    assert forgotten == RemovalReport(
        turns=4,
        votes=6,
        comments=4,
        events=1,
        conversations=1,
        comparisons=1,
        batch_runs=1,
        batch_items=2,
        dataset_items=1,
    )
    golden = add_items(engine, project_id=0, name="golden", items=[NewDatasetItem(input="added later")])
    kept_items = get_dataset(engine, project_id=0, name="golden").items
    assert [item.input for item in kept_items] == ["YOLANDA prompt 0", "added later"] and golden.size == 3
    assert forget_user(engine, user_id="xavier-8841") == RemovalReport(), "forgetting again found more"
    seed_kept(kept)
    create_dataset(kept, project_id=0, user_id="lead", name="golden", description=None, items=[])
    clear_deleted_text(kept)  # its write-ahead log into the file, as forgetting did to the first database
    assert b"XAVIERTEXT" not in stored_text(engine)
    # Only the user's vote in project 5 stays (in its row and its indexes): forgetting is per project.
    assert stored_text(engine).count(b"xavier-8841") == stored_text(kept).count(b"xavier-8841") > 0
    assert analytics_figures(engine) == analytics_figures(kept)
    assert analytics_figures(engine, project_id=5) == analytics_figures(kept, project_id=5)


def seed_kept(engine: Engine) -> Seeded:
    """Yolanda's activity, and in project 5 another user's with a vote of the forgotten user."""
    other = seed_user(engine, user_id="other", tag="OTHER", project_id=5, at_ms=AT)
    vote = {"value": 1, "project_id": 5, "at_ms": AT + 2 * MS_PER_DAY}
    cast_vote(engine, prompt_id=other.prompt_ids[0], user_id="xavier-8841", **vote)
    return seed_user(engine, user_id="yolanda", tag="YOLANDA", at_ms=AT + MS_PER_DAY)


@pytest.mark.parametrize("user_id", ["", "   ", "a\x00b", "x" * 201, None, 7])
def test_forget_refuses_a_user_id_that_cannot_be_one(sqlite_url, user_id) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, user_id="ann", telemetry=False))
    seed_user(get_engine(sqlite_url), user_id="ann", tag="ANN", at_ms=AT, turns=1)
    with pytest.raises(ValueError, match="user_id"):
        client.forget_user(user_id)
    assert b"ANN prompt" in stored_text(get_engine(sqlite_url))


def test_forget_user_through_the_local_client(sqlite_url) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, user_id="ann", telemetry=False))
    conversation = client.start_conversation("ANNTEXT about my order")
    answer = client.create_chat_completion(
        [{"role": "user", "content": "ANNTEXT hello"}], conversation_id=conversation
    )
    client.vote(answer.prompt_id, 1, "ANNTEXT thanks")
    client.track("opened", {"where": "ANNTEXT page"})

    assert client.forget_user("ann") == RemovalReport(turns=1, votes=1, comments=1, events=1, conversations=1)
    assert b"ANNTEXT" not in stored_text(client.engine)
    assert client.list_conversations() == []
