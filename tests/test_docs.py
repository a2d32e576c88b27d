"""The docs stay in step with the code: every setting, command, option, endpoint and table is documented,
the README's two set-up commands are the ones that work, and every Python example runs."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from bilan_core.cli import build_parser
from bilan_core.server.app import create_app
from bilan_core.settings import BilanSettings, load_settings
from bilan_core.store import dataset_models, models, rollup_tables  # noqa: F401  (registers the tables)
from bilan_core.store import prompts as prompt_tables  # noqa: F401  (registers the tables)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
INSTALL_AND_RUN = "python3 -m pip install -r requirements.txt && python3 -m streamlit run app.py"
TEST_COMMAND = "bash tests/run.sh"
EXAMPLE_FILES = (README, DOCS / "guide.md")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def setting_names() -> list[str]:
    return sorted(str(field.validation_alias) for field in BilanSettings.model_fields.values())


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the parser (``("keys", "create")``…), depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from commands(sub, (*path, name))


def subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def arguments(parser: argparse.ArgumentParser) -> list[str]:
    """How each argument of one command is written in the docs: ``--option`` or ``POSITIONAL``."""
    written = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        written.append(action.option_strings[0] if action.option_strings else action.dest.upper())
    return written


def cli_section(path: tuple[str, ...]) -> str:
    """The part of docs/cli.md under the heading of one command, up to the next heading."""
    heading = re.escape(f"`python -m bilan_core {' '.join(path)}`")
    pattern = rf"^#+ {heading}\n(.*?)(?=^#|\Z)"
    found = re.search(pattern, text(DOCS / "cli.md"), flags=re.MULTILINE | re.DOTALL)
    assert found, f"docs/cli.md has no heading for `python -m bilan_core {' '.join(path)}`"
    return found.group(1)


def test_every_setting_is_in_docs_settings() -> None:
    documented = text(DOCS / "settings.md")
    missing = [name for name in setting_names() if f"| `{name}` |" not in documented]
    assert not missing, f"settings missing from the table in docs/settings.md: {missing}"


@pytest.mark.parametrize("path", list(commands(build_parser())), ids=" ".join)
def test_every_command_and_option_is_in_docs_cli(path: tuple[str, ...]) -> None:
    section = cli_section(path)
    missing = [argument for argument in arguments(subparser(path)) if f"`{argument}" not in section]
    assert not missing, f"docs/cli.md does not document {missing} of `{' '.join(path)}`"


def test_every_server_route_is_in_docs_server(tmp_path: Path) -> None:
    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'server.db'}"))
    documented = text(DOCS / "server.md")
    paths = app.openapi()["paths"]
    routes = [f"{method.upper()} {path}" for path, operations in paths.items() for method in operations]
    assert len(routes) > 20, "the server lost its routes"
    missing = [route for route in routes if f"`{route}`" not in documented]
    assert not missing, f"routes missing from docs/server.md: {missing}"


def test_every_table_is_in_docs_data_model() -> None:
    documented = text(DOCS / "data-model.md")
    missing = [name for name in SQLModel.metadata.tables if f"`{name}`" not in documented]
    assert not missing, f"tables missing from docs/data-model.md: {missing}"


def test_the_readme_gives_the_two_set_up_commands_that_work() -> None:
    readme = text(README)
    assert f"```bash\n{INSTALL_AND_RUN}\n```" in readme
    assert f"```bash\n{TEST_COMMAND}\n```" in readme
    assert "http://localhost:8501" in readme
    # The install command installs what the app imports, and the app it starts is there.
    assert (ROOT / "app.py").is_file()
    runtime = text(ROOT / "requirements.txt")
    for package in ("streamlit", "openai", "sqlmodel"):
        assert re.search(rf"^{package}\b", runtime, flags=re.MULTILINE), f"requirements.txt lacks {package}"
    assert "port" not in text(ROOT / ".streamlit" / "config.toml"), "the app would not be on port 8501"
    # The test command installs the dev requirements (which include the runtime ones) and runs every check.
    assert "-r requirements.txt" in text(ROOT / "requirements-dev.txt")
    run = text(ROOT / "tests" / "run.sh")
    for step in ("-r requirements-dev.txt", "python3 -m ruff check .", "python3 -m mypy", "lint-imports"):
        assert step in run, f"tests/run.sh no longer runs {step!r}"
    assert "python3 -m pytest" in run
    assert TEST_COMMAND in text(ROOT / ".ci" / "run"), "CI does not run the README's test command"


def test_the_readme_documents_the_fast_test_path() -> None:
    assert 'python3 -m pytest -m "not postgres and not browser"' in text(README)


def test_the_readme_stays_short() -> None:
    assert len(text(README).splitlines()) < 200, "reference material belongs in docs/"


def test_every_relative_link_in_the_docs_points_to_a_file() -> None:
    broken = []
    for page in (README, *sorted(DOCS.glob("*.md"))):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text(page)):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, f"links to missing files: {broken}"


@pytest.mark.parametrize("page", EXAMPLE_FILES, ids=lambda page: page.name)
def test_the_python_examples_run_against_an_openai_compatible_server(page, openai_server, tmp_path) -> None:
    """Every ```python block of the page, in order, as one script, against the loopback server."""
    blocks = re.findall(r"```python\n(.*?)```", text(page), flags=re.DOTALL)
    assert blocks, f"{page.name} lost its examples"
    env = {
        **os.environ,
        "OPENAI_BASE_URL": openai_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "BILAN_DATA_DIR": str(tmp_path),
        "BILAN_TELEMETRY": "false",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "bilan.db").exists()
    if page == README:
        assert run.stdout.strip(), "the README's example prints the trust score"
