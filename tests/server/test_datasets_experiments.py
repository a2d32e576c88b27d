"""Datasets and experiments in server mode: a real server on PostgreSQL, scoped to the key's project."""

from __future__ import annotations

import pytest

from bilan_core.errors import NotFoundError
from bilan_core.experiments.experiment_runs import get_experiment, run_experiment, start_experiment
from bilan_core.server.api_keys import create_key
from bilan_core.store.dataset_models import Dataset
from bilan_core.store.models import BatchRun, Vote
from tests.app_support import new_app, rows
from tests.fixtures.openai_server import DEFAULT_ANSWER
from tests.server.test_conversations import ran, server_app  # noqa: F401 (the app in server mode)
from tests.server.test_experiments import alpha, server_client  # noqa: F401 (the server-mode client)

pytestmark = pytest.mark.postgres
VARIANTS = [
    {"name": "short", "model": "gpt-4o-mini", "messages": "Be brief."},
    {"name": "long", "model": "gpt-4o", "messages": "Be thorough.", "temperature": 0.5},
]


def test_a_dataset_and_an_experiment_through_the_server(alpha, server_project):  # noqa: F811
    alpha.create_dataset("smoke", ["Say hi", {"input": "2+2?", "expected": {"contains": "4"}}])
    with pytest.raises(ValueError, match="a dataset named 'smoke' already exists"):
        alpha.create_dataset("smoke", ["again"])
    with pytest.raises(ValueError, match="item 1: input"):
        alpha.add_dataset_items("smoke", [{"input": ""}])
    answer = alpha.create_chat_completion([{"role": "user", "content": "Why is the sky blue?"}])
    assert alpha.add_turns_to_dataset("smoke", [answer.prompt_id]).size == 3  # the queued turn is sent first
    with pytest.raises(ValueError, match="two variants are named 'short'"):
        start_experiment(alpha, "smoke", [VARIANTS[0], VARIANTS[0]])

    run = run_experiment(alpha, "smoke", VARIANTS, concurrency=4)
    assert (run.run.status, run.run.succeeded, run.run.total) == ("completed", 6, 6)
    alpha.vote(run.cells().loc[0, "prompt_id"], 1)
    summary = run.summary().set_index("variant")
    assert summary.loc["short", ["items", "up"]].tolist() == [3, 1]
    stored = rows(server_project.engine, Dataset)
    assert [dataset.project_id for dataset in stored] == [server_project.project_id]
    assert [listed.id for listed in alpha.recent_experiment_runs()] == [run.id]
    assert alpha.recent_batch_runs() == []


def test_another_project_sees_none_of_the_datasets_or_runs(alpha, server_project, live_server, openai_server):  # noqa: F811
    alpha.create_dataset("private", ["secret question"])
    run = run_experiment(alpha, "private", VARIANTS[:1])
    other_key = create_key(server_project.engine, project="beta").key
    beta = server_client(live_server.url, other_key, openai_server, user_id="bob")
    try:
        assert beta.list_datasets() == [] and beta.recent_experiment_runs() == []
        with pytest.raises(NotFoundError, match="no dataset is named 'private'"):
            beta.get_dataset("private")
        with pytest.raises(NotFoundError):
            get_experiment(beta, run.id)
    finally:
        beta.close()


def test_dataset_and_experiment_endpoints_refuse_bad_input_with_4xx(alpha, server_project):  # noqa: F811
    alpha.create_dataset("smoke", ["hi"])
    http, headers = server_project.client, server_project.headers()
    for method, url in (("GET", "/api/datasets"), ("POST", "/api/datasets"), ("GET", "/api/experiment-runs")):
        assert http.request(method, url, headers={}).status_code == 401
    settings = {"dataset": "smoke", "dataset_id": "x", "variants": [{"name": "a", "model": "gpt-4o"}]}
    cell = {
        "prompt": "hi",
        "metadata": {"item": 0, "variant": 0, "messages": [{"role": "user", "content": "hi"}]},
    }
    refused = {
        "/api/datasets": [
            b"{",
            {"user_id": "alice", "name": "smoke", "items": []},
            {"user_id": "alice", "name": "x", "items": [{"input": ""}]},
            {"user_id": "alice", "name": "x", "items": [{"input": "a", "expected": {"regex": "("}}]},
            {"user_id": "alice", "name": "x\x00", "items": []},
            b'{"user_id": "alice", "name": "\\ud800"}',
        ],
        "/api/datasets/items": [
            {"name": "smoke", "items": []},
            {"name": "smoke", "items": [{"input": {"a b": 1}}]},
        ],
        "/api/datasets/turns": [{"name": "smoke", "prompt_ids": []}],
        "/api/experiment-runs": [
            {"user_id": "alice", "name": "e", "settings": {**settings, "variants": []}, "cells": [cell]},
            {
                "user_id": "alice",
                "name": "e",
                "settings": {**settings, "variants": settings["variants"] * 2},
                "cells": [cell],
            },
            {"user_id": "alice", "name": "e", "settings": settings, "cells": []},
            {
                "user_id": "alice",
                "name": "e",
                "settings": settings,
                "cells": [{**cell, "metadata": {"item": 0}}],
            },
            {
                "user_id": "alice",
                "name": "e",
                "settings": settings,
                "cells": [{**cell, "metadata": {**cell["metadata"], "variant": 3}}],
            },
        ],
    }
    for url, bodies in refused.items():
        for body in bodies:
            sent = {"content": body} if isinstance(body, bytes) else {"json": body}
            reply = http.post(url, **sent, headers=headers)
            assert reply.status_code == 400, (url, body, reply.text)
    unknown = http.get("/api/datasets/by-name", params={"name": "nope"}, headers=headers)
    assert unknown.status_code == 404 and "no dataset is named 'nope'" in unknown.json()["error"]
    missing = http.post(
        "/api/datasets/turns", json={"name": "smoke", "prompt_ids": ["nope"]}, headers=headers
    )
    assert missing.status_code == 404
    assert [dataset.size for dataset in alpha.list_datasets()] == [1] and alpha.recent_experiment_runs() == []


@pytest.mark.usefixtures("server_app")
def test_the_experiments_page_runs_and_rates_in_server_mode(server_project, alpha):  # noqa: F811
    alpha.create_dataset("smoke", ["Say hi", "Say bye"])
    at = ran(new_app("pages/experiments.py").run())
    at.number_input(key="exp_count").set_value(1)
    ran(at.button(key="exp_start").click().run())
    [run] = rows(server_project.engine, BatchRun)
    assert (run.kind, run.status, run.succeeded) == ("experiment", "completed", 2)
    editor = at.data_editor[0]
    assert editor.value["answer"].tolist() == [DEFAULT_ANSWER] * 2
    at.session_state[editor.key] = {"edited_rows": {1: {"vote": "👎 bad", "comment": "too short"}}}
    ran(at.run())  # an edit saves on the next run
    [vote] = rows(server_project.engine, Vote)
    assert (vote.value, vote.comment) == (-1, "too short")
    assert at.data_editor[0].value["vote"].tolist()[1] == "👎 bad"
