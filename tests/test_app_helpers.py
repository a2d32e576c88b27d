"""Helpers the app's AppTest files share (no tests here)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

APP_PATH = Path(__file__).resolve().parent.parent / "app.py"
PAGES = (
    "pages/playground.py",
    "pages/compare.py",
    "pages/batch.py",
    "pages/analytics.py",
    "pages/settings.py",
)


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
