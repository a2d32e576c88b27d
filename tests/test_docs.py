"""The README documents every setting and every command (fails when one is added without docs)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bilan_core.cli import build_parser
from bilan_core.settings import BilanSettings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def setting_names() -> list[str]:
    return [str(field.validation_alias) for field in BilanSettings.model_fields.values()]


def command_names() -> list[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices)


@pytest.mark.parametrize("name", [*setting_names(), "BILAN_DATA_DIR"])
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"`{name}`" in README, f"{name} is a setting but the README does not document it"


@pytest.mark.parametrize("command", command_names())
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"python -m bilan_core {command}" in README, f"the README does not document `{command}`"


def test_the_readme_gives_the_two_set_up_commands_that_ci_runs() -> None:
    assert "python3 -m pip install -r requirements.txt && python3 -m streamlit run app.py" in README
    assert "bash tests/run.sh" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "bash tests/run.sh" in ci


def test_the_readme_python_examples_run_against_an_openai_compatible_server(openai_server, tmp_path) -> None:
    """Every ```python block of the README, in order, as one script, against the loopback server."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert len(blocks) >= 4, "the README lost its examples"
    env = {
        **os.environ,
        "OPENAI_BASE_URL": openai_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "BILAN_DATA_DIR": str(tmp_path),
        "BILAN_TELEMETRY": "false",
        "PYTHONPATH": str(ROOT),
    }
    script = "\n".join(blocks)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip(), "the first example prints the trust score"
    assert (tmp_path / "bilan.db").exists()
