"""Several rater processes on one session at once: every rating stored once, every item at exactly k
raters, nobody handed an item twice, on one SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from tests.helpers import exit_codes_of_processes
from tests.reviews.review_support import record_turns

RATERS, ITEMS, K = 6, 60, 2


def rate_until_done(url: str, session_id: str, rater: str, log: str) -> None:
    """One rater's process: take and rate items until none is left; log the item ids rated."""
    client = Bilan(load_settings(database_url=url, user_id=rater, telemetry=False))
    session = client.get_review_session(session_id)
    session.join(rater)
    rated = []
    while (view := session.next_item(rater)) is not None:
        vote = 1 if view.item_id % 2 else -1
        session.rate(view.item_id, rater, vote=vote, scores={"accuracy": 1 + view.item_id % 5})
        rated.append(view.item_id)
    Path(log).write_text(json.dumps(rated), encoding="utf-8")
    client.close()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_raters_in_parallel_processes_cover_every_item_exactly_k_times(database, request, tmp_path) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    facilitator = Bilan(load_settings(database_url=url, user_id="lead", telemetry=False))
    session = facilitator.create_review_session(
        "crowd", prompt_ids=record_turns(facilitator, ITEMS), criteria=["accuracy"], raters_per_item=K
    )
    logs = [tmp_path / f"rater-{number}.json" for number in range(RATERS)]
    arguments = [(url, session.id, f"rater-{number}", str(log)) for number, log in enumerate(logs)]

    assert exit_codes_of_processes(rate_until_done, arguments) == [0] * RATERS

    logged = sorted(
        (item_id, f"rater-{number}")
        for number, log in enumerate(logs)
        for item_id in json.loads(log.read_text(encoding="utf-8"))
    )
    ratings = session.ratings()
    stored = sorted(zip(ratings["item_id"].tolist(), ratings["rater"].tolist(), strict=True))
    assert stored == logged, "every rating a rater made is stored, once"
    assert len(stored) == len(set(stored)) == ITEMS * K, "nobody was handed an item twice"
    assert session.items()["ratings"].tolist() == [K] * ITEMS
    assert facilitator.get_stats(team_session="crowd").total_votes == ITEMS * K
    progress = session.progress()
    assert [one.rater for one in progress] == [f"rater-{number}" for number in range(RATERS)]
    assert sum(one.rated for one in progress) == ITEMS * K and all(one.remaining == 0 for one in progress)
