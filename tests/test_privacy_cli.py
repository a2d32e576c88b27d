"""`python -m bilan_core prune` and `forget` (run in process), and `BILAN_RETENTION_DAYS` at start-up."""

from __future__ import annotations

import pytest

from bilan_core.cli import main
from bilan_core.clock import MS_PER_DAY, now_ms
from bilan_core.errors import ConfigurationError
from bilan_core.server.api_keys import ensure_project
from bilan_core.server.app import create_app
from bilan_core.store.engine import get_engine
from tests.privacy_support import seed_user, stored_text

OLD = now_ms() - 40 * MS_PER_DAY


@pytest.fixture
def database(sqlite_url, monkeypatch):
    """A SQLite BILAN_DATABASE_URL: 2 old and 1 recent local turns, and 2 old ones in project alpha."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BILAN_TELEMETRY", "false")
    engine = get_engine(sqlite_url)
    alpha = ensure_project(engine, name="alpha").id
    assert alpha is not None
    seed_user(engine, user_id="ann", tag="OLDLOCAL", at_ms=OLD, turns=2)
    seed_user(engine, user_id="ann", tag="RECENT", at_ms=now_ms() - MS_PER_DAY, turns=1)
    seed_user(engine, user_id="ann", tag="OLDALPHA", at_ms=OLD, turns=2, project_id=alpha)
    return engine


def test_prune_dry_run_then_one_project_then_everything(database, capsys) -> None:
    assert main(["prune", "--days", "30", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete" in out and "nothing was deleted" in out and "  turns: 4" in out
    assert b"OLDLOCAL" in stored_text(database)

    assert main(["prune", "--days", "30", "--project", "alpha"]) == 0
    assert "  turns: 2" in capsys.readouterr().out
    assert b"OLDALPHA" not in stored_text(database) and b"OLDLOCAL" in stored_text(database)


def test_prune_takes_its_days_from_the_setting(database, capsys, monkeypatch) -> None:
    monkeypatch.setenv("BILAN_RETENTION_DAYS", "30")
    assert main(["prune"]) == 0
    out = capsys.readouterr().out
    assert "(30 days)" in out and "  turns: 4" in out and "outbox" not in out and "dataset" not in out
    found = stored_text(database)
    assert b"OLDLOCAL" not in found and b"OLDALPHA" not in found and b"RECENT" in found


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["prune"], "--days N, or set BILAN_RETENTION_DAYS"),
        (["prune", "--days", "0"], "--days must be a whole number of days from 1 to 36,500"),
        (["prune", "--days", "-3"], "--days must be a whole number of days"),
        (["prune", "--days", "30", "--project", "nope"], "no project is named 'nope'"),
        (["forget", "--user", "  "], "--user must be a non-empty string"),
        (["forget", "--user", "ann", "--project", "nope"], "no project is named 'nope'"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_deleted(database, capsys, arguments, message) -> None:
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
    assert b"OLDLOCAL" in stored_text(database) and b"OLDALPHA" in stored_text(database)


def test_forget_locally_and_in_a_project(database, capsys) -> None:
    assert main(["forget", "--user", "ann"]) == 0
    out = capsys.readouterr().out
    assert "forgot user 'ann'" in out and "  turns: 3" in out and "  outbox events: 0" in out
    found = stored_text(database)
    assert b"OLDLOCAL" not in found and b"RECENT" not in found and b"OLDALPHA" in found
    assert main(["forget", "--user", "ann", "--project", "alpha"]) == 0
    assert "  turns: 2" in capsys.readouterr().out
    assert b"ann" not in stored_text(database)
    assert main(["forget", "--user", "ann"]) == 0
    assert "  turns: 0" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["-7", "0", "ninety", "1.5", "36501"])
def test_a_nonsense_retention_stops_the_server_and_the_commands_at_start(value, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BILAN_RETENTION_DAYS", value)
    with pytest.raises(ConfigurationError, match="BILAN_RETENTION_DAYS"):
        create_app()
    assert main(["prune", "--days", "30"]) == 2
    assert "BILAN_RETENTION_DAYS" in capsys.readouterr().err
