"""Forgetting a user and pruning old data reach review sessions, on SQLite and PostgreSQL: a forgotten
rater's ratings and votes go, items showing a forgotten user's answers go, counts follow."""

from __future__ import annotations

from sqlalchemy import Engine, update

from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.reviews import service
from bilan_core.reviews.sources import ReviewSource
from bilan_core.store import review_ratings
from bilan_core.store.forget import forget_user
from bilan_core.store.removal import RemovalReport
from bilan_core.store.retention import prune
from bilan_core.store.review_models import NewReviewSession
from bilan_core.store.review_reads import item_rows, rating_rows
from bilan_core.store.review_tables import REVIEW_ASSIGNMENTS, REVIEW_SESSIONS
from bilan_core.store.reviews import get_session, list_sessions
from tests.helpers import add_turn
from tests.privacy_support import stored_text


def answers(engine: Engine, user_id: str, count: int, *, at_ms: int) -> list[str]:
    """``count`` answered turns of ``user_id`` whose texts hold the user's name in capitals."""
    tag = user_id.upper()
    return [
        add_turn(
            engine, user_id=user_id, prompt_text=f"{tag} asks {i}", response=f"to {tag} {i}", created_ms=at_ms
        )
        for i in range(count)
    ]


def make_session(engine: Engine, name: str, prompt_ids: list[str], *, k: int | None = 1) -> str:
    new = NewReviewSession(name=name, raters_per_item=k, created_by="lead")
    source = ReviewSource(prompt_ids=tuple(prompt_ids))
    return service.create_session(engine, project_id=0, new=new, source=source).id


def take_and_rate(engine: Engine, session_id: str, rater: str, comment: str) -> int:
    view = service.next_item(engine, project_id=0, session_id=session_id, rater=rater)
    assert view is not None
    review_ratings.rate_item(
        engine,
        project_id=0,
        session_id=session_id,
        item_id=view.item_id,
        rater=rater,
        vote=-1,
        comment=comment,
    )
    return view.item_id


def test_forgetting_a_user_removes_their_ratings_and_the_items_showing_their_answers(engines) -> None:
    engine, _kept = engines
    yolanda = answers(engine, "yolanda", 3, at_ms=now_ms())
    xavier = answers(engine, "xavier-8841", 1, at_ms=now_ms())
    session_id = make_session(engine, "review", [*yolanda, *xavier])
    first = take_and_rate(engine, session_id, "xavier-8841", "XAVIERTEXT thinks it is wrong")
    for rater in ("yolanda", "zed", "zed"):
        take_and_rate(engine, session_id, rater, f"{rater} says so")

    assert forget_user(engine, user_id="xavier-8841") == RemovalReport(
        turns=1, votes=2, comments=2, review_items=1, review_raters=1, review_assignments=2
    )
    assert forget_user(engine, user_id="xavier-8841") == RemovalReport(), "forgetting again found more"
    assert b"XAVIERTEXT" not in stored_text(engine) and b"to XAVIER-8841" not in stored_text(engine)
    assert get_session(engine, project_id=0, session_id=session_id).item_count == 3
    assert {row.rater for row in rating_rows(engine, project_id=0, session_id=session_id)} == {
        "yolanda",
        "zed",
    }
    again = service.next_item(engine, project_id=0, session_id=session_id, rater="newcomer")
    assert again is not None and again.item_id == first, "the forgotten rater's item is free again"


def test_prune_removes_old_ratings_items_of_old_turns_and_old_empty_sessions(engines) -> None:
    engine, _kept = engines
    now = now_ms()
    old, recent = answers(engine, "old", 2, at_ms=now - 40 * MS_PER_DAY), answers(engine, "new", 2, at_ms=now)
    mixed = make_session(engine, "mixed", [*recent, *old], k=None)
    take_and_rate(engine, mixed, "ann", "recent rating")
    aged = take_and_rate(engine, mixed, "bob", "aged rating")
    with engine.begin() as connection:
        connection.execute(
            update(REVIEW_ASSIGNMENTS)
            .where(REVIEW_ASSIGNMENTS.c.rater == "bob")
            .values(rated_ms=now - 35 * MS_PER_DAY, handed_ms=now - 35 * MS_PER_DAY)
        )
    stale = make_session(engine, "stale", old)
    with engine.begin() as connection:
        connection.execute(
            update(REVIEW_SESSIONS)
            .where(REVIEW_SESSIONS.c.id == stale)
            .values(created_ms=now - 31 * MS_PER_DAY)
        )

    report = prune(engine, days=30)

    assert (report.review_items, report.review_assignments, report.review_sessions) == (4, 1, 1)
    assert [row.prompt_id for row in item_rows(engine, project_id=0, session_id=mixed)] == recent
    assert [(row.rater, row.comment) for row in rating_rows(engine, project_id=0, session_id=mixed)] == [
        ("ann", "recent rating")
    ]
    assert aged not in {row.item_id for row in rating_rows(engine, project_id=0, session_id=mixed)}
    assert [one.id for one in list_sessions(engine, project_id=0, limit=10)] == [mixed]
    assert get_session(engine, project_id=0, session_id=mixed).item_count == 2
