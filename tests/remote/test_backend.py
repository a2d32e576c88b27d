"""Server mode end to end: a real client, a real uvicorn server and PostgreSQL.

The same turns and votes go into project 0 through the local backend and into a server project
through the wire; every analytics figure read through the server must equal the local one. The
outage test stops the server while votes are queued and checks each arrives exactly once.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bilan_core.analytics.dashboard import AnalyticsFilter
from bilan_core.api import init
from bilan_core.client.bilan import Bilan
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.remote.dashboard_json import DASHBOARD_FRAMES, FrameJson, frame_from_json, frame_to_json
from bilan_core.server.api_keys import create_key, revoke_key
from bilan_core.settings import load_settings
from bilan_core.store.models import Event, Turn, Vote
from tests.app_support import clear_app_caches, new_app
from tests.fixtures.bilan_server import LiveServer
from tests.helpers import server_client, server_options

pytestmark = pytest.mark.postgres
HOUR = 3_600_000


def turns(now: int) -> list[Turn]:
    """Turns over three days: two models, two prompt versions, an error, a cancel, an unpriced model."""
    made = []
    for i in range(12):
        made.append(
            Turn(
                prompt_id=f"t{i}",
                user_id=("alice", "bob", "carol")[i % 3],
                model="gpt-4o" if i % 2 else "gpt-4o-mini",
                prompt_version="v1" if i < 6 else "v2",
                team_session="review" if i % 4 == 0 else None,
                prompt_text=f"question {i}",
                response=f"answer {i}",
                status="error" if i == 5 else "cancelled" if i == 7 else "ok",
                error_type="timeout" if i == 5 else None,
                prompt_tokens=100 + i,
                completion_tokens=200 + 3 * i,
                total_tokens=300 + 4 * i,
                ttft_ms=float(20 + i),
                latency_ms=float(250 * (i + 1)),
                created_ms=now - (i * 6 + 1) * HOUR,
            )
        )
    made.append(
        Turn(prompt_id="llama", user_id="alice", model="llama-3", created_ms=now - HOUR, latency_ms=9.0)
    )
    return made


VOTES = [
    ("t0", "alice", 1, "clear and right"),
    ("t1", "bob", -1, "wrong <b>year</b>"),
    ("t1", "alice", 1, None),
    ("t2", "carol", 1, None),
    ("t3", "alice", -1, "too long"),
    ("t4", "bob", 1, "great"),
    ("t6", "alice", 1, None),
    ("t8", "carol", -1, "100% wrong"),
    ("t9", "bob", 1, None),
    ("t11", "carol", 1, "fine"),
]


def fill(client: Bilan, now: int) -> None:
    conversation = client.start_conversation("first chat", conversation_id="conv-1")
    for turn in turns(now):
        client.record_turn(turn)
    for prompt_id, user, value, comment in VOTES:
        client.vote(prompt_id, value, comment, user_id=user)
        # The trend splits votes in (time, id) order; ids of votes in one request follow key order
        # on the server, so votes one millisecond apart keep the same order in both stores.
        time.sleep(0.002)
    client.end_conversation(conversation)


@pytest.fixture
def both(server_project, live_server, postgres_url):
    """A local client (project 0) and a server-mode client, holding the same turns and votes."""
    local = Bilan(load_settings(database_url=postgres_url, user_id="alice", telemetry=False))
    remote = init(**server_options(server_project.key, live_server.url, user_id="alice"))
    now = now_ms()
    fill(local, now)
    fill(remote, now)
    assert remote.backend.flush(timeout=10)
    yield local, remote, now
    remote.close()


def assert_same_dashboard(local, remote, where):
    mine, served = local.dashboard(where), remote.dashboard(where)
    assert_same_headline(mine.headline, served.headline)
    if mine.previous is None:
        assert served.previous is None
    else:
        assert_same_headline(mine.previous, served.previous)
    for name in DASHBOARD_FRAMES:
        # Vote weights decay with time and the two reads run milliseconds apart: rtol covers that.
        pd.testing.assert_frame_equal(getattr(served, name), getattr(mine, name), rtol=1e-6, obj=name)
    return mine


def assert_same_headline(mine, served):
    for field in dataclasses.fields(mine):
        a, b = getattr(mine, field.name), getattr(served, field.name)
        if isinstance(a, float):
            assert b == pytest.approx(a, rel=1e-6), field.name
        else:
            assert a == b, field.name


def test_dashboard_through_the_server_equals_the_local_one(both):
    local, remote, now = both
    everything = AnalyticsFilter(start_ms=now - 3 * MS_PER_DAY, end_ms=now + HOUR)
    dashboard = assert_same_dashboard(local, remote, everything)
    # the data is not trivial: every frame has rows and the headline counts what was sent
    assert all(not getattr(dashboard, name).empty for name in DASHBOARD_FRAMES)
    assert (dashboard.headline.votes, dashboard.headline.turns, dashboard.headline.comments) == (10, 13, 6)
    assert dashboard.headline.unpriced_models == ("llama-3",)
    assert set(dashboard.error_rates["model"]) == {"gpt-4o", "gpt-4o-mini", "llama-3"}
    assert dashboard.error_rates.set_index("model").loc["gpt-4o", "cancelled"] == 1
    narrow = AnalyticsFilter(
        start_ms=now - MS_PER_DAY,
        end_ms=now,
        models=("gpt-4o",),
        users=("alice", "bob"),
        prompt_versions=("v1",),
    )
    assert_same_dashboard(local, remote, narrow)
    assert_same_dashboard(local, remote, AnalyticsFilter(team_session="review"))
    assert_same_dashboard(local, remote, AnalyticsFilter(start_ms=now + HOUR, end_ms=now + 2 * HOUR))


def test_comments_filter_options_and_data_version_through_the_server(both):
    local, remote, now = both
    where = AnalyticsFilter(start_ms=now - 3 * MS_PER_DAY, end_ms=now + HOUR)
    for search, sign, page, size in [
        (None, None, 1, 20),
        ("WRONG", None, 1, 20),
        (None, -1, 1, 20),
        (None, 1, 2, 2),
        ("%", None, 1, 5),
    ]:
        mine = local.comments(where, search=search, sign=sign, page=page, page_size=size)
        served = remote.comments(where, search=search, sign=sign, page=page, page_size=size)
        assert (served.total, served.page, served.page_size) == (mine.total, mine.page, mine.page_size)
        # the two stores got each vote a few milliseconds apart
        assert (served.rows["created_ms"] - mine.rows["created_ms"]).abs().max() < 5_000
        assert served.rows["created"].dtype == mine.rows["created"].dtype
        same = served.rows.drop(columns=["created_ms", "created"])
        pd.testing.assert_frame_equal(same, mine.rows.drop(columns=["created_ms", "created"]))
    assert remote.comments(where, search="wrong", page=1).total == 2
    assert (
        remote.filter_options()
        == local.filter_options()
        == {
            "models": ["gpt-4o", "gpt-4o-mini", "llama-3"],
            "users": ["alice", "bob", "carol"],
            "team_sessions": ["review"],
            "prompt_versions": ["v1", "v2"],
            "prompts": [],
        }
    )
    before = remote.data_version()
    assert remote.data_version() == before
    remote.vote("t10", -1, "late vote", user_id="dave")
    assert remote.data_version() != before  # reading flushes the outbox first


def test_one_project_never_reads_another_ones_analytics(both, server_project, live_server):
    _, remote, now = both
    stranger = create_key(server_project.engine, project="beta")
    other = server_client(stranger.key, live_server.url)
    try:
        dashboard = other.dashboard(AnalyticsFilter(start_ms=now - 3 * MS_PER_DAY, end_ms=now + HOUR))
        assert (dashboard.headline.votes, dashboard.headline.turns) == (0, 0)
        assert all(getattr(dashboard, name).empty for name in DASHBOARD_FRAMES)
        assert other.comments(AnalyticsFilter()).total == 0
        assert other.filter_options() == {
            "models": [],
            "users": [],
            "team_sessions": [],
            "prompt_versions": [],
            "prompts": [],
        }
        assert set(other.data_version()) == {0}  # nothing of the other project counted
        assert remote.comments(AnalyticsFilter()).total == 6
    finally:
        other.close()


def test_analytics_endpoints_refuse_bad_filters_and_missing_keys(server_project):
    client, headers = server_project.client, server_project.headers()
    empty_range = client.get("/api/analytics/votes", params={"start_ms": 5, "end_ms": 5}, headers=headers)
    assert empty_range.status_code == 400
    assert "time range is empty" in empty_range.json()["error"]
    for sign in (0, 2, "up"):
        bad_sign = client.get("/api/analytics/comments", params={"sign": sign}, headers=headers)
        assert bad_sign.status_code == 422, sign
    bad_price = client.post(
        "/api/analytics/dashboard", json={"prices": {"m": {"input": -1, "output": 1}}}, headers=headers
    )
    assert bad_price.status_code == 422
    for method, path in [
        ("POST", "/api/analytics/dashboard"),
        ("GET", "/api/analytics/votes"),
        ("GET", "/api/analytics/turns"),
        ("GET", "/api/analytics/comments"),
        ("GET", "/api/analytics/filter-options"),
        ("GET", "/api/analytics/data-version"),
    ]:
        reply = client.request(method, path, json={} if method == "POST" else None)
        assert (reply.status_code, reply.json()) == (401, {"error": "Missing API key"}), path


def test_votes_and_turns_endpoints_match_the_dashboard(both, server_project):
    local, _, now = both
    params = {"start_ms": now - 3 * MS_PER_DAY, "end_ms": now + HOUR, "models": ["gpt-4o", "llama-3"]}
    where = AnalyticsFilter(**params)
    mine = local.dashboard(where)
    client, headers = server_project.client, server_project.headers()
    votes = client.get("/api/analytics/votes", params=params, headers=headers).json()
    turns_reply = client.get("/api/analytics/turns", params=params, headers=headers).json()
    for name, body in [
        ("trust_by_model", votes),
        ("daily_trust", votes),
        ("votes_by_user", votes),
        ("tokens", turns_reply),
        ("latency", turns_reply),
        ("error_rates", turns_reply),
    ]:
        served = frame_from_json(FrameJson.model_validate(body[name]))
        pd.testing.assert_frame_equal(served, getattr(mine, name), rtol=1e-6, obj=name)
    assert set(mine.error_rates["model"]) == {"gpt-4o", "llama-3"}


def count_rows(engine, model, **where) -> int:
    with Session(engine) as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return session.execute(statement).scalar_one()


def test_a_server_outage_loses_no_vote_and_stores_none_twice(server_project):
    server = LiveServer(server_project.app)
    server.start()
    options = server_options(server_project.key, server.url, user_id="alice", batch_size=50, timeout=2.0)
    client = init(**options)
    try:
        for i in range(300):
            client.vote(f"turn-{i}", 1 if i % 3 else -1, f"comment {i}")
        server.stop()
        for i in range(300, 1000):
            client.vote(f"turn-{i}", 1 if i % 3 else -1, f"comment {i}")
        time.sleep(1.5)  # the sender meets refused connections and backs off
        assert client.backend.pending() > 0
        server.start()  # the same port again
        assert client.backend.flush(timeout=20), f"{client.backend.pending()} still pending"
        assert client.backend.failed() == 0
    finally:
        client.close()
        server.stop()
    engine = server_project.engine
    assert count_rows(engine, Vote) == 1000
    assert count_rows(engine, Event, event_type="vote_cast") == 1000
    with Session(engine) as session:
        distinct = session.execute(select(func.count(func.distinct(Vote.prompt_id)))).scalar_one()
        negative = session.execute(select(func.count()).where(Vote.value < 0)).scalar_one()
    assert distinct == 1000
    assert negative == len([i for i in range(1000) if i % 3 == 0])


def test_refused_events_are_kept_as_failed_not_retried(server_project, live_server, caplog):
    key = create_key(server_project.engine, project="alpha")
    revoke_key(server_project.engine, key_id=key.id)
    client = init(**server_options(key.key, live_server.url))
    try:
        client.vote("t1", 1)
        client.track("clicked", {"where": "header"})
        deadline = time.monotonic() + 10
        while client.backend.failed() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (client.backend.failed(), client.backend.pending()) == (2, 0)
        assert {reason for _, reason in client.backend.failures()} == {"HTTP 401: Invalid API key"}
        assert "not retrying" in caplog.text
    finally:
        client.close()
    assert count_rows(server_project.engine, Event) == 0


def analytics_page(monkeypatch, **env: str):
    """The Analytics page rendered by AppTest with these settings: its metrics, captions and tables."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_app_caches()
    try:
        at = new_app("pages/analytics.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return (
            [(metric.label, metric.value, metric.delta) for metric in at.metric],
            [caption.value for caption in at.caption],
            [frame.value for frame in at.dataframe],
        )
    finally:
        for name in env:
            monkeypatch.delenv(name)
        clear_app_caches()


def test_the_analytics_page_shows_the_same_figures_in_server_mode(
    both, server_project, live_server, monkeypatch
):
    local_page = analytics_page(
        monkeypatch, BILAN_DATABASE_URL=server_project.engine.url.render_as_string(False)
    )
    server_page = analytics_page(
        monkeypatch, BILAN_MODE="server", BILAN_ENDPOINT=live_server.url, BILAN_API_KEY=server_project.key
    )
    metrics, captions, frames = server_page
    assert metrics == local_page[0]
    assert len(metrics) >= 4 and any("10" in str(value) for _, value, _ in metrics)
    assert captions == local_page[1]  # the exports too: the server makes them from its database
    assert any(caption.startswith("With the filters above") for caption in captions)
    assert len(frames) == len(local_page[2]) >= 1
    for served, mine in zip(frames, local_page[2], strict=True):
        if "When (UTC)" in mine:  # each store got the votes milliseconds apart
            assert (served.pop("When (UTC)") - mine.pop("When (UTC)")).abs().max() < pd.Timedelta(seconds=5)
        pd.testing.assert_frame_equal(served, mine)


def test_frames_survive_json_with_their_dtypes():
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime([1_795_000_000_000, 1_795_000_000_994, None], unit="ms"),
            "count": pd.Series([1, 2, 3], dtype="int64"),
            "share": [0.5, float("nan"), 1.0],
            "flag": [True, False, True],
            "name": pd.Series(["a", None, "c"], dtype="str"),
            "label": pd.Series(["x", None, "z"], dtype="object"),
        }
    )
    wire = FrameJson.model_validate_json(frame_to_json(frame).model_dump_json())
    pd.testing.assert_frame_equal(frame_from_json(wire), frame)
    empty = pd.DataFrame(columns=["model", "votes"])
    pd.testing.assert_frame_equal(frame_from_json(frame_to_json(empty)), empty)


class RefuseFirstPosts:
    """Fault injection around the real app: the first ``count`` POSTs of events get ``status``."""

    def __init__(self, app, *, status: int, count: int, headers: tuple[tuple[bytes, bytes], ...] = ()):
        self.app, self.status, self.left, self.headers = app, status, count, headers

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and self.left > 0:
            self.left -= 1
            headers = [(b"content-type", b"application/json"), *self.headers]
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"error": "injected"}'})
            return
        await self.app(scope, receive, send)


def send_votes_through(server_project, wrapper, caplog) -> float:
    """Five votes through a server behind ``wrapper``; seconds until all were delivered."""
    server = LiveServer(wrapper)
    server.start()
    client = init(**server_options(server_project.key, server.url))
    try:
        began = time.monotonic()
        for i in range(5):
            client.vote(f"t{i}", 1)
        assert client.backend.flush(timeout=20), f"{client.backend.pending()} still pending"
        elapsed = time.monotonic() - began
        assert (client.backend.failed(), wrapper.left) == (0, 0)
    finally:
        client.close()
        server.stop()
    assert count_rows(server_project.engine, Vote) == 5
    return elapsed


def test_5xx_answers_are_retried_with_back_off_until_delivered(server_project, caplog):
    send_votes_through(server_project, RefuseFirstPosts(server_project.app, status=503, count=3), caplog)
    assert caplog.text.count("HTTP 503") == 3


def test_429_waits_as_long_as_retry_after_says(server_project, caplog):
    wrapper = RefuseFirstPosts(server_project.app, status=429, count=2, headers=((b"retry-after", b"1"),))
    assert send_votes_through(server_project, wrapper, caplog) >= 1.9
    assert caplog.text.count("waiting 1.0 s as Retry-After says") == 2


def test_answers_behind_a_figure_through_the_server_equal_the_local_ones(both, server_project):
    local, remote, now = both
    where = AnalyticsFilter(start_ms=now - 3 * MS_PER_DAY, end_ms=now + HOUR)
    for narrowing in [
        {},
        {"sign": -1},
        {"voter": "carol", "sign": 1},
        {"status": "error"},
        {"page": 2, "page_size": 5},
    ]:
        mine, served = local.answers(where, **narrowing), remote.answers(where, **narrowing)
        assert (served.page, served.page_size, served.has_more) == (mine.page, mine.page_size, mine.has_more)
        # t0 and llama were made in the same millisecond: their order is the stores' row ids'.
        ours, theirs = mine.rows.sort_values("prompt_id"), served.rows.sort_values("prompt_id")
        assert theirs["prompt_id"].tolist() == ours["prompt_id"].tolist() or "page" in narrowing
        assert theirs["up"].tolist() == ours["up"].tolist() or "page" in narrowing
        assert len(served.rows) == len(mine.rows)
    assert local.answers(where, sign=-1).rows["prompt_id"].tolist() == ["t1", "t3", "t8"]
    assert remote.answers(where, voter="carol", sign=1).rows["prompt_id"].tolist() == ["t2", "t11"]
    assert remote.answers(where, status="error").rows["prompt_id"].tolist() == ["t5"]
    assert remote.answers(where, page=3, page_size=5).has_more is False
    client, headers = server_project.client, server_project.headers()
    for params in ({"sign": 0}, {"status": "lost"}, {"page": 0}, {"page_size": 501}, {"voter": ""}):
        assert client.get("/api/analytics/answers", params=params, headers=headers).status_code == 422, params
    empty = client.get("/api/analytics/answers", params={"start_ms": 5, "end_ms": 5}, headers=headers)
    assert empty.status_code == 400
    assert client.get("/api/analytics/answers").status_code == 401
