"""The review session routes' refusals: 400, 404 and 409 with ``{"error", "kind"}``, never a 5xx, and
nothing stored; every read and write stays in the key's project."""

from __future__ import annotations

import pytest

from bilan_core.server.api_keys import create_key
from bilan_core.store.review_reads import rating_rows
from tests.helpers import add_turn

SESSIONS = "/api/review-sessions"


@pytest.fixture
def served(server_project):
    """A session of two answers in the key's project, its id and the first item handed to ann."""
    prompt_ids = [add_turn(server_project.engine, response=f"a{i}", prompt_text=f"q{i}") for i in range(2)]
    with server_project.engine.begin() as connection:  # the turns belong to the key's project
        connection.exec_driver_sql("UPDATE turns SET project_id = %s", (server_project.project_id,))
    body = {
        "session": {"name": "served", "criteria": ["accuracy"], "raters_per_item": 1, "created_by": "lead"},
        "source": {"prompt_ids": prompt_ids},
    }
    made = server_project.client.post(SESSIONS, json=body, headers=server_project.headers())
    assert made.status_code == 200, made.text
    session_id = made.json()["id"]
    item = server_project.client.post(
        f"{SESSIONS}/{session_id}/next", json={"rater": "ann"}, headers=server_project.headers()
    )
    return server_project, session_id, item.json()["item_id"]


def test_refusals_name_their_kind_and_store_nothing(served) -> None:
    project, session_id, item_id = served
    post = lambda path, body: project.client.post(path, json=body, headers=project.headers())  # noqa: E731
    rating = f"{SESSIONS}/{session_id}/items/{item_id}/rating"
    refusals = [
        (post(rating, {"rater": "ann", "vote": 1, "scores": {"accuracy": 9}}), 400, "InvalidRatingError"),
        (post(rating, {"rater": "ann", "winner": "a"}), 400, "InvalidRatingError"),
        (post(rating, {"rater": "ann", "vote": True}), 400, "InvalidRatingError"),
        (post(rating, {"rater": "ann"}), 400, "InvalidRatingError"),
        (
            post(f"{SESSIONS}/{session_id}/items/{item_id + 1}/rating", {"rater": "ann", "vote": 1}),
            409,
            "ReviewItemNotAssignedError",
        ),
        (
            post(f"{SESSIONS}/{session_id}/items/999999/rating", {"rater": "ann", "vote": 1}),
            404,
            "ReviewItemNotFoundError",
        ),
        (
            post(f"{SESSIONS}/nope/items/{item_id}/rating", {"rater": "ann", "vote": 1}),
            404,
            "ReviewSessionNotFoundError",
        ),
        (
            post(SESSIONS, {"session": {"name": "x", "created_by": "l"}, "source": {"prompt_ids": ["gone"]}}),
            404,
            "UnknownPromptError",
        ),
        (
            post(
                SESSIONS,
                {"session": {"name": "x", "created_by": "l"}, "source": {"filter": {"models": ["none"]}}},
            ),
            400,
            "EmptyReviewSourceError",
        ),
    ]
    for reply, status, kind in refusals:
        assert (reply.status_code, reply.json().get("kind")) == (status, kind), reply.text
        assert reply.json()["error"]
    assert rating_rows(project.engine, project_id=project.project_id, session_id=session_id) == []

    assert post(f"{SESSIONS}/{session_id}/close", {}).status_code == 200
    closed = post(rating, {"rater": "ann", "vote": 1})
    assert (closed.status_code, closed.json()["kind"]) == (409, "ReviewSessionClosedError")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"rater": ""},
        {"rater": "a\x00b"},
        {"rater": "ann", "vote": 1.5},
        {"rater": "ann", "vote": "1"},
        {"rater": "ann", "scores": [1, 2]},
        {"rater": "ann", "scores": {"accuracy": "5"}},
        {"rater": "ann", "comment": 7},
        {"rater": "ann", "comment": "a\x00b", "vote": 1},
        {"rater": "ann", "vote": 1, "extra": True},
        {"rater": "x" * 500, "vote": 1},
    ],
)
def test_bad_rating_bodies_are_4xx_never_5xx(served, body) -> None:
    project, session_id, item_id = served
    reply = project.client.post(
        f"{SESSIONS}/{session_id}/items/{item_id}/rating", json=body, headers=project.headers()
    )
    assert 400 <= reply.status_code < 500 and "error" in reply.json(), reply.text
    assert rating_rows(project.engine, project_id=project.project_id, session_id=session_id) == []


def test_another_projects_key_sees_no_session(served) -> None:
    project, session_id, _item_id = served
    other = create_key(project.engine, project="beta").key
    reply = project.client.get(f"{SESSIONS}/{session_id}", headers=project.headers(other))
    assert (reply.status_code, reply.json()["kind"]) == (404, "ReviewSessionNotFoundError")
    assert project.client.get(SESSIONS, headers=project.headers(other)).json() == []
    for path in (
        f"{SESSIONS}/{session_id}/items/abc?rater=ann",
        f"{SESSIONS}/{session_id}/items/0?rater=ann",
    ):
        assert project.client.get(path, headers=project.headers()).status_code == 422
