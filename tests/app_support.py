"""What the AppTest files share: a fresh app, its caches, and the app on the loopback model (a fixture)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from sqlmodel import Session, select
from streamlit.components.v2 import manifest_scanner
from streamlit.testing.v1 import AppTest

from bilan_core.store.engine import get_engine
from tests.fixtures.openai_server import FakeOpenAIServer

APP_PATH = Path(__file__).resolve().parent.parent / "app.py"
PAGES = (
    "pages/playground.py",
    "pages/compare.py",
    "pages/batch.py",
    "pages/prompts.py",
    "pages/analytics.py",
    "pages/settings.py",
)


@functools.cache
def _installed_component_manifests() -> tuple[tuple[object, Path], ...]:
    return tuple(_scan_component_manifests())


# Every AppTest scans all installed packages for Streamlit components (~0.5 s each, over a hundred AppTests);
# the installed packages do not change during a test session, so scan once. A Streamlit that moves this
# function fails here, loudly, at import.
_scan_component_manifests = manifest_scanner.scan_component_manifests
manifest_scanner.scan_component_manifests = lambda max_workers=None: list(_installed_component_manifests())


def clear_app_caches() -> None:
    """Forget the cached client and model list, so the next run reads the test's settings."""
    st.cache_resource.clear()
    st.cache_data.clear()


def new_app(page: str | None = None) -> AppTest:
    """The whole app (router, sidebar, pages), opened at ``page`` (the Playground by default)."""
    at = AppTest.from_file(str(APP_PATH), default_timeout=30)
    if page and page != PAGES[0]:
        at.switch_page(page)
    return at


@pytest.fixture
def app_env(
    sqlite_url: str, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The app on a fresh SQLite file, its model calls going to the loopback server through the real SDK."""
    monkeypatch.setenv("BILAN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")
    monkeypatch.setenv("BILAN_MAX_RETRIES", "0")
    clear_app_caches()
    yield get_engine(sqlite_url)
    clear_app_caches()


def rows(engine: Engine, table: type) -> list:
    """Every row of a table."""
    with Session(engine) as session:
        return list(session.exec(select(table)).all())
