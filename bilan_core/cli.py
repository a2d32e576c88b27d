"""``python -m bilan_core``: the command line. Each feature module adds its own subcommands.

A command's module is imported only when that command runs (or for ``--help``), so a command starts
without loading what the others need (pandas, FastAPI, the chat client).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import cast

from bilan_core.errors import BilanError

# Each command, and the ``module:function`` that adds its parser (one function may add several).
COMMANDS: dict[str, str] = {
    "stats": "bilan_core.cli:add_stats_command",
    "migrate": "bilan_core.cli:add_migrate_command",
    "serve": "bilan_core.server.cli:add_server_commands",
    "keys": "bilan_core.server.cli:add_server_commands",
    "batch": "bilan_core.experiments.batch_runs:add_batch_command",
    "experiment": "bilan_core.experiments.experiment_cli:add_experiment_command",
    "demo-data": "bilan_core.store.demo_data:add_demo_data_command",
    "rebuild-rollups": "bilan_core.store.rollup_rebuild:add_rebuild_rollups_command",
    "export": "bilan_core.analytics.exports:add_export_command",
    "prompts": "bilan_core.client.prompt_cli:add_prompts_command",
    "review": "bilan_core.client.review_cli:add_review_command",
    "prune": "bilan_core.client.privacy_commands:add_privacy_commands",
    "forget": "bilan_core.client.privacy_commands:add_privacy_commands",
}


def add_stats_command(commands: argparse._SubParsersAction) -> None:
    """``stats``: the trust figures, with the same filters as ``get_stats``."""
    parser = commands.add_parser("stats", help="print trust statistics as JSON")
    parser.add_argument("--model")
    parser.add_argument("--user-id")
    parser.add_argument("--since", type=int, help="epoch milliseconds")
    parser.add_argument("--conversation-id")
    parser.add_argument("--variant")
    parser.add_argument("--team-session")
    parser.add_argument("--prompt-name", help="only answers made with this stored prompt")
    parser.add_argument("--prompt-version", type=int, help="only this version of --prompt-name")
    parser.set_defaults(run=_run_stats)


def _run_stats(args: argparse.Namespace) -> int:
    from bilan_core.analytics.stats import StatsFilters
    from bilan_core.client.bilan import Bilan

    filters = {name: getattr(args, name) for name in StatsFilters.__annotations__}
    stats = Bilan().get_stats(**cast(StatsFilters, filters))
    print(json.dumps(stats.model_dump(), indent=2, ensure_ascii=False))
    return 0


def add_migrate_command(commands: argparse._SubParsersAction) -> None:
    """``migrate``: bring the database schema to the newest version."""
    parser = commands.add_parser("migrate", help="upgrade the database schema")
    parser.set_defaults(run=_run_migrate)


def _run_migrate(_args: argparse.Namespace) -> int:
    from bilan_core.settings import load_settings
    from bilan_core.store.engine import get_engine, head_revision, schema_version

    engine = get_engine(load_settings().database_url)
    print(f"database schema at {schema_version(engine)} (newest: {head_revision()})")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand, or with only ``command``'s when it is a known one."""
    parser = argparse.ArgumentParser(prog="python -m bilan_core", description="Bilan for Python")
    commands = parser.add_subparsers(dest="command", required=True)
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for target in wanted:
        module, function = target.split(":")
        getattr(importlib.import_module(module), function)(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are printed as one clear line and exit code 2."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    first = next((word for word in arguments if not word.startswith("-")), None)
    args = build_parser(first).parse_args(arguments)
    try:
        return int(args.run(args))
    except (BilanError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
