"""Every review rating changes the Analytics page's change marker (``data_version``): a rating's vote,
the vote changed, a draft that withdraws it and a draft whose scores alone change; in every mode."""

from __future__ import annotations

import itertools

from tests.reviews.review_support import record_turns


def test_every_rating_changes_the_analytics_marker(facilitator) -> None:
    session = facilitator.create_review_session(
        "marker", prompt_ids=record_turns(facilitator, 2), criteria=["tone"]
    )
    view = session.next_item("ann")
    versions = [facilitator.data_version()]
    for rating in (
        {"vote": 1},
        {"vote": -1, "scores": {"tone": 3}},
        {"scores": {"tone": 4}},  # a draft: the vote is withdrawn
        {"scores": {"tone": 5}},  # a draft again: only its scores change
    ):
        session.rate(view.item_id, "ann", **rating)
        versions.append(facilitator.data_version())
    assert all(before != after for before, after in itertools.pairwise(versions)), versions
    assert facilitator.data_version() == versions[-1]
