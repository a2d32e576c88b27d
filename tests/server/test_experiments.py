"""Comparisons, batch runs, exports and the schema status in server mode: endpoints, client, pages.

A real uvicorn server on PostgreSQL, real server-mode clients (direct requests for comparisons and
runs, the outbox for turns and votes), their model calls going to the loopback OpenAI-compatible
server, and the real app in AppTest.
"""

from __future__ import annotations

import threading

import pytest

from bilan_core.analytics.dashboard import AnalyticsFilter
from bilan_core.analytics.exports import EXPORT_KINDS, export_bytes
from bilan_core.app.config_view import schema_state
from bilan_core.app.rating_grid import apply_ratings, batch_rating_table
from bilan_core.client.bilan import Bilan
from bilan_core.errors import NotFoundError
from bilan_core.experiments.batch_runs import (
    BatchOptions,
    batch_results,
    run_batch,
    start_batch,
)
from bilan_core.experiments.comparisons import (
    Variant,
    compare,
    comparison_leaderboard,
    record_preference,
    start_comparison,
    stream_comparison,
    verdict_choices,
)
from bilan_core.server.api_keys import create_key
from bilan_core.store.engine import schema_status
from bilan_core.store.models import BatchItem, BatchRun, Comparison, Turn, Vote
from tests import helpers
from tests.app_support import new_app, rows
from tests.fixtures.openai_server import DEFAULT_ANSWER
from tests.server.test_conversations import ran, server_app  # noqa: F401 (the app in server mode)

pytestmark = pytest.mark.postgres
FAST = Variant(model="gpt-4o-mini", temperature=0.2, prompt_version="v1")
STRONG = Variant(model="gpt-4o", temperature=0.7, prompt_version="v2")


def server_client(url: str, key: str, openai_server, user_id: str = "alice") -> Bilan:
    """A server-mode client that sends its outbox every 50 ms and asks the loopback model server."""
    return helpers.server_client(
        key,
        url,
        user_id=user_id,
        openai_base_url=openai_server.base_url,
        openai_api_key="sk-test",
        max_retries=0,
        leaderboard_min_votes=1,
    )


@pytest.fixture
def alpha(server_project, live_server, openai_server):
    """A server-mode client of project alpha."""
    client = server_client(live_server.url, server_project.key, openai_server)
    yield client
    client.close()


def test_a_comparison_its_verdict_and_the_leaderboard_through_the_server(alpha, server_project):
    engine, project = server_project.engine, server_project.project_id
    result = compare(alpha, "Which is better?", FAST, STRONG, blind=True)
    assert (result.answer_a, result.answer_b) == (DEFAULT_ANSWER, DEFAULT_ANSWER)
    view = alpha.comparison_view(result.comparison_id)  # flushes the outbox: both turns are there
    assert not view.revealed and view.can_decide
    assert [side.answer for side in view.sides.values()] == [DEFAULT_ANSWER, DEFAULT_ANSWER]
    assert [side.label for side in view.sides.values()] == [None, None]

    alpha.vote(result.prompt_id_b, 1, "B is fine too")
    row = record_preference(alpha, result.comparison_id, "a", comment="sharper")
    assert (row.winner, row.comment) == ("a", "sharper")
    after = alpha.comparison_view(result.comparison_id)
    assert after.revealed and not after.can_decide
    assert after.sides["a"].label == result.variant_a.display_label
    assert (after.sides["a"].vote, after.sides["b"].vote) == (1, 1)  # the side rated by hand keeps its 👍
    with pytest.raises(ValueError, match="already decided"):
        record_preference(alpha, result.comparison_id, "b")

    [stored] = rows(engine, Comparison)
    assert (stored.project_id, stored.user_id, stored.winner) == (project, "alice", "a")
    assert {turn.prompt_id for turn in rows(engine, Turn)} == {result.prompt_id_a, result.prompt_id_b}
    assert {vote.project_id for vote in rows(engine, Vote)} == {project}
    assert alpha.comparisons_version()[0] == 1
    board = comparison_leaderboard(alpha, rounds=10)
    assert board.ratings.iloc[0]["variant"] == result.variant_a.display_label
    assert board.ratings.iloc[0]["model"] == result.variant_a.model  # read through the server too
    assert comparison_leaderboard(alpha, team_session="other", rounds=5).ratings.empty


def test_a_failed_side_is_retried_and_judged_through_the_server(alpha, server_project, openai_server):
    comparison = start_comparison(alpha, "Which is better?", FAST, STRONG, blind=False)
    openai_server.fail(503, "overloaded")
    pieces = list(stream_comparison(alpha, comparison.id))
    [failed] = [piece.side for piece in pieces if piece.error is not None]
    answered = "b" if failed == "a" else "a"
    sides = alpha.comparison_view(comparison.id).sides
    assert sides[failed].prompt_id and sides[failed].answer is None
    assert verdict_choices(sides) == (answered, "both_bad")
    with pytest.raises(ValueError, match="only one side answered"):
        record_preference(alpha, comparison.id, "tie")

    retried = list(stream_comparison(alpha, comparison.id, sides=[failed]))
    assert retried[-1].error is None and retried[-1].prompt_id
    sides = alpha.comparison_view(comparison.id).sides
    assert sides[failed].answer == DEFAULT_ANSWER and verdict_choices(sides) == ("a", "b", "tie", "both_bad")
    assert record_preference(alpha, comparison.id, "tie").winner == "tie"
    [stored] = rows(server_project.engine, Comparison)
    assert getattr(stored, f"prompt_id_{failed}") == retried[-1].prompt_id


def test_a_batch_run_started_stopped_resumed_and_rated_through_the_server(
    alpha, server_project, openai_server
):
    engine = server_project.engine
    data = "".join(f"Question {n}\n" for n in range(6)).encode()
    run = start_batch(
        alpha, file_name="p.txt", data=data, options=BatchOptions(model="gpt-4o", concurrency=1)
    )
    stop = threading.Event()
    halfway = run_batch(alpha, run.id, on_progress=lambda p: stop.set() if p.done >= 3 else None, stop=stop)
    assert (halfway.status, halfway.succeeded) == ("interrupted", 3)
    assert [item.position for item in alpha.pending_batch_items(run.id)] == [3, 4, 5]
    assert [found.id for found in alpha.unfinished_batch_runs()] == [run.id]
    final = run_batch(alpha, run.id)
    assert (final.status, final.succeeded, final.failed) == ("completed", 6, 0)
    assert alpha.unfinished_batch_runs() == [] and len(openai_server.chat_requests) == 6
    assert [found.id for found in alpha.recent_batch_runs()] == [run.id]

    results = batch_results(alpha, run.id)
    assert results["response"].tolist() == [DEFAULT_ANSWER] * 6 and results["prompt_id"].nunique() == 6
    outcome = apply_ratings(
        alpha, results, {0: {"vote": "👍 good", "comment": "good"}, 1: {"vote": "👎 bad"}}
    )
    assert (outcome.saved, outcome.problems) == (2, [])
    rated = batch_rating_table(batch_results(alpha, run.id))
    assert rated["vote"].tolist()[:3] == ["👍 good", "👎 bad", None] and rated["comment"][0] == "good"

    [stored] = rows(engine, BatchRun)
    assert (stored.project_id, stored.user_id, stored.total) == (server_project.project_id, "alice", 6)
    assert len(rows(engine, BatchItem)) == 6 and len(rows(engine, Vote)) == 2


def test_each_export_is_made_by_the_server_from_the_project(alpha, server_project, openai_server):
    result = compare(alpha, "Which is better?", FAST, STRONG, blind=False)
    record_preference(alpha, result.comparison_id, "b")
    question = [{"role": "user", "content": "Capital of France?"}]
    for answer, value in (("Paris.", 1), ("Lyon.", -1)):  # a DPO pair: one request, opposite votes
        openai_server.configure(answer=answer)
        alpha.vote(alpha.create_chat_completion(question, model="gpt-4o").prompt_id, value)
    everything = AnalyticsFilter()
    mine = AnalyticsFilter(project_id=server_project.project_id)
    for kind in EXPORT_KINDS:
        served = alpha.export(kind, everything)
        assert served == export_bytes(server_project.engine, kind, mine), kind
        assert served.strip(), kind
    assert DEFAULT_ANSWER in alpha.export("csv", everything).decode()
    assert alpha.export("csv", AnalyticsFilter(models=("nothing-like-it",))).decode().count("\n") == 1
    with pytest.raises(ValueError):
        alpha.export("xml", everything)
    assert alpha.schema_status() == schema_status(server_project.engine)


def test_one_project_never_reads_or_changes_another_ones_experiments(
    alpha, server_project, live_server, openai_server
):
    comparison = start_comparison(alpha, "Hi", FAST, STRONG)
    run = start_batch(alpha, file_name="p.txt", data=b"One\n", options=BatchOptions(model="gpt-4o"))
    stranger = create_key(server_project.engine, project="beta")
    beta = server_client(live_server.url, stranger.key, openai_server)
    try:
        for attempt in (
            lambda: beta.get_comparison(comparison.id),
            lambda: beta.comparison_view(comparison.id),
            lambda: beta.attach_comparison_answer(comparison.id, side="a", prompt_id="p"),
            lambda: beta.decide_comparison(comparison.id, winner="a"),
            lambda: beta.get_batch_run(run.id),
            lambda: beta.pending_batch_items(run.id),
            lambda: beta.finish_batch_item(run.id, position=0, prompt_id="p"),
            lambda: beta.set_batch_status(run.id, "completed"),
            lambda: beta.batch_results(run.id),
        ):
            with pytest.raises(NotFoundError):
                attempt()
        assert beta.recent_batch_runs() == [] and beta.unfinished_batch_runs() == []
        assert beta.comparisons_version() == (0, 0) and beta.decided_comparisons() == []
    finally:
        beta.close()
    assert alpha.get_comparison(comparison.id).prompt_id_a is None
    assert alpha.get_batch_run(run.id).status == "pending"
    assert [item.position for item in alpha.pending_batch_items(run.id)] == [0]


def test_experiment_endpoints_refuse_missing_keys_and_bad_input(alpha, server_project):
    comparison = start_comparison(alpha, "Hi", FAST, STRONG)
    run = start_batch(alpha, file_name="p.txt", data=b"One\n", options=BatchOptions(model="gpt-4o"))
    http, headers = server_project.client, server_project.headers()
    for method, url in (
        ("GET", f"/api/comparisons/{comparison.id}"),
        ("POST", "/api/comparisons"),
        ("GET", "/api/comparisons/version"),
        ("GET", "/api/batch-runs"),
        ("GET", f"/api/batch-runs/{run.id}/results?user_id=alice"),
        ("GET", "/api/exports/csv"),
        ("GET", "/api/schema"),
    ):
        for bad in ({}, server_project.headers("bk_not-a-real-key")):
            reply = http.request(method, url, headers=bad)
            assert reply.status_code == 401, (method, url, reply.text)

    variant = FAST.as_dict()
    good = {
        "user_id": "alice",
        "prompt": "Hi",
        "variant_a": variant,
        "variant_b": STRONG.as_dict(),
        "blind": True,
        "a_shown_first": True,
    }
    refused = {
        "not JSON": b"{",
        "no prompt": {**good, "prompt": " "},
        "NUL prompt": {**good, "prompt": "a\x00b"},
        "unknown field": {**good, "colour": "red"},
        "unknown variant field": {**good, "variant_a": {**variant, "colour": "red"}},
        "bad temperature": {**good, "variant_b": {**variant, "temperature": 9}},
        "NUL label": {**good, "variant_b": {**variant, "label": "x\x00"}},
        "no label": {**good, "variant_b": {"model": "gpt-4o"}},
        "lone surrogate": b'{"prompt": "\\ud800"}',
    }
    for name, body in refused.items():
        sent = {"content": body} if isinstance(body, bytes) else {"json": body}
        reply = http.post("/api/comparisons", **sent, headers=headers)
        assert reply.status_code == 400, (name, reply.text)
        assert reply.json()["error"], name
    path = f"/api/comparisons/{comparison.id}"
    verdict = http.post(f"{path}/verdict", json={"winner": "a"}, headers=headers)
    assert verdict.status_code == 400 and "does not have both answers" in verdict.json()["error"]
    assert http.post(f"{path}/verdict", json={"winner": "left"}, headers=headers).status_code == 400
    assert http.put(f"{path}/answers/c", json={"prompt_id": "p"}, headers=headers).status_code == 400
    missing = http.get("/api/comparisons/no-such-id", headers=headers)
    assert missing.status_code == 404 and "no-such-id" in missing.json()["error"]

    runs = "/api/batch-runs"
    new_run = {
        "user_id": "alice",
        "file_name": "p.txt",
        "options": {"model": "gpt-4o"},
        "items": [{"prompt": "x"}],
    }
    for name, body in {
        "no items": {**new_run, "items": []},
        "NUL prompt": {**new_run, "items": [{"prompt": "a\x00"}]},
        "NUL metadata key": {**new_run, "items": [{"prompt": "a", "metadata": {"k\x00": 1}}]},
        "bad concurrency": {**new_run, "options": {"model": "gpt-4o", "concurrency": 0}},
        "unknown option": {**new_run, "options": {"model": "gpt-4o", "colour": "red"}},
        "string temperature": {**new_run, "options": {"model": "gpt-4o", "temperature": "hot"}},
    }.items():
        reply = http.post(runs, json=body, headers=headers)
        assert reply.status_code == 400, (name, reply.text)
    finish = f"{runs}/{run.id}/items/0/finish"
    assert http.post(finish, json={"error": "x\x00"}, headers=headers).status_code == 400
    assert http.post(f"{runs}/{run.id}/items/-1/finish", json={}, headers=headers).status_code == 422
    assert http.put(f"{runs}/{run.id}/status", json={"status": "done"}, headers=headers).status_code == 400
    assert http.get(f"{runs}?limit=0", headers=headers).status_code == 422
    assert http.get("/api/exports/xml", headers=headers).status_code == 422
    assert http.get("/api/exports/csv?start_ms=10&end_ms=5", headers=headers).status_code == 400
    too_big = b'{"items": [' + b'{"prompt": "x"},' * 800_000 + b'{"prompt": "x"}]}'
    assert len(too_big) > 10_000_000
    assert http.post(runs, content=too_big, headers=headers).status_code == 413
    assert [r.id for r in rows(server_project.engine, BatchRun)] == [run.id]
    assert len(rows(server_project.engine, Comparison)) == 1


@pytest.mark.usefixtures("server_app")
def test_the_compare_page_works_in_server_mode(server_project):
    engine = server_project.engine
    at = ran(new_app("pages/compare.py").run())
    at.text_area(key="compare_prompt").input("What is Bilan?")
    at.selectbox(key="compare_model_1").select("gpt-4o")
    at.selectbox(key="compare_model_2").select("gpt-4.1-mini")
    ran(at.button(key="compare_run").click().run())
    [comparison] = rows(engine, Comparison)  # stored by the server, not in a local database
    assert not comparison.blind and comparison.label_a.startswith("gpt-4o")
    assert [m.value for m in at.markdown].count(DEFAULT_ANSWER) == 2
    ran(at.button(key="compare_verdict_b").click().run())
    [comparison] = rows(engine, Comparison)
    assert comparison.winner == "b"
    assert {v.prompt_id: v.value for v in rows(engine, Vote)} == {
        comparison.prompt_id_a: -1,
        comparison.prompt_id_b: 1,
    }
    assert any("Your verdict: B is better." in s.value for s in at.success)
    assert at.dataframe[0].value["Variant"].tolist()[0] == comparison.label_b
    assert not any("local database" in info.value for info in at.info)


@pytest.mark.usefixtures("server_app")
def test_the_batch_page_works_in_server_mode(server_project, monkeypatch):
    monkeypatch.setenv("BILAN_DEFAULT_MODEL", "gpt-4o")
    engine = server_project.engine
    at = ran(new_app("pages/batch.py").run())
    at.file_uploader(key="batch_upload").set_value(("q.csv", b"prompt\nOne\nTwo\n", "text/csv"))
    ran(at.button(key="batch_start").click().run())
    [run] = rows(engine, BatchRun)
    assert (run.status, run.succeeded, run.total) == ("completed", 2, 2)
    editor = at.data_editor[0]
    assert editor.value["response"].tolist() == [DEFAULT_ANSWER] * 2
    assert [s.value.replace("\\", "") for s in at.success] == ["Run completed: 2 ok, 0 failed of 2."]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"vote": "👍 good", "comment": "spot on"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    ran(at.run())  # an edit saves on the next run
    items = {item.position: item.prompt_id for item in rows(engine, BatchItem)}
    assert [(v.prompt_id, v.value, v.comment) for v in rows(engine, Vote)] == [(items[0], 1, "spot on")]
    assert at.data_editor[0].value["vote"].tolist()[0] == "👍 good"


@pytest.mark.usefixtures("server_app")
def test_the_settings_and_analytics_pages_use_the_server_in_server_mode(server_project, alpha):
    compare(alpha, "Hi", FAST, STRONG)
    assert alpha.flush(timeout=10)
    settings = ran(new_app("pages/settings.py").run())
    schema = settings.dataframe[1].value["Value"].tolist()
    assert schema == [schema_state(schema_status(server_project.engine))]
    analytics = ran(new_app("pages/analytics.py").run())
    assert any(c.value.startswith("With the filters above") for c in analytics.caption)
    assert {button.key for button in analytics.get("download_button")} >= {
        f"analytics_export_{kind}" for kind in EXPORT_KINDS
    }
