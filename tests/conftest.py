"""Shared fixtures: an isolated environment per test, temporary SQLite files, a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from bilan_core.client.bilan import Bilan
from bilan_core.settings import load_settings
from bilan_core.store.engine import dispose_engines
from tests.postgres_support import POSTGRES_ADMIN_DSN, fresh_postgres_database

pytest_plugins = ["tests.fixtures.openai_server", "tests.fixtures.bilan_server", "tests.app_support"]

ISOLATED_VARIABLES = (
    "BILAN_MODE",
    "BILAN_API_KEY",
    "BILAN_ENDPOINT",
    "USER_ID",
    "BILAN_TELEMETRY",
    "BILAN_TELEMETRY_ENDPOINT",
    "DO_NOT_TRACK",
    "BILAN_DATABASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "BILAN_DEFAULT_MODEL",
    "BILAN_MODELS",
    "BILAN_APP_PASSWORD",
    "BILAN_OUTBOX_PATH",
    "BILAN_BATCH_SIZE",
    "BILAN_BATCH_INTERVAL",
    "BILAN_RATE_LIMIT",
    "BILAN_RATE_LIMIT_BURST",
    "BILAN_REDIS_URL",
    "BILAN_MAX_BODY_BYTES",
    "BILAN_PRICES",
    "BILAN_BATCH_MAX_FILE_BYTES",
    "BILAN_BATCH_CONCURRENCY",
    "BILAN_LEADERBOARD_MIN_VOTES",
    "BILAN_ROUTE_STRONG_MODEL",
    "BILAN_ROUTE_THRESHOLD",
    "BILAN_ROUTE_WINDOW_DAYS",
    "BILAN_ROUTE_MIN_VOTES",
    "BILAN_RETENTION_DAYS",
    "BILAN_CAPTURE",
    "BILAN_REDACT_PATTERNS",
    "BILAN_CAPTURE_KEY",
)


POSTGRES_FIXTURES = frozenset({"postgres_url"})
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches PostgreSQL (directly or through a fixture built on it) ``postgres``,
    and every test in ``tests/browser`` ``browser``.

    So ``-m "not postgres and not browser"`` never runs one by accident, even when its marker is forgotten.
    """
    for item in items:
        uses_postgres = POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_postgres and not item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.postgres)
        if BROWSER_TESTS in item.path.parents and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test sees the developer's settings, keys or database; the data folder is temporary."""
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "bilan-data"
    monkeypatch.setenv("BILAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BILAN_DEMO_STREAM_DELAY", "0")  # the demo model streams at full speed in tests
    monkeypatch.chdir(tmp_path)
    yield data_dir
    dispose_engines()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a new SQLite file in the test's folder."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def bilan(sqlite_url: str) -> Bilan:
    """A local client for user ``alice`` on a fresh SQLite file, answered by the demo model."""
    return Bilan(load_settings(database_url=sqlite_url, user_id="alice"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL for a new, empty PostgreSQL database, dropped after the test. Never skipped."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(fresh_postgres_database("bilan_test"))
        except psycopg.OperationalError as exc:
            where = f"{POSTGRES_ADMIN_DSN!r} (tests/run.sh starts it)"
            pytest.fail(f"PostgreSQL is not reachable at {where}: {exc}")
        yield url
