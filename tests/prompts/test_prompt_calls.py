"""create_prompt, get_prompt, set_prompt_label, list_prompts and prompt_versions, in both modes.

The same scenario runs on a local SQLite file and against a real server (uvicorn on PostgreSQL) in a
key's project; server mode also serves a cached version while the server is down.
"""

from __future__ import annotations

import time

import pytest

import bilan_core as bilan
from bilan_core import Bilan, PromptNotFoundError, PromptTemplateError, load_settings
from bilan_core.remote.connection import ServerRequestError
from bilan_core.server.api_keys import create_key
from tests.fixtures.bilan_server import LiveServer, ServerProject
from tests.helpers import server_client

SUPPORT = [
    {"role": "system", "content": "You answer for {{company}}."},
    {"role": "user", "content": "{{question}}"},
]


def scenario(client: Bilan) -> None:
    first = client.create_prompt(
        "support", SUPPORT, params={"temperature": 0}, labels=["production"], note="first"
    )
    assert (first.version, first.labels, first.author) == (1, ("latest", "production"), client.user_id)
    second = client.create_prompt(
        "support", "Be brief for {{company}}.", model="bilan-demo", labels=["staging"]
    )
    assert second.version == 2 and second.messages[0].role == "system"
    assert client.get_prompt("support").version == 1  # production by default
    assert client.get_prompt("support", label="latest").version == 2
    assert client.get_prompt("support", version=1).note == "first"
    assert client.get_prompt("support").compile(company="ACME", question="Hi?")[1] == {
        "role": "user",
        "content": "Hi?",
    }
    promoted = client.set_prompt_label("support", 2, "production")
    assert promoted.labels == ("latest", "production", "staging")
    assert client.get_prompt("support", label="production").version == 2
    rolled_back = client.set_prompt_label("support", 1, "production")
    assert rolled_back.labels == ("production",)
    assert [v.version for v in client.prompt_versions("support")] == [2, 1]
    [summary] = client.list_prompts()
    assert (summary.name, summary.latest_version, summary.labels) == (
        "support",
        2,
        {"latest": 2, "production": 1, "staging": 2},
    )


def refusals(client: Bilan) -> None:
    with pytest.raises(PromptNotFoundError, match=r"no prompt named 'nope'; the prompts are: 'support'"):
        client.get_prompt("nope")
    with pytest.raises(PromptNotFoundError, match=r"no version labelled 'canary'; its labels: latest \(v2\)"):
        client.get_prompt("support", label="canary")
    with pytest.raises(PromptNotFoundError, match="has no version 9; its versions are 1 to 2"):
        client.set_prompt_label("support", 9, "production")
    with pytest.raises(PromptTemplateError, match="unclosed placeholder"):
        client.create_prompt("support", "Hello {{name")
    with pytest.raises(ValueError, match="not both"):
        client.get_prompt("support", label="production", version=1)
    with pytest.raises(ValueError, match="'latest' always points"):
        client.set_prompt_label("support", 1, "latest")
    assert client.list_prompts()[0].versions == 2  # nothing was stored by the refused calls


def test_prompts_in_local_mode(bilan: Bilan) -> None:
    scenario(bilan)
    refusals(bilan)


def test_prompts_in_server_mode_live_in_the_keys_project(
    server_project: ServerProject, live_server: LiveServer
) -> None:
    client = server_client(server_project.key, live_server.url)
    try:
        scenario(client)
        refusals(client)
        other = server_client(create_key(server_project.engine, project="beta").key, live_server.url)
        with pytest.raises(PromptNotFoundError, match="no prompt has been created yet"):
            other.get_prompt("support")
        other.close()
    finally:
        client.close()


def test_the_module_functions_use_the_default_client(sqlite_url: str) -> None:
    bilan.init(database_url=sqlite_url, user_id="ana", telemetry=False)
    try:
        bilan.create_prompt("greeting", "Say hi to {{name}}.", labels=["production"])
        assert bilan.get_prompt("greeting").compile(name="Bo") == [
            {"role": "system", "content": "Say hi to Bo."}
        ]
        assert bilan.set_prompt_label("greeting", 1, "staging").labels == ("latest", "production", "staging")
        assert [p.name for p in bilan.list_prompts()] == ["greeting"]
        assert [v.version for v in bilan.prompt_versions("greeting")] == [1]
    finally:
        bilan.close()


def test_get_prompt_is_cached_and_served_while_the_server_is_down(
    server_project: ServerProject, live_server: LiveServer
) -> None:
    client = server_client(server_project.key, live_server.url, prompt_cache_seconds=0.2)
    writer = server_client(server_project.key, live_server.url)
    try:
        writer.create_prompt("support", "v1", labels=["production"])
        assert client.get_prompt("support").version == 1
        writer.create_prompt("support", "v2", labels=["production"])
        assert client.get_prompt("support").version == 1  # fresh in the cache
        time.sleep(0.25)
        assert client.get_prompt("support").version == 2  # stale: read again
        live_server.stop()
        time.sleep(0.25)
        assert client.get_prompt("support").version == 2  # the server is down: the last one read
        with pytest.raises(ServerRequestError, match="did not answer"):
            client.get_prompt("support", label="staging")  # never read, nothing to fall back on
        live_server.start()
    finally:
        client.close()
        writer.close()


def test_the_cache_setting_is_checked() -> None:
    with pytest.raises(bilan.ConfigurationError, match="BILAN_PROMPT_CACHE_SECONDS"):
        load_settings(prompt_cache_seconds=-1)
