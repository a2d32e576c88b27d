"""The handout's lease and the capture levels' hold on raters and comments."""

from __future__ import annotations

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.reviews import service
from bilan_core.reviews.sources import ReviewSource
from bilan_core.settings import load_settings
from bilan_core.store import review_ratings
from bilan_core.store.engine import get_engine
from bilan_core.store.review_handout import LEASE_MS, hand_out
from bilan_core.store.review_models import NewReviewSession
from bilan_core.store.review_reads import item_rows, item_view
from tests.helpers import add_turn
from tests.reviews.review_support import record_turns

MINUTE = 60_000


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_item_not_rated_within_the_lease_goes_to_someone_else(database, request) -> None:
    engine = get_engine(request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url"))
    prompt_id = add_turn(engine, prompt_text="q", response="a")
    new = NewReviewSession(name="lease", raters_per_item=1, created_by="lead")
    session = service.create_session(
        engine, project_id=0, new=new, source=ReviewSource(prompt_ids=(prompt_id,))
    )
    scope = {"project_id": 0, "session_id": session.id}
    start = 1_700_000_000_000

    item_id = hand_out(engine, **scope, rater="ann", at_ms=start)
    assert item_id is not None
    assert hand_out(engine, **scope, rater="ann", at_ms=start + MINUTE) == item_id, "ann keeps her card"
    assert hand_out(engine, **scope, rater="bob", at_ms=start + LEASE_MS - MINUTE) is None, "held by ann"
    assert hand_out(engine, **scope, rater="bob", at_ms=start + LEASE_MS + MINUTE) == item_id, "ann's lapsed"
    assert hand_out(engine, **scope, rater="ann", at_ms=start + LEASE_MS + 2 * MINUTE) is None
    assert item_view(engine, **scope, item_id=item_id, rater="ann").state == "lapsed"

    review_ratings.rate_item(engine, **scope, item_id=item_id, rater="ann", vote=1)
    review_ratings.rate_item(engine, **scope, item_id=item_id, rater="bob", vote=-1)
    assert item_view(engine, **scope, item_id=item_id, rater="ann").state == "rated"
    assert item_rows(engine, **scope)[0].ratings == 2, "a late rating is kept: one more than asked"


def test_at_capture_level_none_raters_are_hashed_and_comments_not_kept(sqlite_url) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, user_id="lead", capture="none", telemetry=False))
    session = client.create_review_session(
        "private", prompt_ids=record_turns(client, 1), instructions="be kind"
    )
    assert session.instructions is None
    view = session.next_item("ann@example.com")
    session.rate(view.item_id, "ann@example.com", vote=1, comment="mail me at ann@example.com")
    ratings = session.ratings()
    rater = ratings.loc[0, "rater"]
    assert rater.startswith("u_") and "ann" not in rater and ratings.loc[0, "comment"] is None
    assert session.item(view.item_id, "ann@example.com").rating.vote == 1, (
        "the same person finds their rating"
    )
    assert client.get_stats(user_id="ann@example.com").positive_votes == 1
    assert session.progress()[0].rater == rater


def test_at_capture_level_sanitized_comments_are_redacted(sqlite_url) -> None:
    client = Bilan(
        load_settings(database_url=sqlite_url, user_id="lead", capture="sanitized", telemetry=False)
    )
    session = client.create_review_session("redacted", prompt_ids=record_turns(client, 1))
    view = session.next_item("ann")
    session.rate(view.item_id, "ann", vote=-1, comment="wrong, mail ann@example.com")
    comment = session.ratings().loc[0, "comment"]
    assert "ann@example.com" not in comment and comment.startswith("wrong, mail")
