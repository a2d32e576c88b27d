"""API keys and auth on the real server: hashed storage, every 401, revocation, rate limit, CLI."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bilan_core.cli import main
from bilan_core.errors import NotFoundError
from bilan_core.server.api_keys import create_key, list_keys, revoke_key, verify_key
from bilan_core.server.app import create_app
from bilan_core.settings import load_settings
from bilan_core.store.models import ApiKey, Event

pytestmark = pytest.mark.postgres
EVENT = {
    "eventId": "e1",
    "eventType": "custom",
    "timestamp": 1_790_000_000_000,
    "userId": "a",
    "properties": {},
}


def test_keys_are_stored_only_as_sha256_hashes(server_project):
    with Session(server_project.engine) as session:
        [row] = session.exec(select(ApiKey)).all()
    assert row.key_hash == hashlib.sha256(server_project.key.encode()).hexdigest()
    assert server_project.key not in repr(row.model_dump())
    assert server_project.key.startswith(row.prefix) and len(row.prefix) < len(server_project.key) // 2


REFUSED = [
    ({}, "Missing API key"),
    ({"Authorization": ""}, "Missing API key"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "Missing API key"),
    ({"Authorization": "Bearer "}, "Missing API key"),
    ({"Authorization": "Bearer bilan_00000000_nope"}, "Invalid API key"),
    ({"Authorization": "Bearer x"}, "Invalid API key"),
]
ENDPOINTS = [
    ("POST", "/api/events"),
    ("GET", "/api/stats"),
    ("GET", "/api/stats/prompts/t1"),
    ("GET", "/api/events"),
    ("GET", "/api/overview"),
]


def test_every_endpoint_refuses_a_missing_or_wrong_key(server_project):
    for method, path in ENDPOINTS:
        for headers, message in REFUSED:
            body = [EVENT] if method == "POST" else None
            reply = server_project.client.request(method, path, headers=headers, json=body)
            assert (reply.status_code, reply.json()) == (401, {"error": message}), (method, path, headers)
    with Session(server_project.engine) as session:
        assert session.exec(select(Event)).all() == []


def test_a_key_with_the_right_prefix_but_wrong_secret_is_invalid(server_project):
    forged = server_project.key[:-4] + "AAAA"
    assert verify_key(server_project.engine, key=forged) is None
    assert server_project.post([EVENT], key=forged).json() == {"error": "Invalid API key"}


def test_revoked_key_is_refused_and_others_still_work(server_project):
    second = create_key(server_project.engine, project="alpha")
    assert server_project.post([EVENT], key=second.key).status_code == 200
    revoked = revoke_key(server_project.engine, key_id=second.id)
    assert revoked.revoked_ms is not None
    assert server_project.post([EVENT], key=second.key).json() == {"error": "Invalid API key"}
    assert server_project.post([EVENT]).status_code == 200
    with pytest.raises(NotFoundError, match="no API key has id 999"):
        revoke_key(server_project.engine, key_id=999)


def test_health_needs_no_key(server_project):
    assert server_project.client.get("/health").json()["status"] == "ok"


def test_rate_limit_answers_429_with_retry_after(postgres_url):
    app = create_app(load_settings(database_url=postgres_url, rate_limit=1, rate_limit_burst=3))
    key = create_key(app.state.engine, project="p").key
    other = create_key(app.state.engine, project="p").key
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        statuses = [client.get("/api/overview", headers=headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/api/overview", headers=headers)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert "Too many requests" in refused.json()["error"]
        # the limit is per key
        assert client.get("/api/overview", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_keys_cli_create_list_revoke(postgres_url, monkeypatch, capsys):
    monkeypatch.setenv("BILAN_DATABASE_URL", postgres_url)
    assert main(["keys", "create", "--project", "shop"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("bilan_")
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert '"project": "shop"' in listed and key not in listed and key[:14] in listed
    [info] = list_keys_of(postgres_url)
    assert main(["keys", "revoke", str(info.id)]) == 0
    assert "revoked key" in capsys.readouterr().out
    assert main(["keys", "revoke", "12345"]) == 2
    assert "no API key has id 12345" in capsys.readouterr().err
    assert main(["keys", "create", "--project", "   "]) == 2
    assert "project name must be a non-empty string" in capsys.readouterr().err


def list_keys_of(url: str):
    from bilan_core.store.engine import get_engine

    return list_keys(get_engine(url))
