"""The README says how to open the app, how the tests run, and links screenshots that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_names_the_address_and_says_no_browser_opens():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "headless = true" in config
    assert "http://localhost:8501" in README
    assert "no browser opens" in README


def test_the_readme_says_the_suite_runs_on_two_workers():
    assert "one test at a time" not in README
    assert "-n 2" in (ROOT / "tests" / "run.sh").read_text()
    assert "two worker processes" in README


def test_the_readme_links_the_screenshots_folder_and_every_image_exists():
    assert "](docs/screenshots/)" in README
    images = re.findall(r"\]\((docs/screenshots/[\w-]+\.png)\)", README)
    assert images and all((ROOT / image).is_file() for image in images)
    shots = {path.stem for path in (ROOT / "docs" / "screenshots").glob("*.png")}
    pages = {"playground", "compare", "batch", "prompts", "experiments", "analytics", "review", "settings"}
    assert pages | {"review-card", "review-board"} <= shots


def test_the_readme_says_ownership_is_an_honour_system():
    assert "honour system" in README
