"""``python -m bilan_core``: the core commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bilan_core import Bilan, load_settings
from bilan_core.store.engine import head_revision
from tests.helpers import add_turn

PROJECT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BILAN_DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT)}
    return subprocess.run(
        [sys.executable, "-m", "bilan_core", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_stats_prints_the_trust_figures_as_json_with_filters(sqlite_url: str) -> None:
    client = Bilan(load_settings(database_url=sqlite_url, user_id="alice"))
    client.vote(add_turn(client.engine, model="gpt-4o"), 1, "good")
    client.vote(add_turn(client.engine, model="gpt-4o-mini"), -1)
    everything = json.loads(run_cli("stats", database_url=sqlite_url).stdout)
    assert (everything["total_votes"], everything["positive_votes"]) == (2, 1)
    only_4o = json.loads(run_cli("stats", "--model", "gpt-4o", database_url=sqlite_url).stdout)
    assert (only_4o["total_votes"], only_4o["trust_score"]) == (1, 1.0)
    assert only_4o["top_feedback"][0]["comment"] == "good"


def test_migrate_reports_the_schema_version(sqlite_url: str) -> None:
    result = run_cli("migrate", database_url=sqlite_url)
    assert result.returncode == 0
    head = head_revision()
    assert f"database schema at {head} (newest: {head})" in result.stdout


def test_bad_arguments_get_a_clear_message_and_a_non_zero_exit(sqlite_url: str) -> None:
    result = run_cli("stats", "--since", "yesterday", database_url=sqlite_url)
    assert result.returncode == 2
    assert "invalid int value: 'yesterday'" in result.stderr
    unknown = run_cli("frobnicate", database_url=sqlite_url)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_a_bad_database_url_is_one_clear_line_not_a_traceback() -> None:
    result = run_cli("stats", database_url="nonsense://")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = "postgresql+psycopg://u:secretpw@127.0.0.1:1/x?sslpassword=sslsecret"
    result = run_cli("stats", database_url=url)
    assert result.returncode == 2
    shown = "cannot open the database postgresql+psycopg://u:***@127.0.0.1:1/x?sslpassword=***"
    assert shown in result.stderr
    assert "secretpw" not in result.stderr and "sslsecret" not in result.stderr
